"""The access package on disk: ``privacy/access/<request_id>/`` and its eraser.

A package is one JSON file per object type, ``manifest.json`` (the request with the email only
as a salted hash, the objects, counts, sha256 of every file and the API calls used) and a
human-readable ``report.md`` / ``report.html`` (privacy/report.py). It is built in a temp folder
and renamed into place (``storage.atomic_dir``); folder 0700, files 0600.

Records hold only the subject's data as the API returned it (selected and masked): no internal
keys. Which of the subject's contacts each record belongs to is kept in the manifest
(``links``: object -> record id -> contact ids); the eraser registered here uses it to remove a
contact deleted later from every earlier package, even when the requested field selection left the
API's own link fields out, and then rewrites the reports.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from intercom_pipeline import storage
from intercom_pipeline.erasure_registry import erasable, plan_row_drops, previewing_into
from intercom_pipeline.intercom import IntercomClient
from intercom_pipeline.privacy import report
from intercom_pipeline.privacy.access import ContactData, Masker, select
from intercom_pipeline.privacy.requests import OBJECT_TYPES, PrivacyRequest

LINK = "_subject_contact_ids"  # in memory between assemble and write_package; never written (format 1 did)
FORMAT_VERSION = 2
REPORTS = ("report.md", "report.html")


def access_root(data_root: Path) -> Path:
    return data_root / "privacy" / "access"


def package_dir(data_root: Path, request_id: str) -> Path:
    return access_root(data_root) / request_id


def staging_dir(data_root: Path, request_id: str) -> Path:
    """Where per-contact steps leave their results until the package is written (0700/0600)."""
    storage.ensure_dir(data_root / "privacy", private=True)
    storage.ensure_dir(access_root(data_root), private=True)
    storage.ensure_dir(access_root(data_root) / ".staging", private=True)
    return storage.ensure_dir(access_root(data_root) / ".staging" / request_id, private=True)


def part_to_json(parts: list[ContactData], companies: dict[str, dict[str, Any]], api_calls: int) -> dict[str, Any]:
    return {
        "contacts": [vars(part) for part in parts],
        "companies": companies,
        "api_calls": api_calls,
    }


def assemble(request: PrivacyRequest, parts: Iterable[dict[str, Any]]) -> tuple[dict[str, list[dict[str, Any]]], int]:
    """Merge per-contact parts into one record list per selected object type."""
    contacts: list[dict[str, Any]] = []
    companies: dict[str, dict[str, Any]] = {}
    links: dict[str, dict[str, set[str]]] = {name: {} for name in OBJECT_TYPES}
    rows: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in OBJECT_TYPES}
    api_calls = 0
    for part in parts:
        api_calls += int(part.get("api_calls", 0))
        companies.update(part.get("companies", {}))
        for item in part["contacts"]:
            contact_id = str(item["contact"]["id"])
            contacts.append(item["contact"])
            for company_id in item["company_ids"]:
                links["companies"].setdefault(company_id, set()).add(contact_id)
            for name in ("notes", "conversations", "tickets"):
                for record in item[name]:
                    rows[name][str(record["id"])] = record
                    links[name].setdefault(str(record["id"]), set()).add(contact_id)
    subject_ids = sorted(str(c["id"]) for c in contacts)
    rows["contacts"] = {str(c["id"]): c for c in contacts}
    rows["companies"] = {cid: companies[cid] for cid in links["companies"] if cid in companies}
    links["contacts"] = {cid: {cid} for cid in rows["contacts"]}
    masker = Masker(subject_ids, request)
    out: dict[str, list[dict[str, Any]]] = {}
    for name in OBJECT_TYPES:
        selection = request.objects[name]
        if not selection.include:
            continue
        records = [rows[name][key] for key in sorted(rows[name])]
        if name in ("conversations", "tickets"):
            records = [masker.mask(record) for record in records]
        selected = select(records, selection)
        for record in selected:
            record[LINK] = sorted(links[name].get(str(record["id"]), set()))
        out[name] = selected
    return out, api_calls


def write_package(data_root: Path, request: PrivacyRequest, target: Mapping[str, Any],
                  objects: dict[str, list[dict[str, Any]]], api_calls: int) -> Path:
    """Write the package atomically and return its folder. ``target`` (``connections.Target.to_dict()``)
    names the workspace, region and API host it came from, and whether that was the fake."""
    folder = package_dir(data_root, request.request_id)
    storage.ensure_dir(data_root / "privacy", private=True)
    storage.ensure_dir(access_root(data_root), private=True)
    links = {name: {str(r["id"]): r[LINK] for r in records} for name, records in objects.items()}
    objects = {name: [{k: v for k, v in r.items() if k != LINK} for r in records] for name, records in objects.items()}
    with storage.atomic_dir(folder, private=True) as tmp:
        manifest_objects = {}
        for name, records in objects.items():
            path = storage.write_json(tmp / f"{name}.json", {"object_type": name, "records": records}, private=True)
            manifest_objects[name] = {"file": path.name, "count": len(records), "sha256": _sha256(path),
                                      "selection": request.objects[name].to_dict()}
        manifest = {
            "format": FORMAT_VERSION,
            "request": request.public_dict(data_root),
            "workspace_id": target["app_id"],
            "target": dict(target),
            "created_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
            "objects": manifest_objects,
            "counts": {name: len(records) for name, records in objects.items()},
            # Lets the eraser skip packages of other subjects by reading this small file only.
            "contact_ids": sorted({cid for ids in links.values() for cs in ids.values() for cid in cs}),
            "links": links,
            "identifier_masked": report.mask_email(request.email),
            "reports": list(REPORTS),
            "api_calls": api_calls,
            "erasures": [],
        }
        storage.write_json(tmp / "manifest.json", manifest, private=True)
        write_reports(tmp, manifest)
    return folder


def workspace_label(manifest: dict[str, Any]) -> str:
    """The workspace as the report names it: its app id, and, when the package records its target
    (connections.Target), the region and API host, and whether it was the fake."""
    target = manifest.get("target")
    if not isinstance(target, dict) or not target.get("api_host"):
        return str(manifest["workspace_id"])
    region = f", region {target['region']}" if target.get("region") else ""
    fake = " — the embedded fake Intercom, not a real workspace" if target.get("fake") else ""
    return f"{target.get('app_id') or manifest['workspace_id']} ({target['api_host']}{region}){fake}"


def write_reports(folder: Path, manifest: dict[str, Any]) -> None:
    built = report.build(manifest, manifest["identifier_masked"], workspace_label(manifest))
    storage.write_bytes(folder / "report.md", report.markdown(built).encode(), private=True)
    storage.write_bytes(folder / "report.html", report.to_html(built).encode(), private=True)


def discard_staging(data_root: Path, request_id: str) -> None:
    shutil.rmtree(access_root(data_root) / ".staging" / request_id, ignore_errors=True)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@erasable("privacy.access_packages", previews=True)
def erase_access_packages(data_root: Path, workspace_id: str, contact_ids: frozenset[str]) -> list[Path]:
    """Remove deleted contacts' records from every earlier access package of the workspace."""
    changed: list[Path] = []
    root = access_root(data_root)
    if not root.exists() or not contact_ids:
        return changed
    for manifest_path in sorted(root.glob("*/manifest.json")):
        if manifest_path.parent.name.startswith("."):
            continue
        manifest = storage.read_json(manifest_path)
        if manifest.get("workspace_id") != workspace_id:
            continue
        if "contact_ids" in manifest and not set(manifest["contact_ids"]) & contact_ids:
            continue
        changed.extend(_erase_package(manifest_path, manifest, contact_ids))
    return changed


