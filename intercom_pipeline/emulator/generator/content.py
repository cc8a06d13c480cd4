"""Help-centre articles, news items, newsfeeds and per-contact data events."""

from __future__ import annotations

from typing import Any

from intercom_pipeline.emulator.generator.base import DAY, Ctx
from intercom_pipeline.emulator.generator.contacts import PlanRow
from intercom_pipeline.emulator.generator.text import LOCALES, ip_address, pick, rint

ARTICLE_TOPICS = ("Getting started", "Billing and invoices", "Resetting your password", "Exporting reports",
                  "Single sign-on", "Inviting teammates", "Deleting your account", "API tokens",
                  "Mobile app", "Integrations", "Data retention", "Changing your plan")
NEWS_TITLES = ("New: scheduled exports", "Dark mode is here", "Faster search", "SSO for every plan",
               "Price update", "Mobile app 5.0", "Audit log", "EU data hosting", "New reports", "Webhooks v2")
EVENT_NAMES = ("viewed-pricing", "invited-friend", "placed-order", "logged-in", "exported-report",
               "updated-profile")


def build_articles(ctx: Ctx, n: int, admin_ids: list[int]) -> list[dict[str, Any]]:
    rng = ctx.rng
    out = []
    for i in range(n):
        created = ctx.past(600)
        title = ARTICLE_TOPICS[i % len(ARTICLE_TOPICS)] + ("" if i < len(ARTICLE_TOPICS) else f" ({i // len(ARTICLE_TOPICS) + 1})")
        aid = ctx.next_num("article", 39)
        state = "published" if rng.random() < 0.85 else "draft"
        body = "".join(f"<p>{pick(rng, ctx.pools.sentences)}</p>" for _ in range(rint(rng, 2, 6)))
        author, updated = pick(rng, admin_ids), ctx.between(created)
        url = f"http://help-center.test/{ctx.app_id}/en/articles/{aid}-{title.lower().replace(' ', '-')}"
        parent = pick(rng, (None, 143, 144, 145))
        out.append({
            "id": str(aid), "type": "article", "workspace_id": ctx.app_id,
            "parent_id": parent, "parent_type": "collection" if parent else None, "parent_ids": [parent] if parent else [],
            "title": title, "description": pick(rng, ctx.pools.sentences), "body": body, "author_id": author,
            "state": state, "created_at": created, "updated_at": updated, "url": url if state == "published" else None,
            "default_locale": "en",
            "translated_content": {"type": "article_translated_content", "en": {
                "type": "article_content", "title": title, "description": "", "body": body, "author_id": author,
                "state": state, "created_at": created, "updated_at": updated, "url": url}},
            "statistics": {"type": "article_statistics", "views": rint(rng, 0, 5000), "conversions": rint(rng, 0, 50),
                           "reactions": rint(rng, 0, 200), "happy_reaction_percentage": 60.0,
                           "neutral_reaction_percentage": 30.0, "sad_reaction_percentage": 10.0},
        })
    return out


def build_newsfeeds(ctx: Ctx) -> list[dict[str, Any]]:
    out = []
    for name in ("Visitor Feed", "Customer Feed", "Beta testers"):
        created = ctx.past(600, min_age=200 * DAY)
        out.append({"id": str(ctx.next_num("newsfeed", 68)), "type": "newsfeed", "name": name,
                    "created_at": created, "updated_at": ctx.between(created)})
    return out


def build_news_items(ctx: Ctx, n: int, admin_ids: list[int], feeds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rng = ctx.rng
    out = []
    for i in range(n):
        created = ctx.past(365)
        live = rng.random() < 0.75
        feed = pick(rng, feeds)
        out.append({
            "id": str(ctx.next_num("news", 29)), "type": "news-item", "workspace_id": ctx.app_id,
            "title": NEWS_TITLES[i % len(NEWS_TITLES)], "body": f"<p>{pick(rng, ctx.pools.sentences)}</p>",
            "sender_id": pick(rng, admin_ids), "state": "live" if live else "draft",
            "labels": rng.sample(["Product", "Fix", "Announcement"], rint(rng, 0, 2)),
            "cover_image_url": f"https://images.example-cdn.com/news/{i}.png" if rng.random() < 0.5 else None,
            "reactions": ["💖", "😐", "😞", "🎉"] if rng.random() < 0.5 else [None, None, None, None],
            "deliver_silently": rng.random() < 0.2, "created_at": created, "updated_at": ctx.between(created),
            "newsfeed_assignments": [{"newsfeed_id": int(feed["id"]), "published_at": created}] if live else [],
        })
    return out


def build_events(ctx: Ctx, contacts: list[dict[str, Any]], rows: list[PlanRow], must: set[int]) -> list[dict[str, Any]]:
    """Data events of the last 90 days: ~60% of users (1-8 each), ~20% of leads (1-2); ``must`` always."""
    rng = ctx.rng
    out = []
    for i, (c, row) in enumerate(zip(contacts, rows, strict=True)):
        user = c["role"] == "user"
        if rng.random() >= (0.6 if user else 0.2) and i not in must:
            continue
        for _ in range(rint(rng, 1, 8) if user else rint(rng, 1, 2)):
            name = pick(rng, EVENT_NAMES)
            ev: dict[str, Any] = {"type": "event", "event_name": name,
                                  "created_at": ctx.now - rint(rng, 60, 89 * DAY)}
            if user:
                ev["user_id"] = c["external_id"]
            ev["intercom_user_id"] = c["id"]
            ev["email"] = c["email"]
            ev["metadata"] = _metadata(ctx, name, row)
            out.append(ev)
            # An event is tracked while the person uses the product, so they were seen then: the
            # exporter picks whom to ask for events by last_seen_at, as on a real workspace.
            c["last_seen_at"] = max(c.get("last_seen_at") or 0, ev["created_at"])
    return out


def _metadata(ctx: Ctx, name: str, row: PlanRow) -> dict[str, str]:
    """Event metadata; the spec types every value as string. Some carry personal data."""
    rng = ctx.rng
    if name == "invited-friend":
        friend = ctx.person()
        return {"invite_code": f"INV{rng.getrandbits(24):06X}", "invitee_email": friend.email}
    if name == "placed-order":
        return {"order_id": f"ORD-{rint(rng, 100000, 999999)}", "amount": f"{rng.uniform(5, 400):.2f}",
                "currency": "EUR", "shipping_address": ctx.address(row.person.locale)}
    if name == "logged-in":
        return {"ip": ip_address(rng), "country": LOCALES[row.person.locale][2]}
    if name == "exported-report":
        return {"report": pick(rng, ("usage", "billing", "audit")), "rows": str(rint(rng, 1, 50000))}
    if name == "viewed-pricing":
        return {"page": "https://www.example-saas.com/pricing", "plan": pick(rng, ("pro", "business"))}
    return {"changed_field": pick(rng, ("phone", "address", "avatar", "name"))}
