"""Value pools and realistic free text for the workspace generator.

Faker is called only here, and only to fill small pools once per seed (cached); the generator then
draws from the pools with its own ``random.Random``, which keeps 100,000 contacts fast and the output
byte-identical for one seed. Free text (notes, messages, ticket descriptions) is assembled from
templates that sometimes mention OTHER people — names, emails, phone numbers, addresses — because
discovery has to find personal data hidden in prose.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar

from faker import Faker

T = TypeVar("T")

# (Faker locale, weight, country, ISO code, phone country code, [(region, city), ...])
LOCALES: tuple[tuple[str, int, str, str, str, tuple[tuple[str, str], ...]], ...] = (
    ("en_US", 30, "United States", "US", "1", (("California", "San Francisco"), ("New York", "New York"),
     ("Texas", "Austin"), ("Illinois", "Chicago"), ("Washington", "Seattle"), ("Massachusetts", "Boston"))),
    ("en_GB", 12, "United Kingdom", "GB", "44", (("England", "London"), ("England", "Manchester"),
     ("Scotland", "Edinburgh"), ("Wales", "Cardiff"))),
    ("de_DE", 10, "Germany", "DE", "49", (("Berlin", "Berlin"), ("Bavaria", "Munich"), ("Hamburg", "Hamburg"),
     ("Hesse", "Frankfurt am Main"))),
    ("fr_FR", 8, "France", "FR", "33", (("Île-de-France", "Paris"), ("Auvergne-Rhône-Alpes", "Lyon"),
     ("Occitanie", "Toulouse"))),
    ("es_ES", 7, "Spain", "ES", "34", (("Madrid", "Madrid"), ("Catalonia", "Barcelona"),
     ("Andalusia", "Sevilla"))),
    ("it_IT", 5, "Italy", "IT", "39", (("Lombardy", "Milan"), ("Lazio", "Rome"))),
    ("pl_PL", 5, "Poland", "PL", "48", (("Masovian Voivodeship", "Warsaw"), ("Lesser Poland", "Kraków"),
     ("Lower Silesia", "Wrocław"))),
    ("pt_BR", 6, "Brazil", "BR", "55", (("São Paulo", "São Paulo"), ("Rio de Janeiro", "Rio de Janeiro"))),
    ("nl_NL", 4, "Netherlands", "NL", "31", (("North Holland", "Amsterdam"), ("South Holland", "Rotterdam"))),
    ("da_DK", 3, "Denmark", "DK", "45", (("Capital Region", "Copenhagen"), ("Central Denmark", "Aarhus"))),
    ("sv_SE", 3, "Sweden", "SE", "46", (("Stockholm County", "Stockholm"), ("Västra Götaland", "Gothenburg"))),
    ("ja_JP", 5, "Japan", "JP", "81", (("Tokyo", "Tokyo"), ("Osaka", "Osaka"), ("Kyoto", "Kyoto"))),
    ("ga_IE", 2, "Ireland", "IE", "353", (("Leinster", "Dublin"), ("Munster", "Cork"))),
)

FREE_MAIL = ("gmail.com", "outlook.com", "yahoo.com", "icloud.com", "hotmail.com", "proton.me", "gmx.de",
             "web.de", "orange.fr", "libero.it", "wp.pl", "uol.com.br", "posteo.de", "fastmail.com")
_FOLD = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "Ae", "ß": "ss", "đ": "d",
                       "Đ": "D", "ð": "d", "þ": "th", "œ": "oe", "'": "", " ": "", "-": ""})


@dataclass(frozen=True)
class Pools:
    """Per-locale name pools and shared text pools; every field is an immutable tuple."""

    first: tuple[tuple[str, ...], ...]  # per LOCALES index
    last: tuple[tuple[str, ...], ...]
    ascii_first: tuple[tuple[str, ...], ...]  # ASCII spellings for email local parts, same order
    ascii_last: tuple[tuple[str, ...], ...]
    streets: tuple[tuple[str, ...], ...]  # "street, postcode city" per locale
    companies: tuple[str, ...]
    words: tuple[str, ...]
    sentences: tuple[str, ...]
    locale_cum_weights: tuple[int, ...]


def ascii_fold(text: str) -> str:
    """Latin text to lowercase ASCII for email local parts ("Łukasiewicz" -> "lukasiewicz")."""
    text = text.translate(_FOLD)
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


@lru_cache(maxsize=8)
def build_pools(seed: int) -> Pools:
    """Fill the pools once per seed (Faker seeded explicitly, never the global random)."""
    first, last, afirst, alast, streets = [], [], [], [], []
    for locale, _w, _country, _cc, _ph, places in LOCALES:
        fake = Faker(locale)
        fake.seed_instance(seed)
        fn = tuple(dict.fromkeys(fake.first_name() for _ in range(160)))
        ln = tuple(dict.fromkeys(fake.last_name() for _ in range(160)))
        if locale == "ja_JP":
            af = tuple(fake.first_romanized_name().lower() for _ in fn)
            al = tuple(fake.last_romanized_name().lower() for _ in ln)
        else:
            af = tuple(ascii_fold(x) or "user" for x in fn)
            al = tuple(ascii_fold(x) or "user" for x in ln)
        first.append(fn)
        last.append(ln)
        afirst.append(af)
        alast.append(al)
        streets.append(tuple(_street(fake, places) for _ in range(60)))
    en = Faker("en_US")
    en.seed_instance(seed)
    companies = _company_names(random.Random(seed), last[0] + last[1] + last[2], 1500)
    cum, total = [], 0
    for row in LOCALES:
        total += row[1]
        cum.append(total)
    return Pools(
        first=tuple(first), last=tuple(last), ascii_first=tuple(afirst), ascii_last=tuple(alast),
        streets=tuple(streets), companies=companies,
        words=tuple(dict.fromkeys(en.word() for _ in range(400))),
        sentences=SENTENCES,
        locale_cum_weights=tuple(cum),
    )


COMPANY_SUFFIX = ("Inc", "LLC", "Ltd", "GmbH", "Group", "Labs", "Systems", "Partners", "& Co", "Logistics",
                  "Studio", "Health", "Analytics", "Foods", "Capital", "Software")
COMPANY_WORDS = ("Blue", "North", "Bright", "Silver", "Red", "Green", "Summit", "Harbor", "Pine", "Atlas", "Nova",
                 "Cedar", "Iron", "Lumen", "Orbit", "Maple", "River", "Stone", "Vertex", "Willow")


def _company_names(rng: random.Random, surnames: tuple[str, ...], n: int) -> tuple[str, ...]:
    """Company names in Faker's style (many carry surnames, a realistic trap for name detectors)."""
    out: dict[str, None] = {}
    while len(out) < n:
        style = rng.random()
        a, b, c = rng.choice(surnames), rng.choice(surnames), rng.choice(surnames)
        if style < 0.3:
            name = f"{a} {rng.choice(COMPANY_SUFFIX)}"
        elif style < 0.45:
            name = f"{a}, {b} and {c}"
        elif style < 0.6:
            name = f"{a}-{b}"
        else:
            first, second = rng.sample(COMPANY_WORDS, 2)
            name = f"{first}{second.lower()} {rng.choice(COMPANY_SUFFIX)}"
        out[name] = None
    return tuple(out)


