"""Articles and news endpoints (page-number lists)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from intercom_pipeline.emulator.pagination import parse_page, parse_per_page
from intercom_pipeline.emulator.routes._common import json_bytes
from intercom_pipeline.emulator.routing import Endpoint
from intercom_pipeline.emulator.state.content import ARTICLES_DEFAULT, NEWS_DEFAULT, PagedList

if TYPE_CHECKING:
    from intercom_pipeline.emulator.state import Backend


def _page(request: Request, paged: PagedList, default: int) -> Response:
    q = request.query_params
    return json_bytes(paged.page(parse_page(q.get("page")), parse_per_page(q.get("per_page"), default)))


def list_articles(request: Request, backend: Backend) -> Response:
    return _page(request, backend.content.articles, ARTICLES_DEFAULT)


def list_news_items(request: Request, backend: Backend) -> Response:
    return _page(request, backend.content.news_items, NEWS_DEFAULT)


def list_newsfeeds(request: Request, backend: Backend) -> Response:
    return _page(request, backend.content.newsfeeds, NEWS_DEFAULT)


ENDPOINTS = [
    Endpoint("GET", "/articles", list_articles, "read_articles"),
    Endpoint("GET", "/news/news_items", list_news_items, "read_news"),
    Endpoint("GET", "/news/newsfeeds", list_newsfeeds, "read_news"),
]
