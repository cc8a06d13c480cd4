"""Workspace-level objects: app, admins, teams, tags, segments, and the data-attribute catalogue.

The custom attribute definitions (``CONTACT_CUSTOM``, ``COMPANY_CUSTOM``, ``CONVERSATION_CUSTOM``)
are the single source for three things: the values the generator writes into records, the
``data_attribute`` records served by GET /data_attributes, and the ground-truth category of each
``custom_attributes.<name>`` path.
"""

from __future__ import annotations

from typing import Any

from intercom_pipeline.emulator.generator.base import DAY, Ctx
from intercom_pipeline.emulator.generator.text import pick, rint

# (name, data_type, PII category or None, label, description)
CONTACT_CUSTOM: tuple[tuple[str, str, str | None, str, str], ...] = (
    ("plan_tier", "string", None, "Plan tier", "Subscription tier the person is on"),
    ("seats", "integer", None, "Seats", "Seats the person manages"),
    ("nps_score", "integer", None, "NPS score", "Last Net Promoter Score answer (0-10)"),
    ("lifetime_value", "float", None, "Lifetime value", "Revenue from this person in EUR"),
    ("is_beta", "boolean", None, "Beta tester", "Opted into beta features"),
    ("trial_ends_at", "date", None, "Trial ends", "End of the free trial"),
    ("date_of_birth", "date", "date_of_birth", "Date of birth", "Collected for age verification"),
    ("national_id", "string", "government_id", "National ID", "Government id given at KYC"),
    ("backup_phone", "string", "phone", "Backup phone", "Second phone number"),
    ("payment_card", "string", "payment_card", "Card on file", "Card number pasted by support (legacy)"),
    ("home_address", "string", "postal_address", "Home address", "Shipping / home address"),
    ("last_ip", "string", "ip_address", "Last IP", "IP address of the last login"),
    ("twitter_handle", "string", "url_or_handle", "Twitter", "Twitter / X handle"),
    ("personal_website", "string", "url_or_handle", "Website", "Personal website or portfolio"),
    ("account_notes", "string", "free_text_pii", "Notes", "Free-text notes from the CRM sync"),
)
COMPANY_CUSTOM: tuple[tuple[str, str, str | None, str, str], ...] = (
    ("tier", "string", None, "Tier", "Account tier"),
    ("seats_purchased", "integer", None, "Seats purchased", "Licensed seats"),
    ("arr", "float", None, "ARR", "Annual recurring revenue in EUR"),
    ("is_enterprise", "boolean", None, "Enterprise", "Enterprise contract"),
    ("renewal_date", "date", None, "Renewal date", "Contract renewal"),
    ("billing_email", "string", "email", "Billing email", "Where invoices go"),
    ("billing_contact", "string", "person_name", "Billing contact", "Person responsible for invoices"),
    ("billing_address", "string", "postal_address", "Billing address", "Invoice address"),
    ("account_notes", "string", "free_text_pii", "Account notes", "Free-text notes from the CRM sync"),
)
CONVERSATION_CUSTOM: tuple[tuple[str, str, str | None, str, str], ...] = (
    ("order_number", "string", None, "Order number", "Order the conversation is about"),
    ("issue_type", "string", None, "Issue type", "Support taxonomy"),
    ("refund_amount", "float", None, "Refund amount", "Refund granted in EUR"),
    ("escalated", "boolean", None, "Escalated", "Escalated to tier 2"),
    ("attempts", "integer", None, "Contact attempts", "How often we tried to reach the customer"),
    ("follow_up_date", "date", None, "Follow-up date", "When to follow up"),
    ("callback_phone", "string", "phone", "Callback phone", "Number the customer asked us to call"),
)
PLAN_TIERS = ("free", "starter", "pro", "business", "enterprise")
TAG_NAMES = ("VIP", "churn-risk", "beta", "newsletter", "enterprise-lead", "partner", "needs-follow-up",
             "gdpr-request", "reseller", "trial", "priority-support", "event-attendee", "do-not-contact",
             "upsell", "migrated", "invoice-issue", "power-user", "webinar", "referral", "bug-reporter")
