"""The resource methods of ``IntercomClient``: one short method per endpoint, each naming its
pagination style and envelope keys (intercom-api §2.1). Records are yielded as raw dicts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

from . import _pagination as pg
from ._errors import InvalidResponse, NotFound

if TYPE_CHECKING:
    from ._config import ClientConfig
    from ._inflight import InFlightLimit
    from ._models import ClientStats
    from ._ratelimit import RateBudget

__all__: list[str] = []

COMPANY_LIST_MAX = 60  # POST /companies/list answers 400 "Per Page is too big" above 60
SEARCH_KEYS = {"contacts": ("data",), "conversations": ("conversations",), "tickets": ("tickets",)}


class EndpointsMixin:
    """Mixed into ``IntercomClient``, which provides what is declared here without a body."""

    config: ClientConfig
    stats: ClientStats
    budget: RateBudget
    _inflight: InFlightLimit  # requests in flight, sized from the budget and the observed latency
    _sleep: Callable[[float], None]

    request: Callable[..., Any]  # IntercomClient.request: one call with pacing and retries

    if TYPE_CHECKING:

        @property
        def workspace_id(self) -> str: ...

        @property
        def workspace_timezone(self) -> str: ...

    def _object(self, method: str, template: str, **kw: Any) -> dict[str, Any]:
        """One call whose answer must be a JSON object (a single record, a count, a page)."""
        body = self.request(method, template, **kw)
        if not isinstance(body, dict):
            raise InvalidResponse(f"{method} {template} answered {type(body).__name__}, expected a JSON object")
        return body

    def _fetch(self, method: str, template: str, path: dict[str, Any] | None = None) -> Callable[..., Any]:
        return partial(self.request, method, template, path=path)

    def _per_page(self, per_page: int | None) -> int:
        size = per_page or self.config.page_size
        if not 1 <= size <= 150:
            raise ValueError(f"per_page must be 1..150; got {size}")
        return size

    # -- search ------------------------------------------------------------------------------
    def search(
        self, resource: str, query: dict[str, Any], per_page: int | None = None, sort: dict[str, str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every record of ``POST /{resource}/search`` matching ``query`` (build it with ``q``)."""
        keys = _search_keys(resource)
        body: dict[str, Any] = {"query": query, "pagination": {"per_page": self._per_page(per_page)}}
        if sort:
            body["sort"] = sort
        return pg.search_in_body(self._fetch("POST", f"/{resource}/search"), keys, body)

    def search_total(self, resource: str, query: dict[str, Any]) -> int:
        _search_keys(resource)
        page = self._object("POST", f"/{resource}/search", json={"query": query, "pagination": {"per_page": 1}})
        return int(page.get("total_count") or 0)

    # -- contacts ----------------------------------------------------------------------------
    def list_contacts(self, per_page: int | None = None) -> Iterator[dict[str, Any]]:
        return pg.cursor_in_query(self._fetch("GET", "/contacts"), ("data",), {"per_page": self._per_page(per_page)})

    def get_contact(self, contact_id: str) -> dict[str, Any]:
        return self._object("GET", "/contacts/{id}", path={"id": contact_id})

    def archive_contact(self, contact_id: str) -> dict[str, Any]:
        return self._object("POST", "/contacts/{id}/archive", path={"id": contact_id})

    def unarchive_contact(self, contact_id: str) -> dict[str, Any]:
        return self._object("POST", "/contacts/{id}/unarchive", path={"id": contact_id})

    def contact_companies(self, contact_id: str, per_page: int | None = None) -> Iterator[dict[str, Any]]:
        fetch = self._fetch("GET", "/contacts/{id}/companies", {"id": contact_id})
        return pg.page_number(fetch, ("companies", "data"), {"per_page": self._per_page(per_page)})

    def contact_notes(self, contact_id: str, per_page: int | None = None) -> Iterator[dict[str, Any]]:
        fetch = self._fetch("GET", "/contacts/{id}/notes", {"id": contact_id})
        return pg.page_number(fetch, ("data", "notes"), {"per_page": self._per_page(per_page)})

    def contact_tags(self, contact_id: str) -> list[dict[str, Any]]:
        page = self._object("GET", "/contacts/{id}/tags", path={"id": contact_id})
        return pg.items_of(page, ("data", "tags"))

    def contact_events(self, contact_id: str, per_page: int | None = None) -> Iterator[dict[str, Any]]:
        params = {"type": "user", "intercom_user_id": contact_id, "per_page": self._per_page(per_page)}
        return pg.next_url(self._fetch("GET", "/events"), ("events",), params)

    def event_summaries(self, contact_id: str) -> list[dict[str, Any]]:
        page = self.request("GET", "/events", params={"type": "user", "intercom_user_id": contact_id, "summary": "true"})
        return pg.items_of(page, ("events",))

    # -- companies ---------------------------------------------------------------------------
    def get_company(self, company_id: str) -> dict[str, Any]:
        return self._object("GET", "/companies/{id}", path={"id": company_id})

    def find_company(self, *, company_id: str | None = None, name: str | None = None) -> dict[str, Any] | None:
        """``GET /companies?company_id=`` (your id) or ``?name=``; None when there is none."""
        if (company_id is None) == (name is None):
            raise ValueError("find_company needs exactly one of company_id= or name=")
        params = {"company_id": company_id} if company_id is not None else {"name": name}
        try:
            return self._object("GET", "/companies", params=params)
        except NotFound:
            return None

    def list_companies(self, per_page: int | None = None) -> Iterator[dict[str, Any]]:
        """``POST /companies/list`` by page number (capped at 10,000 by Intercom: scroll beyond)."""
        fetch = self._fetch("POST", "/companies/list")
        size = min(self._per_page(per_page), COMPANY_LIST_MAX)
        return pg.page_number(fetch, ("data", "companies"), {"per_page": size})

    def scroll_companies(self) -> Iterator[dict[str, Any]]:
        """Every company via the scroll API: one scroll at a time per workspace, restarting on expiry."""
        lock = pg.scroll_lock(self.workspace_id)
        return pg.company_scroll(self._fetch("GET", "/companies/scroll"), ("data", "companies"), {}, lock=lock, sleep=self._sleep)

    # -- the rest ----------------------------------------------------------------------------
    def get_note(self, note_id: str) -> dict[str, Any]:
        return self._object("GET", "/notes/{id}", path={"id": note_id})

    def data_attributes(self, model: str, include_archived: bool = False) -> list[dict[str, Any]]:
        if model not in ("contact", "company", "conversation"):
            raise ValueError(f"data_attributes model must be contact, company or conversation; got {model!r}")
        params = {"model": model, "include_archived": "true" if include_archived else "false"}
        return pg.items_of(self.request("GET", "/data_attributes", params=params), ("data",))

    def list_articles(self, per_page: int | None = None) -> Iterator[dict[str, Any]]:
        return pg.page_number(self._fetch("GET", "/articles"), ("data",), {"per_page": self._per_page(per_page)})

    def list_conversations(self, per_page: int | None = None) -> Iterator[dict[str, Any]]:
        fetch = self._fetch("GET", "/conversations")
        return pg.cursor_in_query(fetch, ("conversations", "data"), {"per_page": self._per_page(per_page)})

    def get_conversation(self, conversation_id: str) -> dict[str, Any]:
        return self._object("GET", "/conversations/{id}", path={"id": conversation_id})

    def news_items(self) -> Iterator[dict[str, Any]]:
        return pg.page_number(self._fetch("GET", "/news/news_items"), ("data",), {})

    def newsfeeds(self) -> Iterator[dict[str, Any]]:
        return pg.page_number(self._fetch("GET", "/news/newsfeeds"), ("data",), {})

    def get_ticket(self, ticket_id: str) -> dict[str, Any]:
        return self._object("GET", "/tickets/{id}", path={"id": ticket_id})

    def admins(self) -> list[dict[str, Any]]:
        return pg.items_of(self.request("GET", "/admins"), ("admins", "data"))

    def tags(self) -> list[dict[str, Any]]:
        return pg.items_of(self.request("GET", "/tags"), ("data", "tags"))

    def segments(self, include_count: bool = False) -> list[dict[str, Any]]:
        params = {"include_count": "true"} if include_count else None
        return pg.items_of(self.request("GET", "/segments", params=params), ("segments", "data"))

    def teams(self) -> list[dict[str, Any]]:
        return pg.items_of(self.request("GET", "/teams"), ("teams", "data"))

    def counts(self, type: str | None = None, count: str | None = None) -> dict[str, Any]:  # noqa: A002 - API name
        params = {k: v for k, v in (("type", type), ("count", count)) if v}
        return self._object("GET", "/counts", params=params or None)


def _search_keys(resource: str) -> tuple[str, ...]:
    try:
        return SEARCH_KEYS[resource]
    except KeyError:
        raise ValueError(f"search resource must be one of {sorted(SEARCH_KEYS)}; got {resource!r}") from None
