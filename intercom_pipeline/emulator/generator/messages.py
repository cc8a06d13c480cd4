"""Admin notes, conversations with parts, and tickets with parts.

Every body is HTML assembled from the templates in ``generator_text``; a good share mention other
people (names, emails, phones, addresses), which is what discovery must flag as ``free_text_pii``.
"""

from __future__ import annotations

from typing import Any

from intercom_pipeline.emulator.generator.base import DAY, Ctx, Person
from intercom_pipeline.emulator.generator.contacts import PlanRow, fill_text
from intercom_pipeline.emulator.generator.text import (
    CONV_ADMIN_REPLIES,
    CONV_CONTACT_REPLIES,
    CONV_OPENERS,
    CONV_TITLES,
    LOCALES,
    NOTE_PII_TEMPLATES,
    NOTE_PLAIN_TEMPLATES,
    TICKET_DESCRIPTIONS,
    TICKET_TITLES,
    phone_number,
    pick,
    rint,
)

ADMIN_KEYS = ("type", "id", "name", "email", "job_title", "away_mode_enabled", "away_mode_reassign",
              "has_inbox_seat", "team_ids")
TICKET_TYPES = (("Bug", "Customer", "🐞"), ("Refund request", "Customer", "💶"),
                ("Account escalation", "Back-office", "🧯"), ("Known issue", "Tracker", "📌"))
TICKET_STATES = (("submitted", "Submitted"), ("in_progress", "In progress"),
                 ("waiting_on_customer", "Waiting on customer"), ("resolved", "Resolved"))


def note_author(admin: dict[str, Any]) -> dict[str, Any]:
    """The admin as embedded in a note (superset of the recorded example; satisfies schema `admin`)."""
    out = {k: admin[k] for k in ADMIN_KEYS}
    out["team_ids"] = list(admin["team_ids"])
    return out


def build_notes(ctx: Ctx, contacts: list[dict[str, Any]], rows: list[PlanRow], admins: list[dict[str, Any]],
                many_idx: int) -> list[dict[str, Any]]:
    """0-5 notes for ~40% of contacts, 160 for the many-notes hard case; about half mention others."""
    rng = ctx.rng
    notes = []
    for i, c in enumerate(contacts):
        if i == many_idx:
            k = 160
        else:
            r = rng.random()
            k = 0 if r < 0.6 else (1 if r < 0.8 else (2 if r < 0.9 else rint(rng, 3, 5)))
        for _ in range(k):
            tmpl = pick(rng, NOTE_PII_TEMPLATES if rng.random() < 0.55 else NOTE_PLAIN_TEMPLATES)
            notes.append({
                "type": "note", "id": str(ctx.next_num("note", 1000)), "created_at": ctx.between(c["created_at"]),
                "contact": {"type": "contact", "id": c["id"]}, "author": note_author(pick(rng, admins)),
                "body": fill_text(ctx, tmpl, rows[i].person),
            })
    return notes


def _contact_author(c: dict[str, Any]) -> dict[str, Any]:
    return {"type": c["role"], "id": c["id"], "name": c["name"], "email": c["email"]}


def _admin_author(a: dict[str, Any]) -> dict[str, Any]:
    return {"type": "admin", "id": a["id"], "name": a["name"], "email": a["email"]}


def _part(ctx: Ctx, part_type: str, body: str | None, at: int, author: dict[str, Any],
          assigned: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "conversation_part", "id": str(ctx.next_num("part", 100)), "part_type": part_type,
            "body": body, "created_at": at, "updated_at": at, "notified_at": at, "assigned_to": assigned,
            "author": author, "attachments": [], "external_id": None, "redacted": False}


def build_conversations(ctx: Ctx, contacts: list[dict[str, Any]], rows: list[PlanRow], admins: list[dict[str, Any]],
                        teams: list[dict[str, Any]], tags: list[dict[str, Any]], n: int,
                        must: list[int]) -> list[dict[str, Any]]:
    """``n`` conversations; ``must`` contact indices are guaranteed one each (hard cases)."""
    rng = ctx.rng
    picks = list(must) + [int(rng.random() * len(contacts)) for _ in range(max(0, n - len(must)))]
    team_ids = [int(t["id"]) for t in teams]
    return [_conversation(ctx, i, contacts, rows, admins, team_ids, tags) for i in picks]


