"""One definition per export stream: its columns, how it is fetched, and how records become rows.

Shapes follow Intercom 2.11 (intercom-api.md §5). Nested one-to-one objects become columns
(``location.city`` -> ``location_city``); one-to-many relations become child streams
(contact_companies, contact_tags, company_contacts, notes, conversation_parts) or, for plain id
lists, ``list<string>`` columns (``contact_ids``, ``tag_ids``). Ids are strings everywhere, even where
the API sends integers (``admin_assignee_id`` in 2.11), so joins never depend on the API version.
Fields with no fixed shape (``ticket_attributes``, ``social_profiles``) are kept as JSON strings.

Modes: "snapshot" (full refresh into ``snapshot_date=``), "incremental" (``updated_month=`` by
``updated_at``, with an ``updated_date`` column), "events" (``created_date=`` by day of the event;
see events.py), "parts" (conversation_parts, written with their conversations), "graph" (the
contact relation streams, written by one pass over all contacts; see graph.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from intercom_pipeline.exports.schema import Col, col, cols
from intercom_pipeline.intercom import IntercomClient

Fetch = Callable[[Any], Iterable[dict[str, Any]]]


@dataclass(frozen=True)
class Stream:
    name: str
    mode: str
    columns: list[Col]
    private: bool  # contact-linked or personal data: files 0600, folders 0700
    description: str
    fetch: Fetch | None = None  # snapshot streams: client -> raw records
    resource: str | None = None  # incremental streams: the search resource
    custom_model: str | None = None  # data_attributes model whose custom attributes become columns
    version_columns: tuple[str, str] = ("id", "updated_at")
    partition_key: str = field(default="snapshot_date")


TIMES = "created_at updated_at"
CONTACT_COLUMNS = [
    *cols("id workspace_id external_id role email email_domain phone formatted_phone name"),
    col("avatar_image_url", "str", "avatar.image_url"),
    col("owner_id"),
    *cols("has_hard_bounced marked_email_as_spam unsubscribed_from_emails", "bool"),
    *cols(f"{TIMES} signed_up_at last_seen_at last_replied_at last_contacted_at last_email_opened_at "
          "last_email_clicked_at android_last_seen_at ios_last_seen_at", "ts"),
    *cols("language_override browser browser_version browser_language os"),
    *[col(f"location_{k}", "str", f"location.{k}") for k in ("country", "region", "city", "country_code", "continent_code")],
    *cols("android_app_name android_app_version android_device android_os_version android_sdk_version "
          "ios_app_name ios_app_version ios_device ios_os_version ios_sdk_version"),
    col("social_profiles", "json", "social_profiles.data"),
    *cols("utm_campaign utm_content utm_medium utm_source utm_term referrer"),
    *[col(f"{rel}_count", "int", f"{rel}.total_count") for rel in ("tags", "companies", "notes")],
    *cols("sms_consent unsubscribed_from_sms", "bool"),
]
COMPANY_COLUMNS = [
    *cols("id company_id app_id name"),
    col("plan_id", "str", "plan.id"),
    col("plan_name", "str", "plan.name"),
    *cols(f"{TIMES} remote_created_at last_request_at", "ts"),
    col("size", "int"),
    *cols("website industry"),
    col("monthly_spend", "float"),
    *cols("session_count user_count", "int"),
    col("tag_ids", "str_list", "tags.tags.[].id"),
    col("segment_ids", "str_list", "segments.segments.[].id"),
]
CONVERSATION_COLUMNS = [
    *cols("id title"),
    *cols(f"{TIMES} waiting_since snoozed_until", "ts"),
    *cols("open read", "bool"),
    *cols("state priority admin_assignee_id team_assignee_id"),
    *[col(f"source_{k}", "str", f"source.{k}") for k in ("type", "id", "delivered_as", "subject", "body", "url")],
    *[col(f"source_author_{k}", "str", f"source.author.{k}") for k in ("type", "id", "name", "email")],
    col("contact_ids", "str_list", "contacts.contacts.[].id"),
    col("teammate_ids", "str_list", "teammates.teammates.[].id"),
    col("tag_ids", "str_list", "tags.tags.[].id"),
    col("rating", "int", "conversation_rating.rating"),
    col("rating_remark", "str", "conversation_rating.remark"),
    col("rating_created_at", "ts", "conversation_rating.created_at"),
    col("first_contact_reply_created_at", "ts", "first_contact_reply.created_at"),
    *[col(f"statistics_{k}", "int", f"statistics.{k}") for k in (
        "count_conversation_parts", "count_reopens", "count_assignments", "time_to_assignment",
        "time_to_admin_reply", "time_to_first_close", "time_to_last_close")],
    *[col(f"statistics_{k}", "ts", f"statistics.{k}") for k in (
        "first_contact_reply_at", "first_assignment_at", "first_admin_reply_at", "first_close_at",
        "last_assignment_at", "last_contact_reply_at", "last_admin_reply_at", "last_close_at")],
    col("statistics_last_closed_by_id", "str", "statistics.last_closed_by_id"),
    col("ai_agent_participated", "bool"),
    col("ai_agent", "json"),
]
PART_COLUMNS = [
    col("id"),
    col("conversation_id", "str", "_conversation_id"),
    col("conversation_updated_at", "ts", "_conversation_updated_at"),
    col("part_type"),
    col("body"),
    *cols(f"{TIMES} notified_at", "ts"),
    col("assigned_to_type", "str", "assigned_to.type"),
    col("assigned_to_id", "str", "assigned_to.id"),
    *[col(f"author_{k}", "str", f"author.{k}") for k in ("type", "id", "name", "email")],
    col("external_id"),
    col("redacted", "bool"),
    col("state"),
    col("attachments", "json"),
]
TICKET_COLUMNS = [
    *cols("id ticket_id category"),
    col("ticket_type_id", "str", "ticket_type.id"),
    col("ticket_type_name", "str", "ticket_type.name"),
    col("ticket_state"),
    *cols("ticket_state_internal_label ticket_state_external_label"),
    col("contact_ids", "str_list", "contacts.contacts.[].id"),
    *cols("admin_assignee_id team_assignee_id"),
    *cols(f"{TIMES} snoozed_until", "ts"),
    *cols("open is_shared", "bool"),
    col("ticket_attributes", "json"),
    col("ticket_parts_count", "int", "ticket_parts.total_count"),
    col("ticket_parts", "json", "ticket_parts.ticket_parts"),
]


def _counts(client: IntercomClient) -> Iterator[dict[str, Any]]:
    """GET /counts (and the conversation counts) flattened to (object, name, count) rows."""
    for payload in (client.counts(), client.counts(type="conversation")):
        for obj, values in payload.items():
            if not isinstance(values, dict):
                continue
            for name, value in values.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    yield {"id": f"{obj}.{name}", "object": obj, "name": name, "count": int(value)}


def _data_attributes(client: IntercomClient) -> Iterator[dict[str, Any]]:
    for model in ("contact", "company", "conversation"):
        for record in client.data_attributes(model, include_archived=True):
            yield {**record, "model": record.get("model") or model}


SNAPSHOTS = [
    Stream("admins", "snapshot", [*cols("id name email job_title"), *cols(
        "away_mode_enabled away_mode_reassign has_inbox_seat", "bool"), col("team_ids", "str_list"),
        col("avatar_image_url", "str", "avatar.image_url")], True,
        "Teammates (admins) of the workspace: names and emails are personal data.", lambda c: c.admins()),
    Stream("teams", "snapshot", [*cols("id name"), col("admin_ids", "str_list")], False,
           "Inbox teams and their member admin ids.", lambda c: c.teams()),
    Stream("tags", "snapshot", cols("id name"), False, "Tags defined in the workspace.", lambda c: c.tags()),
    Stream("segments", "snapshot", [*cols("id name person_type"), *cols(TIMES, "ts"), col("count", "int")], False,
           "Saved segments of users and leads, with their member count.",
           lambda c: c.segments(include_count=True)),
    Stream("companies", "snapshot", COMPANY_COLUMNS, True,
           "Companies, read with the scroll API; custom attributes as typed columns.",
           lambda c: c.scroll_companies(), custom_model="company"),
    Stream("articles", "snapshot", [*cols("id workspace_id title description body author_id state url parent_id "
           "parent_type default_locale"), *cols(TIMES, "ts"), col("parent_ids", "str_list"),
           col("tag_ids", "str_list", "tags.tags.[].id")], False, "Help-center articles.",
           lambda c: c.list_articles()),
    Stream("news_items", "snapshot", [*cols("id workspace_id title body sender_id state cover_image_url"),
           col("labels", "str_list"), col("deliver_silently", "bool"), *cols(TIMES, "ts"),
           col("newsfeed_ids", "str_list", "newsfeed_assignments.[].newsfeed_id")], False,
           "News items (announcements).", lambda c: c.news_items()),
    Stream("newsfeeds", "snapshot", [*cols("id name"), *cols(TIMES, "ts")], False, "Newsfeeds.",
           lambda c: c.newsfeeds()),
    Stream("data_attributes", "snapshot", [*cols("id model name full_name label description data_type admin_id"),
           *cols("custom archived api_writable ui_writable messenger_writable", "bool"), *cols(TIMES, "ts"),
           col("options", "json")], False,
           "Attribute definitions of contacts, companies and conversations (drives the typed columns).",
           _data_attributes),
    Stream("counts", "snapshot", [*cols("id object name"), col("count", "int")], False,
           "Server-side totals from GET /counts, flattened to (object, name, count).", _counts),
]
INCREMENTAL = [
    Stream("contacts", "incremental", CONTACT_COLUMNS, True,
           "Users and leads by month of updated_at; custom attributes as typed columns.",
           resource="contacts", custom_model="contact", partition_key="updated_month"),
    Stream("conversations", "incremental", CONVERSATION_COLUMNS, True,
           "Conversations by month of updated_at (without parts; see conversation_parts).",
           resource="conversations", custom_model="conversation", partition_key="updated_month"),
    Stream("tickets", "incremental", TICKET_COLUMNS, True, "Tickets by month of updated_at.",
           resource="tickets", partition_key="updated_month"),
]
PARTS = Stream("conversation_parts", "parts", PART_COLUMNS, True,
               "Every part of each exported conversation, in the month partition of its conversation.",
               version_columns=("conversation_id", "conversation_updated_at"), partition_key="updated_month")
EVENTS = Stream("events", "events", [
    col("contact_id"), col("user_id"), col("email"), col("event_name"), col("created_at", "ts"),
    col("metadata", "json")], True,
    "Data events of the contacts active in the window (last_seen_at/updated_at), by day of created_at, "
    "within Intercom's 90-day listing retention. Cost: ceil(active contacts / 150) searches + one "
    "GET /events per active contact (+1 per extra page of 50 events).",
    version_columns=("contact_id", "created_at"), partition_key="created_date")
EDGE = [col("contact_id"), col("contact_updated_at", "ts")]
GRAPH = [
    Stream("contact_companies", "graph", [*EDGE, col("company_id")], True,
           "The companies attached to each contact.", version_columns=("contact_id", "contact_updated_at")),
    Stream("contact_tags", "graph", [*EDGE, col("tag_id")], True, "The tags attached to each contact.",
           version_columns=("contact_id", "contact_updated_at")),
    Stream("company_contacts", "graph", [col("company_id"), *EDGE], True,
           "The contacts attached to each company (the same links, read from the company side).",
           version_columns=("contact_id", "contact_updated_at")),
    Stream("notes", "graph", [col("id"), *EDGE, *cols("created_at", "ts"), *[col(f"author_{k}", "str", f"author.{k}")
           for k in ("type", "id", "name", "email")], col("body")], True, "Notes written about contacts.",
           version_columns=("contact_id", "contact_updated_at")),
]
STREAMS: dict[str, Stream] = {s.name: s for s in [*SNAPSHOTS, *INCREMENTAL, PARTS, *GRAPH, EVENTS]}


def warehouse_modes() -> dict[str, str]:
    """Stream -> view mode for warehouse.build."""
    return {name: {"incremental": "incremental", "parts": "parts", "events": "history"}.get(s.mode, "snapshot")
            for name, s in STREAMS.items()}
