"""The webhook topics this project subscribes to, and what each one means for local copies.

Topic names are Intercom's, from "Webhook models" for API 2.x
(https://developers.intercom.com/docs/references/2.11/webhooks/webhook-models; the 2.7+ pages list
the same contact and company topics). Two names are irregular on purpose: archiving is
``contact.archived`` but un-archiving is ``contact.unarchive``. ``*.deleted`` topics carry only
identifying fields; ``contact.merged`` carries the surviving contact with ``merged_from`` (the
absorbed lead's ``{"type": "contact", "id": …}``).
"""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    ERASE = "erase"  # the contact is gone from Intercom's API: remove it from every local copy
    MERGE = "merge"  # the lead (merged_from) is gone; the surviving user changed
    DETECT = "detect"  # an object changed: refresh detection for it
    IGNORE = "ignore"  # ping


ERASE_TOPICS = ("contact.deleted", "contact.archived")
MERGE_TOPICS = ("contact.merged",)
CHANGE_TOPICS = (
    "contact.user.created", "contact.lead.created", "contact.user.updated", "contact.lead.updated",
    "contact.lead.signed_up", "contact.email.updated", "contact.unarchive",
    "company.created", "company.updated", "company.deleted",
    "company.contact.attached", "company.contact.detached",
    "conversation.user.created", "conversation.admin.single.created", "conversation.deleted",
    "conversation.contact.attached", "conversation.contact.detached",
)
# What to tick in the Developer Hub (Configure > Webhooks). ``ping`` is always subscribed.
SUBSCRIBE = ERASE_TOPICS + MERGE_TOPICS + CHANGE_TOPICS


def action(topic: str) -> Action:
    if topic in ERASE_TOPICS:
        return Action.ERASE
    if topic in MERGE_TOPICS:
        return Action.MERGE
    if topic in CHANGE_TOPICS:
        return Action.DETECT
    return Action.IGNORE


def object_type(topic: str) -> str:
    """``contact``, ``company`` or ``conversation``: the detection object a topic touches."""
    return topic.split(".", 1)[0]
