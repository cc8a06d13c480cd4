"""Help-centre articles and news (items, newsfeeds): page-number lists.

Envelopes follow the recorded examples: ``{"type":"list","pages":{...},"total_count":N,"data":[...]}``
for articles (default 25 per page as recorded; newest ``updated_at`` first as documented) and
``{"type":"list","pages":{...},"data":[...],"total_count":N}`` for news (10 per page as recorded). The
recorded ``pages`` objects carry no ``next``; we leave it out too (their schema, cursor_pages, would
need an object there), so clients page by ``page`` up to ``total_pages``; past the end the page is
empty.
"""

from __future__ import annotations

from intercom_pipeline.emulator.pagination import join, number_pages, page_slice
from intercom_pipeline.emulator.serialize import Collection, Record, dumps

ARTICLES_DEFAULT = 25
NEWS_DEFAULT = 10


class PagedList:
    def __init__(self, records: list[Record], news_style: bool):
        self.coll = Collection(records)
        self.news_style = news_style

    def page(self, page: int, per_page: int) -> bytes:
        total = len(self.coll)
        window = range(total)[page_slice(total, page, per_page)]
        pages = number_pages(total, page, per_page, None, with_next=False)
        items = join(self.coll.many(window))
        if self.news_style:
            pages = {"page": page, "per_page": per_page, "total_pages": pages["total_pages"], "type": "pages"}
            return (b'{"type":"list","pages":' + dumps(pages) + b',"data":' + items + b',"total_count":'
                    + str(total).encode() + b"}")
        return (b'{"type":"list","pages":' + dumps(pages) + b',"total_count":' + str(total).encode()
                + b',"data":' + items + b"}")


class Content:
    def __init__(self, articles: list[Record], news_items: list[Record], newsfeeds: list[Record]):
        by_update = sorted(articles, key=lambda a: (-(a.get("updated_at") or 0), str(a["id"])))
        self.articles = PagedList(by_update, news_style=False)
        self.news_items = PagedList(news_items, news_style=True)
        self.newsfeeds = PagedList(newsfeeds, news_style=True)