SEGMENTS = (("Active", "user"), ("New", "user"), ("Slipping away", "user"), ("All leads", "contact"),
            ("Enterprise admins", "user"), ("EU customers", "user"), ("Trialists", "user"),
            ("Unengaged leads", "contact"))
JOB_TITLES = ("Support Engineer", "Customer Success Manager", "Support Team Lead", "Billing Specialist",
              "Account Executive", "Head of Support", "Technical Support Engineer", "Onboarding Specialist")
TEAMS = ("Support", "Billing", "Sales", "Success", "Engineering escalations")


def build_app(ctx: Ctx) -> dict[str, Any]:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    ctx.app_id = "".join(pick(ctx.rng, alphabet) for _ in range(8))
    return {"type": "app", "id_code": ctx.app_id, "name": f"{pick(ctx.rng, ctx.pools.companies)} (fake)",
            "created_at": ctx.now - 900 * DAY, "secure": False, "identity_verification": False,
            "timezone": ctx.timezone, "region": "US"}


def build_admins(ctx: Ctx, n: int, n_teams: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``n`` admins (numeric string ids) and the teams they belong to (integer ids in lists)."""
    admins: list[dict[str, Any]] = []
    team_ids = [ctx.next_num("team", 5_017_691) for _ in range(n_teams)]
    for _ in range(n):
        aid = ctx.next_num("admin", 991_267_459)
        p = ctx.person(domain="support-desk.example")
        member = sorted(ctx.rng.sample(team_ids, rint(ctx.rng, 0, 2)))
        admins.append({
            "type": "admin", "email": p.email, "id": str(aid), "name": p.name,
            "job_title": pick(ctx.rng, JOB_TITLES), "away_mode_enabled": ctx.rng.random() < 0.1,
            "away_mode_reassign": False, "has_inbox_seat": ctx.rng.random() < 0.9, "team_ids": member,
            "avatar": {"type": "avatar", "image_url": f"https://static.intercomassets.com/avatars/{aid}/square_128/photo.jpg"},
        })
    teams = []
    for tid, name in zip(team_ids, TEAMS, strict=False):
        members = [int(a["id"]) for a in admins if tid in a["team_ids"]]
        teams.append({"type": "team", "id": str(tid), "name": name, "admin_ids": members,
                      "admin_priority_level": {"primary_admin_ids": members[:1], "secondary_admin_ids": members[1:]}})
    return admins, teams


def build_me(app: dict[str, Any], admin: dict[str, Any]) -> dict[str, Any]:
    return {"type": "admin", "id": admin["id"], "email": admin["email"], "name": admin["name"],
            "email_verified": True, "app": app, "avatar": admin["avatar"], "has_inbox_seat": True}


def build_tags(ctx: Ctx, n: int) -> list[dict[str, Any]]:
    tags = []
    for i in range(n):
        name = TAG_NAMES[i] if i < len(TAG_NAMES) else f"campaign-{pick(ctx.rng, ctx.pools.words)}-{i}"
        tags.append({"type": "tag", "id": str(ctx.next_num("tag", 102)), "name": name})
    return tags


def build_segments(ctx: Ctx) -> list[dict[str, Any]]:
    out = []
    for name, person_type in SEGMENTS:
        created = ctx.past(300, min_age=30 * DAY)
        out.append({"type": "segment", "id": ctx.hex_id(created), "name": name, "created_at": created,
                    "updated_at": ctx.between(created), "person_type": person_type})
    return out


def segment_members(segment: dict[str, Any], contact: dict[str, Any], now: int, eu_countries: frozenset[str]) -> bool:
    """The rule behind each generated segment (so counts and ``segment_id`` search are coherent)."""
    name, user = segment["name"], contact["role"] == "user"
    seen = contact["last_seen_at"]
    if segment["person_type"] == "contact":
        if name == "All leads":
            return not user
        return not user and seen is None  # Unengaged leads
    if not user:
        return False
    if name == "Active":
        return seen is not None and bool(seen > now - 30 * DAY)
    if name == "New":
        return bool(contact["created_at"] > now - 30 * DAY)
    if name == "Slipping away":
        return seen is not None and bool(now - 90 * DAY < seen <= now - 30 * DAY)
    if name == "Enterprise admins":
        return bool(contact["custom_attributes"].get("plan_tier") == "enterprise")
    if name == "EU customers":
        return contact["location"]["country"] in eu_countries
    return bool(contact["custom_attributes"].get("trial_ends_at", 0) > now)  # Trialists


def _standard(model: str, rows: tuple[tuple[str, str, str, str], ...]) -> list[dict[str, Any]]:
    out = []
    for full_name, data_type, label, description in rows:
        out.append({"type": "data_attribute", "name": full_name.rsplit(".", 1)[-1], "full_name": full_name,
                    "label": label, "description": description, "data_type": data_type,
                    "api_writable": full_name in ("name", "email", "phone", "external_id", "website", "size"),
                    "ui_writable": True, "messenger_writable": model != "conversation", "custom": False,
                    "archived": False, "model": model})
    return out


CONTACT_STANDARD = (
    ("name", "string", "Name", "A person's full name"), ("email", "string", "Email", "A person's email address"),
    ("phone", "string", "Phone", "A person's phone number"), ("external_id", "string", "User ID", "Your id"),
    ("role", "string", "Role", "user or lead"), ("owner_id", "integer", "Owner", "Admin owning the contact"),
    ("created_at", "date", "Created at", "When the contact was created"),
    ("signed_up_at", "date", "Signed up", "When the user signed up"),
    ("updated_at", "date", "Updated at", "Last update"), ("last_seen_at", "date", "Last seen", "Last visit"),
    ("last_contacted_at", "date", "Last contacted", "Last message sent"),
    ("last_replied_at", "date", "Last heard from", "Last message received"),
    ("unsubscribed_from_emails", "boolean", "Unsubscribed", "Email opt-out"),
    ("location.country", "string", "Country", "Country from IP"), ("location.region", "string", "Region", "Region"),
    ("location.city", "string", "City", "City from IP"), ("browser", "string", "Browser", "Browser name"),
    ("os", "string", "OS", "Operating system"), ("language_override", "string", "Language", "Preferred language"),
)
COMPANY_STANDARD = (
    ("name", "string", "Company name", "The name of a company"),
    ("company_id", "string", "Company ID", "A number identifying a company"),
    ("last_request_at", "date", "Company last seen", "The last day anyone from a company visited"),
    ("remote_created_at", "date", "Company created at", "The day a company was added to Intercom"),
    ("user_count", "integer", "People", "The number of people in a company"),
    ("session_count", "integer", "Company web sessions", "All visits from anyone in a company"),
    ("plan.name", "string", "Plan", "A specific plan or level"),
    ("monthly_spend", "float", "Monthly Spend", "The monthly revenue you receive from a company"),
    ("size", "integer", "Company size", "Employees"), ("industry", "string", "Company industry", "Industry"),
    ("website", "string", "Company website", "The web address for the company's primary marketing site"),
)
CONVERSATION_STANDARD = (
    ("created_at", "date", "Created at", "When the conversation started"),
    ("state", "string", "State", "open, closed or snoozed"), ("priority", "string", "Priority", "Priority flag"),
)


def build_data_attributes(ctx: Ctx, admin_ids: list[str]) -> list[dict[str, Any]]:
    out = _standard("contact", CONTACT_STANDARD) + _standard("company", COMPANY_STANDARD)
    out += _standard("conversation", CONVERSATION_STANDARD)
    for model, defs in (("contact", CONTACT_CUSTOM), ("company", COMPANY_CUSTOM),
                        ("conversation", CONVERSATION_CUSTOM)):
        for name, data_type, _cat, label, description in defs:
            created = ctx.past(600, min_age=400 * DAY)
            rec: dict[str, Any] = {
                "id": ctx.next_num("data_attribute", 12_878), "type": "data_attribute", "name": name,
                "full_name": f"custom_attributes.{name}", "label": label, "description": description,
                "data_type": data_type, "api_writable": True, "ui_writable": True,
                "messenger_writable": False, "custom": True, "archived": False,
                "admin_id": pick(ctx.rng, admin_ids), "created_at": created, "updated_at": created,
                "model": model,
            }
            if name in ("plan_tier", "tier"):
                rec["options"] = list(PLAN_TIERS)
            out.append(rec)
    return out