def _conversation(ctx: Ctx, i: int, contacts: list[dict[str, Any]], rows: list[PlanRow],
                  admins: list[dict[str, Any]], team_ids: list[int], tags: list[dict[str, Any]]) -> dict[str, Any]:
    """One conversation of contact ``i``. The steps draw from ``ctx.rng`` in a fixed order, so a
    seed always gives the same workspace: keep that order when changing them."""
    rng = ctx.rng
    c, person = contacts[i], rows[i].person
    people = _participants(ctx, i, contacts, rows)
    admin = pick(rng, admins)
    created = ctx.between(c["created_at"])
    inbound = rng.random() < 0.8
    source = _source(ctx, c, person, admin, inbound)
    parts, t, assigned_at = _thread(ctx, inbound, admin, people, person, created)
    r = rng.random()
    state = "closed" if r < 0.65 else ("open" if r < 0.9 else "snoozed")
    if state == "closed":
        t += rint(rng, 60, DAY)
        parts.append(_part(ctx, "close", None, t, _admin_author(admin)))
    updated = max(_squeeze(parts, created, t, ctx.now), created)
    stats = _statistics(parts, created, admin["id"])
    ctags = rng.sample(tags, 1) if rng.random() < 0.2 else []
    rating = _rating(ctx, c, person, admin, updated) if state == "closed" and rng.random() < 0.25 else None
    attributes = _conversation_attributes(ctx, person)
    return {
        **_header(ctx, person, created, updated, state, stats),
        "source": source,
        "contacts": {"type": "contact.list", "contacts": [
            {"type": "contact", "id": who["id"], "external_id": who["external_id"]} for who, _p in people]},
        "first_contact_reply": {"created_at": created, "type": "conversation", "url": None} if inbound else None,
        "admin_assignee_id": int(admin["id"]) if assigned_at or not inbound else None,
        **_assignment_and_flags(ctx, team_ids, state),
        "tags": {"type": "tag.list", "tags": [_applied_tag(tag, created, admin) for tag in ctags]},
        "priority": "priority" if rng.random() < 0.1 else "not_priority", "sla_applied": None,
        "statistics": stats, "conversation_rating": rating,
        "teammates": {"type": "admin.list", "teammates": [{"type": "admin", "id": admin["id"]}]},
        "custom_attributes": attributes, "topics": {}, "ticket": None,
        "linked_objects": {"type": "list", "data": [], "total_count": 0, "has_more": False},
        "ai_agent": None, "ai_agent_participated": False,
        "conversation_parts": {"type": "conversation_part.list", "conversation_parts": parts, "total_count": len(parts)},
    }


def _participants(ctx: Ctx, i: int, contacts: list[dict[str, Any]], rows: list[PlanRow]) -> list[tuple[dict[str, Any], Person]]:
    people = [(contacts[i], rows[i].person)]
    if ctx.rng.random() < 0.08:  # a colleague joins the thread
        j = int(ctx.rng.random() * len(contacts))
        if j != i:
            people.append((contacts[j], rows[j].person))
    return people


def _source(ctx: Ctx, c: dict[str, Any], person: Person, admin: dict[str, Any], inbound: bool) -> dict[str, Any]:
    """The message that opened the conversation."""
    rng = ctx.rng
    opener = fill_text(ctx, pick(rng, CONV_OPENERS), person)
    kind = pick(rng, ("conversation", "conversation", "email"))
    source_id = str(ctx.next_num("source", 403_918_255))
    subject = "" if rng.random() < 0.7 else fill_text(ctx, pick(rng, CONV_TITLES[3:]), person)
    return {"type": kind, "id": source_id,
            "delivered_as": "customer_initiated" if inbound else "admin_initiated",
            "subject": subject, "body": f"<p>{opener}</p>",
            "author": _contact_author(c) if inbound else _admin_author(admin),
            "attachments": [], "url": None, "redacted": False}


def _thread(ctx: Ctx, inbound: bool, admin: dict[str, Any], people: list[tuple[dict[str, Any], Person]],
            person: Person, created: int) -> tuple[list[dict[str, Any]], int, int | None]:
    """The parts after the opener (an assignment, then replies taking turns); their last time and
    when the conversation was assigned."""
    rng = ctx.rng
    parts, t = [], created
    assigned_at = None
    if inbound and rng.random() < 0.7:
        t += rint(rng, 5, 600)
        assigned_at = t
        parts.append(_part(ctx, "assignment", None, t, _admin_author(admin), {"type": "admin", "id": admin["id"]}))
    for k in range(pick(rng, (1, 1, 2, 2, 3, 4, 6, 9))):
        t += rint(rng, 30, 8 * 3600)
        if (k % 2 == 0) == inbound:
            author, tmpl = _admin_author(admin), pick(rng, CONV_ADMIN_REPLIES)
            ptype = "note" if rng.random() < 0.1 else "comment"
        else:
            who, _ = pick(rng, people)
            author, tmpl, ptype = _contact_author(who), pick(rng, CONV_CONTACT_REPLIES), "comment"
        parts.append(_part(ctx, ptype, f"<p>{fill_text(ctx, tmpl, person)}</p>", t, author))
    return parts, t, assigned_at


