"""Deletion requests against Intercom: plan → preview → delete → verify → erase locally → receipt.

Plain functions, no Dagster; the Dagster job calls each step in its own op, ``run_deletion`` chains
them for scripts and tests. Every step reads and writes the per-request ledger (``ledger.py``), so a
deletion is idempotent and resumable: a contact already recorded as deleted is never sent again,
a contact found by an earlier run is still verified even though search no longer returns it, and a
``404`` on ``DELETE`` after this request's own unanswered DELETE (a lost reply, or a crash between
sending and the ledger write) counts as deleted by this request; only a 404 before this request
ever sent a DELETE is ``already_deleted``. Intercom's delete also removes the contact's
conversations (the cascade); the preview lists them before anything is sent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from intercom_pipeline import erasure_registry
from intercom_pipeline.intercom import IntercomClient
from intercom_pipeline.privacy import audit, merges
from intercom_pipeline.privacy.access import MAX_OR_FILTERS, find_contacts, participant_query
from intercom_pipeline.privacy.ledger import Ledger, now_iso
from intercom_pipeline.privacy.requests import PrivacyRequest
from intercom_pipeline.privacy.results import DeletedBatch, DeletionPlan, Verification

# Archived contacts are invisible to search and to GET by id (intercom-api notes; the fake does
# the same), so no API-only process can promise they were found. Every receipt says so.
ARCHIVED_NOTE = ("Intercom's API does not return archived contacts by email; an archived contact with this "
                 "address can only be found in the Intercom UI (Contacts, Archived filter). Deleting works by "
                 "id: re-run the request with its id in options.contact_ids (CLI: --contact-id).")


class DeletionNotVerified(RuntimeError):
    """After deleting, a contact still answers or a search by the email still finds someone."""


def api_calls(client: IntercomClient) -> int:
    return client.stats.calls


# -- 1-2. find and preview ---------------------------------------------------------------------
def plan_deletion(client: IntercomClient, request: PrivacyRequest, data_root: Path, workspace_id: str,
                  target: Mapping[str, Any] | None = None) -> DeletionPlan:
    """Find every contact, merge into the ledger, list the cascade and write ``preview.json``.
    ``target`` (``connections.Target.to_dict()``) is recorded in the plan, preview and receipt."""
    ledger = Ledger.open(data_root, request.request_id)
    plan = ledger.plan()
    found = {str(c["id"]): {"role": c.get("role"), "found_at": now_iso()} for c in find_contacts(client, request)}
    found.update(given_contacts(client, request, found,
                                lambda cid: merges.surviving_contact(data_root, workspace_id, cid)))
    ledger.merge_contacts(plan, found)
    done = ledger.outcomes()
    unpreviewed = [cid for cid, info in plan["contacts"].items() if "conversations" not in info and cid not in done]
    for cid, conversation_ids in cascade(client, unpreviewed).items():
        plan["contacts"][cid]["conversations"] = conversation_ids
    plan.update(request_id=request.request_id, subject_hash=request.subject_hash(data_root),
                workspace_id=workspace_id, target=dict(target or {"app_id": workspace_id}),
                dry_run=request.dry_run, runs=plan.get("runs", 0) + 1)
    ledger.save_plan(plan)
    preview = {
        "request": request.public_dict(data_root),
        "workspace_id": workspace_id,
        "target": plan["target"],
        "generated_at": now_iso(),
        "dry_run": request.dry_run,
        "contacts": [{"id": cid, "role": info.get("role"), "already_deleted": cid in done,
                      "source": info.get("source", "search_by_email"),
                      "conversations_removed_by_cascade": info.get("conversations", [])}
                     for cid, info in sorted(plan["contacts"].items())],
        "api_calls_planned": {"DELETE /contacts/{id}": sum(1 for cid in plan["contacts"] if cid not in done)},
        # The local datasets and files a real deletion would rewrite (or remove), with row counts.
        "local_copies": erasure_registry.preview(data_root, workspace_id, frozenset(plan["contacts"])),
        "notes": [ARCHIVED_NOTE],
    }
    ledger.write(ledger.preview_path, preview)
    pending = sorted(cid for cid in plan["contacts"] if cid not in done)
    audit.append(data_root, "deletion_previewed", request.request_id, subject_hash=plan["subject_hash"],
                 contacts=len(plan["contacts"]), pending=len(pending), dry_run=request.dry_run,
                 conversations=sum(len(i.get("conversations", [])) for i in plan["contacts"].values()))
    return DeletionPlan(request_id=request.request_id, contacts=tuple(sorted(plan["contacts"])),
                        pending=tuple(pending), preview=str(ledger.preview_path), dry_run=request.dry_run,
                        conversations=sum(len(i.get("conversations", [])) for i in plan["contacts"].values()))


class ContactMismatch(ValueError):
    """A contact id given with the request belongs to someone with another email."""


def given_contacts(client: IntercomClient, request: PrivacyRequest, found: dict[str, Any],
                   survivor: Callable[[str], str] = str) -> dict[str, dict[str, Any]]:
    """Contacts named by id in the request (archived ones, which search cannot find); an id merged
    away in Intercom stands for the contact it was merged into (``survivor``).

    A given contact the API still shows must carry the subject's email, so a mistyped id can never
    delete someone else; one the API hides (archived, or already deleted) is taken on the
    requester's word and marked so in the preview and receipt.
    """
    from intercom_pipeline.intercom import NotFound

    given: dict[str, dict[str, Any]] = {}
    for contact_id in map(survivor, request.contact_ids):
        if contact_id in found:
            continue
        try:
            contact = client.get_contact(contact_id)
        except NotFound:
            given[contact_id] = {"role": None, "found_at": now_iso(), "source": "given_by_requester_not_visible"}
            continue
        if not request.matches(contact.get("email")):
            raise ContactMismatch(f"options.contact_ids: contact {contact_id} has a different email; "
                                  "refusing to delete it")
        given[contact_id] = {"role": contact.get("role"), "found_at": now_iso(), "source": "given_by_requester"}
    return given


def cascade(client: IntercomClient, contact_ids: list[str]) -> dict[str, list[str]]:
    """The conversations Intercom deletes with each contact (one search per 15 contacts)."""
    result: dict[str, list[str]] = {cid: [] for cid in contact_ids}
    for start in range(0, len(contact_ids), MAX_OR_FILTERS):
        chunk = contact_ids[start:start + MAX_OR_FILTERS]
        for conversation in client.search("conversations", participant_query(chunk)):
            members = {str(c.get("id")) for c in (conversation.get("contacts") or {}).get("contacts", [])}
            for cid in chunk:
                if cid in members or len(chunk) == 1:
                    result[cid].append(str(conversation["id"]))
    return {cid: sorted(set(ids)) for cid, ids in result.items()}


# -- 4. delete ---------------------------------------------------------------------------------
def delete_contacts(client: IntercomClient, data_root: Path, request_id: str, contact_ids: Iterable[str]) -> list[dict[str, Any]]:
    """DELETE each contact not yet recorded as done, and record what happened truthfully.

    A ``404`` means ``already_deleted`` only when this request never sent a DELETE for the contact
    before. After an unanswered DELETE of its own (a reply lost in this call, or a crash in an
    earlier run after the attempt was recorded) the 404 is this request's own deletion: the
    outcome is ``deleted`` with ``confirmed_by: "404_after_unanswered_delete"``.
    """
    from intercom_pipeline.intercom import NotFound

    ledger = Ledger.open(data_root, request_id)
    outcomes = []
    for cid in contact_ids:
        done = ledger.outcome(cid)
        if done is not None:
            outcomes.append(done)
            continue
        # Intent first, on disk before the request leaves: whatever happens to the answer, a
        # later run knows this request may already have deleted the contact.
        sent_before = bool(ledger.record_attempt(cid))
        audit.append(data_root, "contact_delete_requested", request_id, contact_id=cid)
        try:
            result = client.delete_contact(cid)
            gone = result.already_deleted
            unanswered = sent_before or result.earlier_attempt_unanswered
        except NotFound:
            gone, unanswered = True, sent_before
        outcome, details = _delete_outcome(gone, unanswered)
        outcomes.append(ledger.record_outcome(cid, outcome, **details))
        audit.append(data_root, f"contact_{outcome}", request_id, contact_id=cid, **details)
    return outcomes


def delete_batch(client: IntercomClient, data_root: Path, request_id: str, contact_ids: Iterable[str]) -> DeletedBatch:
    """``delete_contacts`` for one fan-out batch, told in counts and the API calls it used."""
    before = api_calls(client)
    results = [outcome["result"] for outcome in delete_contacts(client, data_root, request_id, contact_ids)]
    return DeletedBatch(deleted=results.count("deleted"), already_deleted=results.count("already_deleted"),
                        api_calls=api_calls(client) - before)


def _delete_outcome(gone: bool, unanswered: bool) -> tuple[str, dict[str, str]]:
    if not gone:
        return "deleted", {"confirmed_by": "delete_answered"}
    if unanswered:
        return "deleted", {"confirmed_by": "404_after_unanswered_delete"}
    return "already_deleted", {"confirmed_by": "404_before_any_delete_by_this_request"}


# -- 5. verify ---------------------------------------------------------------------------------
def verify_deletion(client: IntercomClient, request: PrivacyRequest, data_root: Path, attempts: int = 3,
                    sleep: Callable[[float], None] = time.sleep) -> Verification:
    """GET each planned contact (expect 404) and search the email (expect nothing).

    Search indexes can lag a deletion by a little, so a non-empty search is re-checked a few times
    before the verification fails.
    """
    ledger = Ledger.open(data_root, request.request_id)
    planned = sorted(ledger.plan()["contacts"])
    still_there: list[str] = []
    remaining: list[str] = []
    for attempt in range(attempts):
        still_there = [cid for cid in planned if _exists(client, cid)]
        remaining = [str(c["id"]) for c in find_contacts(client, request)]
        if not still_there and not remaining:
            break
        if attempt + 1 < attempts:
            sleep(2.0 ** attempt)
    verification = Verification(verified=not still_there and not remaining, at=now_iso(),
                                get_returns_404=tuple(cid for cid in planned if cid not in still_there),
                                still_found_by_id=tuple(still_there), search_by_email_matches=len(remaining),
                                unplanned_matches=tuple(sorted(set(remaining) - set(planned))))
    audit.append(data_root, "deletion_verified" if verification.verified else "deletion_not_verified",
                 request.request_id, contacts=len(planned), still_found=len(still_there),
                 search_matches=len(remaining))
    if not verification.verified:
        raise DeletionNotVerified(
            f"request {request.request_id}: {len(still_there)} contact(s) still answer GET and a search by the "
            f"email still finds {len(remaining)} contact(s) ({len(verification.unplanned_matches)} not in the "
            "plan); re-run the request with the same request id to finish")
    return verification


def _exists(client: IntercomClient, contact_id: str) -> bool:
    from intercom_pipeline.intercom import NotFound

    try:
        client.get_contact(contact_id)
    except NotFound:
        return False
    return True


# -- erase local copies ------------------------------------------------------------------------
def erase_local(data_root: Path, request_id: str, workspace_id: str | None = None) -> dict[str, list[str]]:
    """Run every registered eraser over every contact of the request; merge into the ledger.

    The workspace defaults to the one the plan recorded, so this step needs no Intercom call.
    """
    ledger = Ledger.open(data_root, request_id)
    plan = ledger.plan()
    workspace_id = workspace_id or plan["workspace_id"]
    contact_ids = frozenset(plan["contacts"])
    rewritten = erasure_registry.erase_everywhere(data_root, workspace_id, contact_ids)
    audit.append(data_root, "local_copies_erased", request_id, contacts=len(contact_ids),
                 files={name: len(files) for name, files in rewritten.items()})
    return ledger.record_erasure(rewritten)


_relative = erasure_registry.relative


# -- 6. receipt --------------------------------------------------------------------------------
def write_receipt(data_root: Path, request: PrivacyRequest, verification: Verification,
                  api_calls_used: int) -> Path:
    ledger = Ledger.open(data_root, request.request_id)
    plan = ledger.plan()
    outcomes = ledger.outcomes()
    files = ledger.erasure()
    receipt = {
        "request": request.public_dict(data_root),
        "workspace_id": plan.get("workspace_id"),
        "target": plan.get("target"),
        "completed_at": now_iso(),
        "contacts": [{"id": cid, "role": info.get("role"), "result": outcomes.get(cid, {}).get("result"),
                      "source": info.get("source", "search_by_email"),
                      "at": outcomes.get(cid, {}).get("at"),
                      "confirmed_by": outcomes.get(cid, {}).get("confirmed_by"),
                      "conversations_removed_by_cascade": info.get("conversations", [])}
                     for cid, info in sorted(plan["contacts"].items())],
        "counts": {"contacts": len(plan["contacts"]),
                   "deleted": sum(1 for o in outcomes.values() if o["result"] == "deleted"),
                   "already_deleted": sum(1 for o in outcomes.values() if o["result"] == "already_deleted"),
                   "conversations_removed_by_cascade": sum(len(i.get("conversations", []))
                                                           for i in plan["contacts"].values()),
                   "local_files_rewritten": sum(len(v) for v in files.values())},
        "verification": verification.to_dict(),
        "local_erasure": files,
        "runs": plan.get("runs", 1),
        "api_calls_last_run": api_calls_used,
        "notes": [ARCHIVED_NOTE],
    }
    path = ledger.write(ledger.receipt_path, receipt)
    audit.append(data_root, "receipt_written", request.request_id, receipt=_relative(path, data_root),
                 subject_hash=request.subject_hash(data_root), **receipt["counts"])
    return path


# -- the whole request, without Dagster --------------------------------------------------------
def run_deletion(client: IntercomClient, request: PrivacyRequest, data_root: Path,
                 sleep: Callable[[float], None] = time.sleep) -> Path:
    """Run a deletion request end to end; returns the receipt (or, for a dry run, the preview)."""
    from intercom_pipeline.privacy.manual import guard

    start = api_calls(client)
    with guard(data_root, request, step="deletion"):
        audit.record_started(data_root, request)
        workspace_id = client.workspace_id
        plan = plan_deletion(client, request, data_root, workspace_id)
        if request.dry_run:
            audit.append(data_root, "request_completed", request.request_id, dry_run=True, result=plan.preview)
            return Path(plan.preview)
        delete_contacts(client, data_root, request.request_id, plan.pending)
        verification = verify_deletion(client, request, data_root, sleep=sleep)
        erase_local(data_root, request.request_id, workspace_id)
        receipt = write_receipt(data_root, request, verification, api_calls(client) - start)
        audit.append(data_root, "request_completed", request.request_id, result=_relative(receipt, data_root))
        return receipt
