"""One discovery partition (an object on a date): count, sample, classify, write.

This is the plain-Python core behind the discovery assets and the benchmark; ``defs/discovery.py``
only wires it to Dagster.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from intercom_pipeline.discovery import classify, counts, objects, sample_selection, sample_store
from intercom_pipeline.discovery.classify import ClassifierConfig
from intercom_pipeline.discovery.sample_selection import Sample, SampleConfig
from intercom_pipeline.intercom import IntercomClient
from intercom_pipeline.tables import partition_files

# Parents that state their item count (a contact's notes.total_count, a conversation's
# count_conversation_parts) are all walked when that costs at most this many search pages: the
# count is then exact instead of estimated (2,000 contacts: 14 calls).
EXACT_WALK_PAGES = 40
COMPANY_LIST_LIMIT = 10_000  # POST /companies/list serves at most this many companies by page
COMPANY_PAGE = 50
PAGE = 150  # search page size


@dataclass
class Collected:
    obj: str
    day: str
    sample: Sample
    count_rows: list[dict[str, Any]] = field(default_factory=list)


def day_end(day: str, timezone: str = "UTC") -> int:
    """Epoch second of the midnight that ends ``day`` in the workspace's time zone.

    A partition covers records created before it. Search compares dates by day in that zone, so
    ``created_at < day_end`` is then exact for counts as well as for samples.
    """
    following = date.fromisoformat(day) + timedelta(days=1)
    return int(datetime.combine(following, datetime.min.time(), ZoneInfo(timezone)).timestamp())


def collect(client: IntercomClient, workspace_id: str, obj: str, day: str, config: SampleConfig | None = None) -> Collected:
    """Read the API for one object: its sample and its count rows."""
    objects.check_object(obj)
    config = config or SampleConfig()
    seed = sample_selection.seed_for(workspace_id, obj, day)
    until = day_end(day, client.workspace_timezone)
    if obj in objects.SEARCHABLE:
        sample = sample_selection.stratified_search(client, obj, config.size, seed, until, config, _window_query(client))
        return Collected(obj, day, sample, counts.exact_rows(client, obj, until=until))
    if obj in PARENTS:
        return _per_parent(client, workspace_id, obj, day, config, seed, until)
    if obj == "companies":
        sample = _company_pages(client, config, seed, until)
        return Collected(obj, day, sample, counts.exact_rows(client, obj))
    listed = _before(list(_lister(client, obj)()), until)
    sample = sample_selection.systematic_over_time(listed, config.size, seed)
    return Collected(obj, day, sample, counts.exact_rows(client, obj, listed=len(listed), until=until))


def _company_pages(client: IntercomClient, config: SampleConfig, seed: int, until: int) -> Sample:
    """Pages spread evenly over the company list (ordered by last activity), one stratum each.

    Page-number lists allow random access, so ``strata`` pages cost ``strata`` calls however many
    companies there are (the list serves the first 10,000 only)."""
    def page(number: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        body = client.request("POST", "/companies/list", params={"page": number, "per_page": COMPANY_PAGE})
        return _before(list(body.get("data") or body.get("companies") or []), until), body

    first, body = page(1)
    total_pages = int((body.get("pages") or {}).get("total_pages") or 1)
    last = max(1, min(total_pages, COMPANY_LIST_LIMIT // COMPANY_PAGE))
    count = max(1, min(config.strata, last))
    numbers = sorted({1 + (last - 1) * i // max(1, count - 1) for i in range(count)})
    pages = [first] + [page(n)[0] for n in numbers if n != 1]
    rng = random.Random(seed)
    sample = Sample(stratum_sizes=[len(p) for p in pages], seen=pages, method=(
        f"{len(pages)} pages of {COMPANY_PAGE} spread over {total_pages} list pages (by last activity), "
        f"even allocation, seeded draw" + (" (list capped at 10,000)" if last < total_pages else "")))
    for index, (cands, k) in enumerate(zip(pages, sample_selection.allocate(config.size, [len(p) for p in pages]),
                                           strict=True)):
        chosen = sample_selection.draw(cands, k, rng)
        sample.records.extend(chosen)
        sample.strata.extend([index] * len(chosen))
    return sample


def _lister(client: IntercomClient, obj: str) -> Callable[[], Iterable[dict[str, Any]]]:
    return {"articles": client.list_articles, "news_items": client.news_items, "newsfeeds": client.newsfeeds,
            "admins": lambda: _admins_with_avatars(client)}[obj]


def _admins_with_avatars(client: IntercomClient) -> list[dict[str, Any]]:
    # GET /admins leaves avatars out unless asked (display_avatar); an avatar URL is personal data.
    page = client.request("GET", "/admins", params={"display_avatar": "true"})
    return list(page.get("admins") or page.get("data") or [])


def _before(records: list[dict[str, Any]], until: int) -> list[dict[str, Any]]:
    # Records without a creation time (admins) count as present.
    return [r for r in records if int(r.get("created_at") or 0) < until]


def _window_query(client: IntercomClient) -> Callable[[str, int, int], dict[str, Any]]:
    from intercom_pipeline.intercom import q

    timezone = client.workspace_timezone

    def build(field_name: str, start: int, end: int) -> dict[str, Any]:
        return q.updated_window(field_name, start, end, timezone)

    return build


@dataclass(frozen=True)
class _Parent:
    resource: str  # searchable parent the items hang off
    summary: tuple[str, str] | None  # where a parent record states its item count, if anywhere


PARENTS = {
    "notes": _Parent("contacts", ("notes", "total_count")),
    "events": _Parent("contacts", None),
    "conversation_parts": _Parent("conversations", ("statistics", "count_conversation_parts")),
}


def _children(client: IntercomClient, obj: str, parent: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """A parent's items and the contact ids they belong to."""
    pid = str(parent["id"])
    if obj == "notes":
        return list(client.contact_notes(pid)), [pid]
    if obj == "events":
        return list(client.contact_events(pid)), [pid]
    full = client.get_conversation(pid)
    parts = ((full.get("conversation_parts") or {}).get("conversation_parts")) or []
    return parts, objects.linked_contacts("conversations", full)