def _squeeze(parts: list[dict[str, Any]], created: int, last: int, now: int) -> int:
    """Parts must not lie in the future: shift the thread back into [created, now]; its new end."""
    if last <= now:
        return last
    shift = last - now
    for part in parts:
        part["created_at"] = part["updated_at"] = part["notified_at"] = max(created, part["created_at"] - shift)
    return now


def _rating(ctx: Ctx, c: dict[str, Any], person: Person, admin: dict[str, Any], updated: int) -> dict[str, Any]:
    return {"rating": rint(ctx.rng, 1, 5), "remark": fill_text(ctx, pick(ctx.rng, CONV_CONTACT_REPLIES), person),
            "created_at": updated, "contact": {"type": "contact", "id": c["id"], "external_id": c["external_id"]},
            "teammate": {"type": "admin", "id": admin["id"]}}


def _conversation_attributes(ctx: Ctx, person: Person) -> dict[str, Any]:
    rng = ctx.rng
    ca: dict[str, Any] = {}
    if rng.random() < 0.5:
        ca["order_number"] = f"ORD-{rint(rng, 100000, 999999)}"
        ca["issue_type"] = pick(rng, ("billing", "login", "bug", "how-to", "cancellation"))
    if rng.random() < 0.15:
        ca["refund_amount"] = round(rng.uniform(5, 500), 2)
        ca["escalated"] = rng.random() < 0.4
        ca["attempts"] = rint(rng, 1, 4)
    if rng.random() < 0.1:
        ca["follow_up_date"] = ctx.utc_midnight(rint(rng, -20, 30))
        ca["callback_phone"] = phone_number(rng, LOCALES[person.locale][4])[0]
    return ca


def _header(ctx: Ctx, person: Person, created: int, updated: int, state: str,
            stats: dict[str, Any]) -> dict[str, Any]:
    """Id, title, times and the waiting/snoozed markers."""
    title_template = pick(ctx.rng, CONV_TITLES)
    conversation_id = str(ctx.next_num("conversation", 1))
    last_contact = stats.get("last_contact_reply_at")
    waiting = state == "open" and last_contact and last_contact > (stats.get("last_admin_reply_at") or 0)
    return {
        "type": "conversation", "id": conversation_id,
        "title": fill_text(ctx, title_template, person) if title_template else None,
        "created_at": created, "updated_at": updated,
        "waiting_since": last_contact if waiting else None,
        "snoozed_until": ctx.now + rint(ctx.rng, 1, 5) * DAY if state == "snoozed" else None,
    }


def _assignment_and_flags(ctx: Ctx, team_ids: list[int], state: str) -> dict[str, Any]:
    team = pick(ctx.rng, team_ids) if team_ids and ctx.rng.random() < 0.5 else None
    return {"team_assignee_id": team, "open": state != "closed", "state": state, "read": ctx.rng.random() < 0.8}


def _applied_tag(tag: dict[str, Any], created: int, admin: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tag", "id": tag["id"], "name": tag["name"], "applied_at": created,
            "applied_by": {"type": "admin", "id": admin["id"]}}


def _statistics(parts: list[dict[str, Any]], created: int, admin_id: str) -> dict[str, Any]:
    """conversation_statistics derived from the final (time-adjusted) parts."""
    stats: dict[str, Any] = {"type": "conversation_statistics", "count_conversation_parts": len(parts),
                             "count_reopens": 0, "count_assignments": 0}
    for p in parts:
        at, kind, ptype = p["created_at"], p["author"]["type"], p["part_type"]
        if ptype == "assignment":
            stats["count_assignments"] += 1
            stats.setdefault("first_assignment_at", at)
            stats["last_assignment_at"] = at
            stats.setdefault("time_to_assignment", at - created)
        elif ptype == "close":
            stats.setdefault("first_close_at", at)
            stats["last_close_at"] = at
            stats.setdefault("time_to_first_close", at - created)
            stats["time_to_last_close"] = at - created
            stats["last_closed_by_id"] = admin_id
        elif ptype == "comment" and kind == "admin":
            stats.setdefault("first_admin_reply_at", at)
            stats["last_admin_reply_at"] = at
            stats.setdefault("time_to_admin_reply", at - created)
        elif ptype == "comment":
            stats.setdefault("first_contact_reply_at", at)
            stats["last_contact_reply_at"] = at
    return stats


