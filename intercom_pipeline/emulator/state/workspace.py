"""Workspace-level objects: /me, admins, teams, tags, segments, data attributes and legacy /counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from intercom_pipeline.emulator.errors import bad_request
from intercom_pipeline.emulator.serialize import Record

if TYPE_CHECKING:
    from intercom_pipeline.emulator.state import Backend

MODELS = ("contact", "company", "conversation")
DATA_TYPES = ("string", "integer", "float", "boolean", "date")


class Workspace:
    def __init__(self, app: Record, me: Record, admins: list[Record], teams: list[Record],
                 tags: list[Record], segments: list[Record], attributes: list[Record],
                 contact_segments: list[tuple[str, str]], clock: Callable[[], float]):
        self.app, self.me_admin = app, me
        self.admins, self.teams, self.tags, self.segments = admins, teams, tags, segments
        self.attributes = attributes  # shared with the search schemas: additions become searchable
        self.clock = clock
        self.tags_by_id = {str(t["id"]): t for t in tags}
        self.segment_sizes = Counter(sid for _, sid in contact_segments)
        self.added: list[dict[str, str]] = []

    def me(self) -> Record:
        return self.me_admin if "app" in self.me_admin else {**self.me_admin, "app": self.app}

    def admin_list(self, display_avatar: bool) -> Record:
        admins = self.admins if display_avatar else [
            {k: v for k, v in a.items() if k != "avatar"} for a in self.admins]
        return {"type": "admin.list", "admins": admins}

    def tag_ref(self, tag_id: str) -> Record | None:
        tag = self.tags_by_id.get(str(tag_id))
        return None if tag is None else {"type": "tag", "id": str(tag["id"]), "name": tag.get("name")}

    def tag_list(self) -> Record:
        return {"type": "list", "data": self.tags}

    def segment_list(self, include_count: bool) -> Record:
        out = []
        for seg in self.segments:
            item = {k: v for k, v in seg.items() if k != "count"}
            if include_count:
                item["count"] = seg.get("count", self.segment_sizes.get(str(seg["id"]), 0))
            out.append(item)
        return {"type": "segment.list", "segments": out}

    def team_list(self) -> Record:
        return {"type": "team.list", "teams": self.teams}

    def data_attributes(self, model: str | None, include_archived: bool) -> Record:
        if model is not None and model not in MODELS:
            raise bad_request(f"model must be one of {', '.join(MODELS)}, got {model!r}", field="model")
        data = [a for a in self.attributes
                if (model is None or a.get("model") == model) and (include_archived or not a.get("archived"))]
        return {"type": "list", "data": data}

    def add_data_attribute(self, model: str, name: str, data_type: str) -> Record:
        if model not in ("contact", "company"):
            raise bad_request(f"model must be contact or company, got {model!r}", field="model")
        if data_type not in DATA_TYPES:
            raise bad_request(f"data_type must be one of {', '.join(DATA_TYPES)}", field="data_type")
        if not name or any(a.get("model") == model and a.get("name") == name for a in self.attributes):
            raise bad_request(f"attribute {name!r} already exists or is empty", field="name")
        now = int(self.clock())
        next_id = max([a["id"] for a in self.attributes if isinstance(a.get("id"), int)] + [0]) + 1
        attr = {"type": "data_attribute", "id": next_id, "model": model, "name": name,
                "full_name": f"custom_attributes.{name}", "label": name, "description": "",
                "data_type": data_type, "options": [], "api_writable": True, "ui_writable": True,
                "messenger_writable": False, "custom": True, "archived": False,
                "admin_id": str(self.me_admin.get("id")), "created_at": now, "updated_at": now}
        self.attributes.append(attr)
        self.added.append({"model": model, "name": name, "data_type": data_type})
        return attr


def counts_body(backend: Backend, kind: str | None, count: str | None) -> dict[str, Any]:
    """GET /counts (legacy, DOCS "Counts" pages; not in any OpenAPI file)."""
    truth = backend.counts_truth()
    ws = backend.workspace
    if kind is None:
        return {"type": "count.hash", "company": {"count": truth["companies"]},
                "user": {"count": truth["users"]}, "lead": {"count": truth["leads"]},
                "tag": {"count": len(ws.tags)}, "segment": {"count": len(ws.segments)}}
    if kind == "conversation":
        if count is None:
            return {"type": "count", "conversation": backend.conversations.counts()}
        if count == "admin":
            return {"type": "count", "conversation": {"admin": _admin_counts(backend)}}
    if kind == "user":
        if count is None:
            return {"type": "count", "user": {"count": truth["users"]}}
        if count in ("tag", "segment"):
            return {"type": "count", "user": {count: _user_counts(backend, count)}}
    if kind == "company":
        if count is None:
            return {"type": "count", "company": {"count": truth["companies"]}}
        if count in ("tag", "segment", "user"):
            return {"type": "count", "company": {count: _company_counts(backend, count)}}
    raise bad_request(f"Unsupported counts query type={kind!r} count={count!r}", field="type")


def _admin_counts(backend: Backend) -> list[dict[str, Any]]:
    conv = backend.conversations
    per: dict[str, Counter[Any]] = {}
    for i, rec in enumerate(conv.coll.records):
        if conv.coll.live[i] and rec.get("admin_assignee_id"):
            per.setdefault(str(rec["admin_assignee_id"]), Counter())[rec.get("state")] += 1
    return [{"id": str(a["id"]), "name": a.get("name"), "open": per.get(str(a["id"]), Counter())["open"],
             "closed": per.get(str(a["id"]), Counter())["closed"]} for a in backend.workspace.admins]


def _user_counts(backend: Backend, count: str) -> list[dict[str, int]]:
    ws, contacts = backend.workspace, backend.contacts
    if count == "segment":
        return [{s["name"]: ws.segment_sizes.get(str(s["id"]), 0)} for s in ws.segments]
    visible = contacts.visible()
    sizes: Counter[str] = Counter()
    for cid, tags in contacts.tags_of.items():
        i = contacts.coll.index(cid)
        if i is not None and visible[i]:
            sizes.update(tags)
    return [{t["name"]: sizes.get(str(t["id"]), 0)} for t in ws.tags]


def _company_counts(backend: Backend, count: str) -> list[dict[str, Any]]:
    comps = backend.companies
    if count == "user":
        return [{r["name"]: len(comps.members.get(r["id"], ())), "remote_company_id": r.get("company_id")}
                for r in comps.coll.records]
    key, inner = ("tags", "tags") if count == "tag" else ("segments", "segments")
    sizes: Counter[str] = Counter()
    for r in comps.coll.records:
        sizes.update(str(x.get("id")) for x in (r.get(key) or {}).get(inner, []))
    source = backend.workspace.tags if count == "tag" else backend.workspace.segments
    return [{s["name"]: sizes.get(str(s["id"]), 0)} for s in source]
