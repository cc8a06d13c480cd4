"""Companies, contacts (users and leads) and their company/tag links.

Contacts are built in two passes: ``plan_people`` decides each contact's role, identity and companies
(and plants the identity hard cases), ``build_contact`` turns a plan row into the API record. The
``tags``/``notes``/``companies`` summaries are filled in later by ``generator.py`` once notes exist.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from intercom_pipeline.emulator.generator.base import DAY, Ctx, Person
from intercom_pipeline.emulator.generator.catalog import PLAN_TIERS
from intercom_pipeline.emulator.generator.text import (
    LOCALES,
    PROFILE_NOTES,
    ascii_fold,
    card_number,
    government_id,
    ip_address,
    phone_number,
    pick,
    rint,
)

INDUSTRIES = ("Software", "E-commerce", "Healthcare", "Finance", "Education", "Logistics", "Media",
              "Manufacturing", "Travel", "Non-profit")
BROWSERS = (("chrome", "126.0.6478.127", "Mac OS X"), ("chrome", "125.0.6422.142", "Windows 10"),
            ("firefox", "127.0", "Windows 10"), ("safari", "17.5", "OS X 14.5"), ("edge", "126.0.2592.68", "Windows 11"),
            ("chrome", "126.0.6478.71", "Android 14"), ("safari", "17.4", "iOS 17.4"))
LANG = {"US": "en-US", "GB": "en-GB", "DE": "de-DE", "FR": "fr-FR", "ES": "es-ES", "IT": "it-IT", "PL": "pl",
        "BR": "pt-BR", "NL": "nl", "DK": "da", "SE": "sv-SE", "JP": "ja", "IE": "en-IE"}
MOBILE_APPS = {
    "android": (("app_name", "Acme"), ("app_version", "5.2.1"), ("device", "Pixel 8"), ("os_version", "14"),
                ("sdk_version", "34")),
    "ios": (("app_name", "Acme"), ("app_version", "5.2.0"), ("device", "iPhone 15"), ("os_version", "17.4"),
            ("sdk_version", "17.4")),
}
NON_ASCII = (("Zoë Łukasiewicz-Ærøskøbing", "Zoë", "Łukasiewicz-Ærøskøbing", "zoe.lukasiewicz", 6),
             ("渡辺 さくら", "さくら", "渡辺", "sakura.watanabe", 11))


@dataclass
class PlanRow:
    person: Person
    role: str
    company_idx: list[int] = field(default_factory=list)
    tag_ids: list[str] = field(default_factory=list)


def build_companies(ctx: Ctx, n: int, tags: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """``n`` companies and their email domains (same order)."""
    rng, pools = ctx.rng, ctx.pools
    names = list(pools.companies)
    rng.shuffle(names)
    companies, domains = [], []
    for i in range(n):
        name = names[i % len(names)] if i < len(names) else f"{names[i % len(names)]} {i // len(names) + 1}"
        slug = "".join(ch if ch.isalnum() else "-" for ch in ascii_fold(name.replace(",", ""))).strip("-")
        domain = f"{slug or 'company'}{'' if i < len(names) else i}.com".replace("--", "-")
        created = ctx.past()
        plan = pick(rng, PLAN_TIERS)
        owner = ctx.person(domain=domain)
        ca: dict[str, Any] = {"tier": plan, "seats_purchased": rint(rng, 1, 500)}
        if rng.random() < 0.7:
            ca["arr"] = round(rng.uniform(100, 250_000), 2)
        ca["is_enterprise"] = plan == "enterprise"
        if rng.random() < 0.6:
            ca["renewal_date"] = ctx.utc_midnight(-rint(rng, 1, 360))
        if rng.random() < 0.6:
            ca["billing_email"] = owner.email
            ca["billing_contact"] = owner.name
        if rng.random() < 0.4:
            ca["billing_address"] = ctx.address(owner.locale)
        if rng.random() < 0.2:
            ca["account_notes"] = _fill(ctx, pick(rng, PROFILE_NOTES), owner)
        ctags = rng.sample(tags, pick(rng, (0, 0, 0, 1, 2)))
        companies.append({
            "type": "company", "company_id": f"{pick(rng, ('acc', 'cus', 'org'))}_{10_000 + i}",
            "id": ctx.hex_id(created), "app_id": ctx.app_id, "name": name, "remote_created_at": created - rint(rng, 0, 900) * DAY,
            "created_at": created, "updated_at": ctx.between(created), "last_request_at": ctx.between(created),
            "monthly_spend": pick(rng, (0, 0, 49, 99, 249, 499, 1200, 4800)), "session_count": rint(rng, 0, 5000),
            "user_count": 0, "size": pick(rng, (3, 12, 40, 120, 800, 5000)), "website": f"https://www.{domain}",
            "industry": pick(rng, INDUSTRIES),
            "plan": {"type": "plan", "id": str(269_315 + PLAN_TIERS.index(plan)), "name": plan.title()}
            if rng.random() < 0.8 else {},
            "custom_attributes": ca,
            "tags": {"type": "tag.list", "tags": [{"type": "tag", "id": t["id"], "name": t["name"]} for t in ctags]},
            "segments": {"type": "segment.list", "segments": []},
        })
        domains.append(domain)
    return companies, domains


def plan_people(ctx: Ctx, n: int, domains: list[str], tags: list[dict[str, Any]]) -> tuple[list[PlanRow], dict[str, Any]]:
    """Roles, identities, company and tag links for ``n`` contacts, with identity hard cases planted."""
    rng = ctx.rng
    n_comp = len(domains)
    # Zipf-like weights: a few companies get hundreds of contacts, most get a handful.
    cum, total = [], 0.0
    for i in range(n_comp):
        total += 1.0 / (i + 1) ** 0.9
        cum.append(total)
    tag_ids = [t["id"] for t in tags]
    rows: list[PlanRow] = []
    for _ in range(n):
        role = "user" if rng.random() < 0.7 else "lead"
        r = rng.random()
        k = (1 if r < 0.75 else (2 if r < 0.82 else (3 if r < 0.85 else 0))) if role == "user" else int(r < 0.1)
        comp = sorted(set(rng.choices(range(n_comp), cum_weights=cum, k=k))) if k else []
        domain = domains[comp[0]] if comp and rng.random() < 0.5 else None
        t = rng.random()
        nt = 0 if t < 0.55 else (1 if t < 0.85 else rint(rng, 2, 3))
        rows.append(PlanRow(ctx.person(domain=domain), role, comp, rng.sample(tag_ids, nt) if nt else []))
    return rows, _plant_identities(ctx, rows, n_comp, tag_ids)


def _plant_identities(ctx: Ctx, rows: list[PlanRow], n_comp: int, tag_ids: list[str]) -> dict[str, Any]:
    """Overwrite a few plan rows with the privacy hard cases; returns their row indices."""
    rng = ctx.rng
    if len(rows) < 30:
        raise ValueError(f"contacts: expected at least 30 (room for the hard cases), got {len(rows)}")
    idx = rng.sample(range(len(rows)), 11)
    shared = rows[idx[0]].person
    rows[idx[0]].role, rows[idx[1]].role = "user", "lead"
    rows[idx[1]].person = shared
    es = ctx.person(locale=4)
    domain = es.email.split("@")[1]
    local = f"{ascii_fold(es.first).capitalize()}.{ascii_fold(es.last).capitalize()}"
    cap = f"{local}@{domain}"
    while cap.lower() in ctx.emails and cap.lower() != es.email.lower():  # taken by another contact
        cap = f"{local}{rint(rng, 2, 99)}@{domain}"
    variants = [cap, cap.lower(), cap.upper()]
    for j, email in enumerate(variants):
        ctx.emails.add(email.lower())
        rows[idx[2 + j]].person = Person(es.name, es.first, es.last, email, 4)
        rows[idx[2 + j]].role = "user" if j != 1 else "lead"
    plus = rows[idx[5]].person
    base_local, base_domain = plus.email.split("@")
    plus_email = f"{base_local}+newsletter@{base_domain}"
    ctx.emails.add(plus_email.lower())
    rows[idx[5]].person = Person(plus.name, plus.first, plus.last, plus_email, plus.locale)
    many = rows[idx[6]]
    many.role = "user"
    many.company_idx = sorted(rng.sample(range(n_comp), min(n_comp, 24)))
    many.tag_ids = rng.sample(tag_ids, min(len(tag_ids), 12))
    rows[idx[7]].role = "user"
    for j, (name, first, last, local, loc) in enumerate(NON_ASCII):
        first_part, last_part = local.split(".")
        email = ctx.unique_email(first_part, last_part, domain=rows[idx[8 + j]].person.email.split("@")[1])
        rows[idx[8 + j]].person = Person(name, first, last, email, loc)
        rows[idx[8 + j]].role = "user"  # users always carry their name (leads sometimes have none)
    return {"shared": (idx[0], idx[1]), "case": idx[2:5], "plus": (idx[5], f"{base_local}@{base_domain}"),
            "many": idx[6], "archived": idx[7], "non_ascii": idx[8:10]}


class _Slots(dict):  # type: ignore[type-arg]
    """Template values computed on first use: most templates need two or three of them."""

    def __init__(self, ctx: Ctx, subject: Person) -> None:
        super().__init__()
        self.ctx, self.subject = ctx, subject
        self._other: Person | None = None

    def _o(self) -> Person:
        if self._other is None:
            self._other = self.ctx.person(register=False)
        return self._other

    def __missing__(self, key: str) -> str:
        value: str = getattr(self, f"_k_{key}")()
        self[key] = value
        return value

    def _k_first(self) -> str:
        return self.subject.first

    def _k_name(self) -> str:
        return self.subject.name

    def _k_email(self) -> str:
        return self.subject.email

    def _k_other(self) -> str:
        return self._o().name

    def _k_other_first(self) -> str:
        return self._o().first

    def _k_other_email(self) -> str:
        return self._o().email

    def _k_other_phone(self) -> str:
        return phone_number(self.ctx.rng, LOCALES[self._o().locale][4])[0]

    def _k_phone(self) -> str:
        return phone_number(self.ctx.rng, LOCALES[self.subject.locale][4])[0]

    def _k_address(self) -> str:
        return self.ctx.address(self._o().locale)

    def _k_city(self) -> str:
        return pick(self.ctx.rng, LOCALES[self.subject.locale][5])[1]

    def _k_sentence(self) -> str:
        return pick(self.ctx.rng, self.ctx.pools.sentences)

    def _k_seats(self) -> str:
        return str(rint(self.ctx.rng, 2, 80))

    def _k_plan(self) -> str:
        return pick(self.ctx.rng, PLAN_TIERS)

    def _k_last4(self) -> str:
        return f"{int(self.ctx.rng.random() * 10_000):04d}"

    def _k_ip(self) -> str:
        return ip_address(self.ctx.rng)


def _fill(ctx: Ctx, template: str, subject: Person) -> str:
    """Fill a free-text template with the subject and (lazily) one OTHER invented person."""
    return template.format_map(_Slots(ctx, subject))


def _custom_attributes(ctx: Ctx, p: Person, role: str) -> dict[str, Any]:
    rng = ctx.rng
    r = rng.random
    ca: dict[str, Any] = {}
    if role == "user" and r() < 0.8:
        ca["plan_tier"] = pick(rng, PLAN_TIERS)
    if r() < 0.5:
        ca["seats"] = rint(rng, 1, 250)
    if r() < 0.3:
        ca["nps_score"] = rint(rng, 0, 10)
    if r() < 0.5:
        ca["lifetime_value"] = round(rng.uniform(0, 20_000), 2)
    if r() < 0.6:
        ca["is_beta"] = r() < 0.3
    if r() < 0.3:
        ca["trial_ends_at"] = ctx.utc_midnight(rint(rng, -30, 200))
    if r() < 0.25:  # UTC midnight of a birthday between 1970 and 2006
        ca["date_of_birth"] = rint(rng, 0, 13_148) * DAY
    if r() < 0.08:
        ca["national_id"] = government_id(rng, p.country)
    if r() < 0.15:
        ca["backup_phone"] = phone_number(rng, LOCALES[p.locale][4])[0]
    if r() < 0.05:
        ca["payment_card"] = card_number(rng)
    if r() < 0.2:
        ca["home_address"] = ctx.address(p.locale)
    if r() < 0.5:
        ca["last_ip"] = ip_address(rng)
    if r() < 0.15:
        ca["twitter_handle"] = f"@{p.email.split('@')[0].replace('.', '_')[:15]}"
    if r() < 0.1:
        ca["personal_website"] = f"https://{p.email.split('@')[0].replace('.', '')}.dev"
    if r() < 0.2:
        ca["account_notes"] = _fill(ctx, pick(rng, PROFILE_NOTES), p)
    return ca


def build_contact(ctx: Ctx, row: PlanRow, owner_ids: list[int]) -> dict[str, Any]:
    """The API record of a planned contact. The helpers draw from ``ctx.rng`` in a fixed order (the
    order of the record's keys, after the place and device): a seed always gives the same workspace."""
    p, role = row.person, row.role
    created = ctx.past()
    cid = ctx.hex_id(created)
    place = _place(ctx, p)
    device = _device(ctx, created)
    socials = _social_profiles(ctx, p)
    apps = _mobile_apps(ctx, device)
    return {
        **_identity(ctx, cid, p, role, place, owner_ids, socials),
        **_engagement(ctx, created, role, device),
        "language_override": LANG[place.cc][:2] if ctx.rng.random() < 0.1 else None,
        "browser": device.browser, "browser_version": device.version, "browser_language": LANG[place.cc],
        "os": device.os, "location": place.location,
        **apps,
        "custom_attributes": _custom_attributes(ctx, p, role),
        "tags": None, "notes": None, "companies": None,  # filled by generator.fill_summaries
        "opted_out_subscription_types": _empty_list(cid, "subscriptions"),
        "opted_in_subscription_types": _empty_list(cid, "subscriptions"),
        **_marketing(ctx),
    }


@dataclass(frozen=True)
class _Place:
    cc: str
    phone: str | None
    e164: str | None
    location: dict[str, Any]


@dataclass(frozen=True)
class _Device:
    browser: str
    version: str
    os: str
    last_seen: int | None


def _place(ctx: Ctx, p: Person) -> _Place:
    r = ctx.rng.random
    country, cc, dial, places = LOCALES[p.locale][2], LOCALES[p.locale][3], LOCALES[p.locale][4], LOCALES[p.locale][5]
    phone, e164 = phone_number(ctx.rng, dial) if r() < 0.6 else (None, None)
    region, city = pick(ctx.rng, places)
    known = r() < 0.85
    location = {"type": "location", "country": country if known else None, "region": region if known else None,
                "city": city if known else None}
    return _Place(cc, phone, e164, location)


def _device(ctx: Ctx, created: int) -> _Device:
    browser, version, os_name = pick(ctx.rng, BROWSERS)
    seen = ctx.between(created) if ctx.rng.random() < 0.85 else None
    return _Device(browser, version, os_name, seen)


def _social_profiles(ctx: Ctx, p: Person) -> list[dict[str, str]]:
    rng = ctx.rng
    local = p.email.split("@")[0].split("+")[0]
    socials = []
    if rng.random() < 0.3:
        socials.append({"type": "social_profile", "name": "Twitter", "url": f"https://twitter.com/{local.replace('.', '_')}"})
        if rng.random() < 0.5:
            socials.append({"type": "social_profile", "name": "LinkedIn",
                            "url": f"https://www.linkedin.com/in/{local.replace('.', '-')}-{rng.getrandbits(24):06x}"})
    return socials


def _mobile_apps(ctx: Ctx, device: _Device) -> dict[str, Any]:
    """The android_* and ios_* fields: set only for a contact seen in the mobile app."""
    mobile = device.os.startswith(("Android", "iOS")) and ctx.rng.random() < 0.5
    android = mobile and device.os.startswith("Android")
    ios = mobile and not android
    fields: dict[str, Any] = {}
    for platform, used in (("android", android), ("ios", ios)):
        for key, value in MOBILE_APPS[platform]:
            fields[f"{platform}_{key}"] = value if used else None
        fields[f"{platform}_last_seen_at"] = device.last_seen if used else None
    return fields


def _identity(ctx: Ctx, cid: str, p: Person, role: str, place: _Place, owner_ids: list[int],
              socials: list[dict[str, str]]) -> dict[str, Any]:
    rng = ctx.rng
    user = role == "user"
    external_id = f"usr_{rng.getrandbits(40):010x}" if user else None
    name = p.name if user or rng.random() < 0.8 else None
    avatar = _avatar(ctx) if rng.random() < 0.4 else None
    return {
        "type": "contact", "id": cid, "workspace_id": ctx.app_id, "external_id": external_id, "role": role,
        "email": p.email, "email_domain": p.email.rsplit("@", 1)[1].lower(), "phone": place.phone,
        "formatted_phone": place.e164, "name": name, "avatar": avatar,
        "owner_id": pick(rng, owner_ids) if rng.random() < 0.3 else None,
        "social_profiles": {"type": "list", "data": socials},
    }


def _avatar(ctx: Ctx) -> dict[str, str]:
    url = f"https://static.intercomassets.com/avatars/{ctx.rng.getrandbits(28)}/square_128/me.jpg"
    return {"type": "avatar", "image_url": url}


def _engagement(ctx: Ctx, created: int, role: str, device: _Device) -> dict[str, Any]:
    """Email flags and the activity timestamps."""
    r = ctx.rng.random

    def sometimes(chance: float) -> int | None:
        return ctx.between(created) if r() < chance else None

    return {
        "has_hard_bounced": r() < 0.02, "marked_email_as_spam": r() < 0.01, "unsubscribed_from_emails": r() < 0.1,
        "created_at": created, "updated_at": ctx.between(created), "signed_up_at": created if role == "user" else None,
        "last_seen_at": device.last_seen, "last_replied_at": sometimes(0.3), "last_contacted_at": sometimes(0.4),
        "last_email_opened_at": sometimes(0.3), "last_email_clicked_at": sometimes(0.15),
    }


def _marketing(ctx: Ctx) -> dict[str, Any]:
    r = ctx.rng.random
    return {
        "utm_campaign": "spring_launch" if r() < 0.1 else None, "utm_content": None,
        "utm_medium": "cpc" if r() < 0.1 else None, "utm_source": "google" if r() < 0.1 else None, "utm_term": None,
        "referrer": "https://www.google.com/" if r() < 0.2 else None,
    }


def _empty_list(contact_id: str, target: str) -> dict[str, Any]:
    return {"type": "list", "data": [], "url": f"/contacts/{contact_id}/{target}", "total_count": 0, "has_more": False}


def fill_text(ctx: Ctx, template: str, subject: Person) -> str:
    """Public alias of the free-text filler for the message generators."""
    return _fill(ctx, template, subject)