def _ticket_type(ctx: Ctx, idx: int, created: int) -> dict[str, Any]:
    name, category, icon = TICKET_TYPES[idx]
    tid = 112 + idx
    attrs = []
    for order, (attr, label) in enumerate((("_default_title_", "Title"), ("_default_description_", "Description"))):
        attrs.append({"type": "ticket_type_attribute", "id": str(268 + idx * 2 + order), "workspace_id": ctx.app_id,
                      "name": attr, "description": label, "data_type": "string", "input_options": None,
                      "order": order, "required_to_create": order == 0, "required_to_create_for_contacts": False,
                      "visible_on_create": True, "visible_to_contacts": True, "default": True,
                      "ticket_type_id": tid, "archived": False, "created_at": created, "updated_at": created})
    return {"type": "ticket_type", "id": str(tid), "name": name, "description": f"{name} tickets", "icon": icon,
            "workspace_id": ctx.app_id, "archived": False, "created_at": created, "updated_at": created,
            "is_internal": category != "Customer", "category": category,
            "ticket_type_attributes": {"type": "list", "data": attrs}}


def build_tickets(ctx: Ctx, contacts: list[dict[str, Any]], rows: list[PlanRow], admins: list[dict[str, Any]],
                  teams: list[dict[str, Any]], n: int, must: list[int]) -> list[dict[str, Any]]:
    """``n`` tickets (at least one per ``must`` contact index), each with 1-6 parts."""
    rng = ctx.rng
    type_created = ctx.now - 500 * DAY
    tickets = []
    picks = list(must) + [int(rng.random() * len(contacts)) for _ in range(max(0, n - len(must)))]
    for i in picks:
        c, person = contacts[i], rows[i].person
        tidx = int(rng.random() * len(TICKET_TYPES))
        topic = int(rng.random() * len(TICKET_TITLES))  # titles and descriptions are paired by index
        ttype = _ticket_type(ctx, tidx, type_created)
        admin = pick(rng, admins)
        created = ctx.between(max(c["created_at"], ctx.now - 300 * DAY))
        state, label = pick(rng, TICKET_STATES)
        parts, t = [], created
        parts.append(_ticket_part(ctx, "ticket_state_updated_by_admin", None, "submitted", "submitted", t, admin, None))
        prev = "submitted"
        for k in range(rint(rng, 0, 4)):
            t = min(ctx.now, t + rint(rng, 60, 2 * DAY))
            by_admin = k % 2 == 1
            body = fill_text(ctx, pick(rng, CONV_ADMIN_REPLIES if by_admin else CONV_CONTACT_REPLIES), person)
            parts.append(_ticket_part(ctx, "comment", f"<p>{body}</p>", prev, prev, t, admin if by_admin else None, c))
        if state != "submitted":
            t = min(ctx.now, t + rint(rng, 60, DAY))
            parts.append(_ticket_part(ctx, "ticket_state_updated_by_admin", None, prev, state, t, admin, None))
        assigned = rng.random() < 0.7
        tickets.append({
            "type": "ticket", "id": str(ctx.next_num("ticket", 400)), "ticket_id": str(ctx.next_num("ticket_no", 1)),
            "category": ttype["category"],
            "ticket_attributes": {"_default_title_": fill_text(ctx, TICKET_TITLES[topic], person),
                                  "_default_description_": fill_text(ctx, TICKET_DESCRIPTIONS[topic], person)},
            "ticket_state": state, "ticket_type": ttype,
            "contacts": {"type": "contact.list", "contacts": [{"type": "contact", "id": c["id"], "external_id": c["external_id"]}]},
            "admin_assignee_id": admin["id"] if assigned else "0",
            "team_assignee_id": pick(rng, teams)["id"] if teams and rng.random() < 0.5 else "0",
            "created_at": created, "updated_at": t,
            "ticket_parts": {"type": "ticket_part.list", "ticket_parts": parts, "total_count": len(parts)},
            "open": state != "resolved",
            "linked_objects": {"type": "list", "data": [], "total_count": 0, "has_more": False},
            "is_shared": ttype["category"] == "Customer", "ticket_state_internal_label": label,
            "ticket_state_external_label": label,
        })
    return tickets


def _ticket_part(ctx: Ctx, part_type: str, body: str | None, prev: str, state: str, at: int,
                 admin: dict[str, Any] | None, contact: dict[str, Any] | None) -> dict[str, Any]:
    if admin is not None:
        author = _admin_author(admin)
    else:
        assert contact is not None
        author = {"id": contact["id"], "type": "user", "name": contact["name"], "email": contact["email"]}
    return {"type": "ticket_part", "id": str(ctx.next_num("ticket_part", 100)), "part_type": part_type, "body": body,
            "previous_ticket_state": prev, "ticket_state": state, "created_at": at, "updated_at": at,
            "assigned_to": None, "author": author, "attachments": [], "external_id": None, "redacted": False}

