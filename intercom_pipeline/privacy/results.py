"""What one privacy step hands the next: small frozen dataclasses, no Dagster.

The access and deletion jobs run each step in its own op; these are the values that travel between
them (through Dagster's IO manager, which pickles them) and between the plain functions that
``run_access`` / ``run_deletion`` chain. They carry ids, counts and paths only: contact records
travel through private staging files, and the email never leaves the sealed request.

Files on disk (ledger, preview, receipt, manifest) keep their JSON format, read and written as
before (``Verification.to_dict`` at the receipt's edge), so a request written by an earlier version
still resumes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ContactBatch:
    """The contact ids one fan-out step works on (its mapping key is neutral: ``c_<n>``)."""

    contact_ids: tuple[str, ...]


@dataclass(frozen=True)
class FetchedBatch:
    """One access batch fetched: the staging file its records were written to, and what it cost."""

    part: str
    contacts: int
    api_calls: int


@dataclass(frozen=True)
class DeletionPlan:
    """Every contact of a deletion request, those still to delete, and the preview written."""

    request_id: str
    contacts: tuple[str, ...]
    pending: tuple[str, ...]
    conversations: int
    preview: str
    dry_run: bool

    def summary(self, api_calls: int) -> PlanSummary:
        """The plan as it travels to the verify step: counts, not ids."""
        return PlanSummary(request_id=self.request_id, dry_run=self.dry_run, preview=self.preview,
                           api_calls=api_calls, contacts=len(self.contacts), pending=len(self.pending),
                           conversations=self.conversations)


@dataclass(frozen=True)
class PlanSummary:
    """A deletion plan in counts, and the API calls finding it took."""

    request_id: str
    dry_run: bool
    preview: str
    api_calls: int
    contacts: int
    pending: int
    conversations: int


@dataclass(frozen=True)
class DeletedBatch:
    """One deletion batch done: how many this request deleted, how many were already gone."""

    deleted: int
    already_deleted: int
    api_calls: int


@dataclass(frozen=True)
class Verification:
    """The proof of a deletion, as the receipt's ``verification`` object records it."""

    verified: bool
    at: str
    get_returns_404: tuple[str, ...]
    still_found_by_id: tuple[str, ...]
    search_by_email_matches: int
    unplanned_matches: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """The receipt's JSON form (tuples as lists)."""
        return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()}


@dataclass(frozen=True)
class VerifiedDeletion:
    """A verified deletion and the API calls the whole run used, on its way to the receipt."""

    verification: Verification
    api_calls: int