def _erase_package(manifest_path: Path, manifest: dict[str, Any], contact_ids: frozenset[str]) -> list[Path]:
    changed: list[Path] = []
    removed: dict[str, int] = {}
    relinked = False
    for name, info in manifest.get("objects", {}).items():
        path = manifest_path.parent / info["file"]
        payload = storage.read_json(path)
        links = manifest.get("links", {}).get(name, {})
        kept, dropped = [], 0
        for record in payload["records"]:
            linked = set(links.get(str(record.get("id")), record.get(LINK, [])))
            if linked and linked <= contact_ids:
                dropped += 1
                links.pop(str(record.get("id")), None)
                continue
            if linked & contact_ids:
                relinked = True
                links[str(record.get("id"))] = sorted(linked - contact_ids)
                if LINK in record:  # a format-1 package
                    record = {**record, LINK: sorted(linked - contact_ids)}
            kept.append(record)
        if kept == payload["records"]:
            continue
        if previewing_into() is not None:  # a dry run: say what would go, write nothing
            plan_row_drops(path, len(payload["records"]), range(dropped))
            continue
        storage.write_json(path, {**payload, "records": kept}, private=True)
        info.update(count=len(kept), sha256=_sha256(path))
        manifest["counts"][name] = len(kept)
        removed[name] = dropped
        changed.append(path)
    if (changed or relinked) and previewing_into() is None:
        manifest["contact_ids"] = sorted(set(manifest.get("contact_ids", [])) - contact_ids)
        manifest["erasures"].append({"at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
                                     "contact_ids": sorted(contact_ids), "removed": removed})
        storage.write_json(manifest_path, manifest, private=True)
        changed.append(manifest_path)
        if "identifier_masked" in manifest:
            write_reports(manifest_path.parent, manifest)
            changed += [manifest_path.parent / name for name in REPORTS]
    return changed


# -- the whole request, without Dagster --------------------------------------------------------
def collect_batch(client: IntercomClient, request: PrivacyRequest, contacts: list[dict[str, Any]]) -> dict[str, Any]:
    """Fetch everything for a batch of contacts; the JSON-able part ``assemble`` takes."""
    from intercom_pipeline.privacy.access import collect_contact
    from intercom_pipeline.privacy.deletion import api_calls

    start = api_calls(client)
    companies: dict[str, dict[str, Any]] = {}
    threads: dict[str, dict[str, Any]] = {}
    parts = [collect_contact(client, contact, request, companies, threads) for contact in contacts]
    return part_to_json(parts, companies, api_calls(client) - start)


def run_access(client: IntercomClient, request: PrivacyRequest, data_root: Path,
               target: Mapping[str, Any] | None = None) -> Path:
    """Run an access request end to end and return the package folder."""
    from intercom_pipeline.privacy import audit
    from intercom_pipeline.privacy.access import find_contacts
    from intercom_pipeline.privacy.deletion import api_calls
    from intercom_pipeline.privacy.manual import guard

    with guard(data_root, request, step="access"):
        audit.record_started(data_root, request)
        start = api_calls(client)
        target = target or {"app_id": client.workspace_id}
        contacts = find_contacts(client, request)
        search_calls = api_calls(client) - start
        part = collect_batch(client, request, contacts)
        objects, calls = assemble(request, [part])
        path = write_package(data_root, request, target, objects, calls + search_calls)
        audit.append(data_root, "request_completed", request.request_id, result=str(path.relative_to(data_root)),
                     counts={name: len(records) for name, records in objects.items()})
        return path