def _per_parent(client: IntercomClient, workspace_id: str, obj: str, day: str, config: SampleConfig, seed: int,
                until: int) -> Collected:
    """Notes, events, conversation parts: read a stratified sample of parents' items, sample them,
    and estimate the total from the per-parent counts."""
    spec = PARENTS[obj]
    parent_seed = sample_selection.seed_for(workspace_id, f"{spec.resource}-for-{obj}", day)
    parents = sample_selection.stratified_search(client, spec.resource, config.size, parent_seed, until, config,
                                         _window_query(client))
    known = _summary_counts(parents, spec.summary)  # counts the candidate parents already state
    if known:  # read only parents that have items: every call then adds records to the sample
        _redraw_with_items(parents, known, config.size, parent_seed)
    pool: list[dict[str, Any]] = []
    links: list[list[str]] = []

    def read(item: tuple[dict[str, Any], int]) -> tuple[str, int, list[dict[str, Any]], list[str]]:
        parent, stratum = item
        children, linked = _children(client, obj, parent)
        return str(parent["id"]), stratum, children, linked

    for pid, stratum, children, linked in client.map(read, list(zip(parents.records, parents.strata, strict=True))):
        known[pid] = (len(children), stratum)
        for child in children:
            pool.append(child)
            author = child.get("author") or {}
            extra = [str(author["id"])] if obj == "conversation_parts" and author.get("type") in ("user", "lead") else []
            links.append(list(dict.fromkeys(linked + extra)))
    sample = sample_selection.systematic_over_time(pool, config.size, seed, links=links)
    sample.method = f"{len(parents.records)} {spec.resource} read ({parents.method}); then " + sample.method
    per_parent = {pid: n for pid, (n, _h) in known.items()}
    parent_strata = {pid: h for pid, (_n, h) in known.items()}
    census = _census(client, spec, until, sum(parents.stratum_sizes))
    if census is not None:
        stated, pages = census
        rows = counts.summed_rows(stated, len(stated), pages, spec.resource)
    else:
        rows = counts.estimate_rows(per_parent, parent_strata, parents.stratum_sizes, unit=spec.resource)
    return Collected(obj, day, sample, rows)


