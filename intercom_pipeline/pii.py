"""The personal-data categories: one vocabulary for discovery's classifier and the fake's ground truth."""

PII_CATEGORIES = (
    "email",
    "phone",
    "person_name",
    "postal_address",
    "ip_address",
    "geolocation",
    "date_of_birth",
    "payment_card",
    "government_id",
    "url_or_handle",
    "free_text_pii",
)