def _street(fake: Faker, places: tuple[tuple[str, str], ...]) -> str:
    if fake.locales[0] == "ja_JP":  # Japanese order: postcode, prefecture, city, block
        return f"〒{fake.zipcode()} {fake.address()}"
    city = places[fake.random_int(0, len(places) - 1)][1]
    return f"{fake.street_address()}, {fake.postcode()} {city}".replace("\n", ", ")


# ---------------------------------------------------------------- fast draws
# random.Random.choice/randint go through _randbelow (several Python calls each); at 100,000 contacts
# these two one-liners on random() are what keeps generation in seconds. Deterministic all the same.

def pick(rng: random.Random, seq: Sequence[T]) -> T:
    return seq[int(rng.random() * len(seq))]


def rint(rng: random.Random, lo: int, hi: int) -> int:
    """Uniform integer in [lo, hi] (inclusive, like randint)."""
    return lo + int(rng.random() * (hi - lo + 1))


# ---------------------------------------------------------------- identifiers that are personal data

def luhn_digit(partial: str) -> str:
    """The Luhn check digit that makes ``partial + digit`` valid."""
    total = 0
    for i, ch in enumerate(reversed(partial)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    digits = [c for c in number if c.isdigit()]
    return len(digits) >= 12 and luhn_digit("".join(digits[:-1])) == digits[-1]


def card_number(rng: random.Random) -> str:
    """A Luhn-valid Visa/Mastercard/Amex number, sometimes grouped with spaces or dashes."""
    kind = rng.random()
    if kind < 0.15:  # Amex, 15 digits
        partial = pick(rng, ("34", "37")) + "".join(pick(rng, "0123456789") for _ in range(12))
        num = partial + luhn_digit(partial)
        return f"{num[:4]} {num[4:10]} {num[10:]}" if rng.random() < 0.5 else num
    prefix = "4" if kind < 0.6 else str(rint(rng, 51, 55))
    partial = prefix + "".join(pick(rng, "0123456789") for _ in range(15 - len(prefix)))
    num = partial + luhn_digit(partial)
    style = rng.random()
    if style < 0.4:
        return num
    sep = " " if style < 0.8 else "-"
    return sep.join(num[i:i + 4] for i in range(0, 16, 4))


def government_id(rng: random.Random, country: str) -> str:
    """An SSN-like (US) or national-id-like number, never a real issued format check."""
    if country == "US":
        return f"{rint(rng, 100, 665):03d}-{rint(rng, 10, 99):02d}-{rint(rng, 1000, 9999):04d}"
    if country == "GB":
        letters = "ABCEGHJKLMNPRSTWXYZ"
        return (f"{pick(rng, letters)}{pick(rng, letters)} {rint(rng, 10, 99)} {rint(rng, 10, 99)} "
                f"{rint(rng, 10, 99)} {pick(rng, 'ABCD')}")
    if country == "ES":
        n = rint(rng, 10_000_000, 99_999_999)
        return f"{n}{'TRWAGMYFPDXBNJZSQVHLCKE'[n % 23]}"
    return f"{country}{rint(rng, 10**9, 10**10 - 1)}"


def ipv4(rng: random.Random) -> str:
    return f"{rint(rng, 11, 223)}.{rint(rng, 0, 255)}.{rint(rng, 0, 255)}.{rint(rng, 1, 254)}"


def ip_address(rng: random.Random) -> str:
    if rng.random() < 0.15:
        return "2a02:" + ":".join(f"{rng.getrandbits(16):x}" for _ in range(7))
    return ipv4(rng)


def phone_number(rng: random.Random, dial: str) -> tuple[str, str]:
    """(as typed, E.164) for a country dial code."""
    national = f"{rint(rng, 2, 9)}{rint(rng, 0, 10**8 - 1):08d}"
    if dial == "1":
        typed = f"+1 ({national[:3]}) {national[3:6]}-{national[6:]}{rint(rng, 0, 9)}"
        national = national + typed[-1]
    else:
        typed = f"+{dial} {national[:3]} {national[3:6]} {national[6:]}"
    return typed, f"+{dial}{national}"


# ---------------------------------------------------------------- free text

# Plain support-desk prose (Faker's lorem reads as noise); no personal data in these on purpose.
SENTENCES = (
    "The export finished but the file was empty.", "It happens on every browser we tried.",
    "We need this working before the board meeting on Friday.", "Nothing changed on our side since last week.",
    "The invoice total does not match the plan price.", "Our team grew, so we need more seats.",
    "The mobile app crashes when I open the inbox.", "Search returns results from last year only.",
    "I followed the help article but the button is greyed out.", "The integration stopped syncing overnight.",
    "We would like to move to annual billing.", "Two-factor codes arrive several minutes late.",
    "The report shows duplicate rows for March.", "Can you extend our trial by two weeks?",
    "Our SSO provider rotated its certificate yesterday.", "The API returns 429 errors during the nightly job.",
    "Notifications go to an old address.", "We are evaluating your product against two competitors.",
    "Please confirm the change in writing.", "Loading the dashboard takes more than a minute.",
    "Scheduled exports now run every hour.", "You can now invite teammates from the settings page.",
    "Reports load twice as fast as before.", "Dark mode follows your system setting.",
    "Webhooks retry failed deliveries for up to a day.", "Audit logs are kept for a year.",
    "Billing admins can download every past invoice.", "Data is hosted in the region you choose.",
    "Single sign-on is available on every paid plan.", "Deleted records are purged after thirty days.",
)

NOTE_PII_TEMPLATES = (
    "<p>Spoke with {first} today. Asked us to copy her colleague {other} ({other_email}) on all "
    "billing emails from now on.</p>",
    "<p>Call with {first}: they are moving office to {address}. New invoices should go there.</p>",
    "<p>{first} mentioned that {other} will take over the account while they are on leave. "
    "Reach {other_first} on {other_phone}.</p>",
    "<p>Escalation: {other} from their finance team called from {other_phone} about a double charge. "
    "Refunded. Confirmation sent to {other_email}.</p>",
    "<p>Met {first} at the conference in {city}. Intro to their CTO {other} pending.</p>",
    "<p>Customer asked to remove {other_email} from the account; {other} left the company.</p>",
    "<p>Verified identity over the phone ({phone}). DOB confirmed. Updated billing contact to "
    "{other} &lt;{other_email}&gt;.</p>",
    "<p>Spoke with {other} (assistant to {first}); best number is {other_phone}, "
    "mornings only.</p>",
)
NOTE_PLAIN_TEMPLATES = (
    "<p>Renewal discussed, moving to the annual plan next quarter.</p>",
    "<p>Asked about SSO support. Shared the roadmap link.</p>",
    "<p>Onboarding call done. Team of {seats} seats, wants the {plan} plan.</p>",
    "<p>Churn risk: usage down 40% this month. Follow up in two weeks.</p>",
    "<p>Feature request: export to CSV from the reports page.</p>",
    "<p>{sentence}</p>",
    "<p>Upgraded to {plan}. No further action.</p>",
)
CONV_OPENERS = (
    "Hi, I can't log in to my account since this morning. My email is {email}.",
    "Hello! Could you change the billing address on my invoices to {address}?",
    "Hi there, I was charged twice this month. Can you check? Card ending {last4}.",
    "Hey, how do I add my colleague {other} ({other_email}) to our workspace?",
    "Good morning, I'd like to cancel my subscription please.",
    "Hi, the export button does nothing in Firefox. {sentence}",
    "Please call me back on {phone}, it's urgent.",
    "Can you delete all my data? My name is {name} and I signed up with {email}.",
    "Is there an API to fetch invoices? {sentence}",
    "My manager {other} asked me to get a copy of our contract.",
)
CONV_ADMIN_REPLIES = (
    "Thanks {first}! I've looked into it and it should be fixed now.",
    "Hi {first}, I've refunded the duplicate charge. You'll see it in 3-5 days.",
    "Happy to help. I've added {other_email} to your workspace.",
    "Could you confirm the last four digits of the card on file?",
    "I've escalated this to our engineering team and will update you shortly.",
    "Done! Anything else I can help with?",
    "I've updated the address to {address}.",
)
CONV_CONTACT_REPLIES = (
    "Thank you, that worked!",
    "Still not working, sorry. {sentence}",
    "Sure, it's {last4}.",
    "Great, thanks a lot.",
    "You can also reach me on {phone}.",
    "Please also send it to {other_email}.",
)
CONV_TITLES = (None, None, None, "Billing question", "Login problem", "Refund request for {name}",
               "Data deletion request", "Address change for {name}", "Export bug")
TICKET_TITLES = ("Export fails for large reports", "Refund for {name}", "Cannot reset password",
                 "Invoice address wrong", "SSO login loop", "Account takeover report from {name}")
TICKET_DESCRIPTIONS = (
    "Customer reports the export times out after 30s. Repro in workspace of {name}.",
    "{name} ({email}) was charged twice; please refund the second charge.",
    "Reset email never arrives at {email}. Checked spam.",
    "Invoices should be addressed to {address}.",
    "Login loops back to the SSO page. {sentence}",
    "Suspicious login from {ip}. Customer can be reached at {phone}.",
)
PROFILE_NOTES = (
    "Prefers email over phone.", "VIP — handle with care.", "Wife {other} also uses the product.",
    "Emergency contact: {other}, {other_phone}.", "Ships to {address}.", "Met at {city} meetup.",
    "Do not call before 10am.", "Referred by {other} ({other_email}).",
)