def _census(client: Any, spec: _Parent, until: int, parents: int) -> tuple[dict[str, int], int] | None:
    """Every parent's stated item count, when the parents fit in ``EXACT_WALK_PAGES`` pages."""
    from intercom_pipeline.intercom import q

    if spec.summary is None or parents > EXACT_WALK_PAGES * PAGE:
        return None
    outer, inner = spec.summary
    stated: dict[str, int] = {}
    for record in client.search(spec.resource, q.where("created_at", "<", until), per_page=PAGE):
        total = (record.get(outer) or {}).get(inner)
        if int(record.get("created_at") or 0) >= until:
            continue
        if not isinstance(total, int) or isinstance(total, bool):
            return None  # a parent that does not state its count: estimate instead
        stated[str(record["id"])] = total
    return stated, max(1, -(-len(stated) // PAGE))


def _redraw_with_items(parents: Sample, known: dict[str, tuple[int, int]], size: int, seed: int) -> None:
    rng = random.Random(seed)
    having = [[c for c in cands if known.get(str(c["id"]), (0, 0))[0] > 0] for cands in parents.seen]
    parents.records, parents.strata = [], []
    for index, (cands, k) in enumerate(zip(having, sample_selection.allocate(size, [len(h) for h in having]), strict=True)):
        chosen = sample_selection.draw(cands, k, rng)
        parents.records.extend(chosen)
        parents.strata.extend([index] * len(chosen))
    parents.method += "; parents drawn among those that state at least one item"


def _summary_counts(parents: Sample, summary: tuple[str, str] | None) -> dict[str, tuple[int, int]]:
    """Parent records often state their item count (a contact's ``notes.total_count``): every
    candidate seen in the search pages then adds to the estimate at no extra call."""
    if summary is None:
        return {}
    outer, inner = summary
    known = {}
    for stratum, candidates in enumerate(parents.seen):
        for record in candidates:
            total = (record.get(outer) or {}).get(inner)
            if isinstance(total, int) and not isinstance(total, bool):
                known[str(record["id"])] = (total, stratum)
    return known


def write_collected(data_root: Path, workspace_id: str, collected: Collected, now: datetime) -> dict[str, Any]:
    """Write the sample (0600) and the counts; returns paths and row counts for metadata."""
    sample_path, sample_table = sample_store.write_sample(data_root, workspace_id, collected.obj, collected.day,
                                                    collected.sample, now)
    rows = [row | {"sampled_records": sample_table.num_rows, "counted_at": now} for row in collected.count_rows]
    counts_path = partition_files.object_part(data_root, "counts", workspace_id, collected.obj, collected.day)
    partition_files.write_rows(counts_path, "counts", rows)
    return {"sample_path": sample_path, "sample_rows": sample_table.num_rows, "counts_path": counts_path,
            "count_rows": rows, "method": collected.sample.method}


def counts_of_day(data_root: Path, workspace_id: str, day: str) -> dict[str, list[dict[str, Any]]]:
    """The count rows of every object counted on ``day`` (objects not counted yet are left out)."""
    found = {}
    for obj in objects.OBJECT_NAMES:
        rows = partition_files.read_rows(partition_files.object_part(data_root, "counts", workspace_id, obj, day))
        if rows:
            found[obj] = rows
    return found


def classify_partition(data_root: Path, workspace_id: str, obj: str, day: str, now: datetime,
                       config: ClassifierConfig | None = None) -> tuple[Path, list[dict[str, Any]]]:
    """Classify the fields of one sample partition and write the classification rows."""
    sample_path = partition_files.object_part(data_root, "samples", workspace_id, obj, day)
    if not sample_path.exists():
        raise FileNotFoundError(f"no sample for object={obj} date={day}: materialize discovery_samples first")
    rows = classify.classify_records(sample_store.read_records(sample_path), obj, config, now)
    path = partition_files.object_part(data_root, "classification", workspace_id, obj, day)
    partition_files.write_rows(path, "classification", rows)
    return path, rows


def sampled_fields(data_root: Path, workspace_id: str, obj: str, day: str) -> set[str]:
    path = partition_files.object_part(data_root, "samples", workspace_id, obj, day)
    values, _n = classify.field_values(sample_store.read_records(path))
    return set(values)
