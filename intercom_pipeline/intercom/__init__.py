"""Intercom REST client: synchronous, thread-safe, inside the rate limit, through every fault.

    from intercom_pipeline.intercom import IntercomClient, ClientConfig, q
    with IntercomClient(ClientConfig(token=..., region="eu")) as client:
        for contact in client.search_window("contacts", "updated_at", start, end):
            ...

No Dagster here: ``intercom_pipeline.defs.resources`` wraps it as a resource. Everything not
listed in ``__all__`` is private and may change.
"""

from ._auth import OAuthToken, OAuthTokenProvider, StaticToken, TokenStore
from ._client import IntercomClient
from ._config import ClientConfig
from ._errors import (
    BadRequest,
    ConnectionFailed,
    ContactMerged,
    Forbidden,
    IntercomError,
    InvalidResponse,
    NotFound,
    PaginationError,
    PlanRestricted,
    RateLimited,
    ReconnectRequired,
    ScopeMissing,
    ServerError,
    TransientError,
    Unauthorized,
)
from ._models import ClientStats, ConnectionReport, DeleteResult, PageDecode
from ._search import q

__all__ = [
    "BadRequest",
    "ClientConfig",
    "ClientStats",
    "ConnectionFailed",
    "ConnectionReport",
    "ContactMerged",
    "DeleteResult",
    "Forbidden",
    "IntercomClient",
    "IntercomError",
    "InvalidResponse",
    "NotFound",
    "OAuthToken",
    "OAuthTokenProvider",
    "PageDecode",
    "PaginationError",
    "PlanRestricted",
    "RateLimited",
    "ReconnectRequired",
    "ScopeMissing",
    "ServerError",
    "StaticToken",
    "TokenStore",
    "TransientError",
    "Unauthorized",
    "q",
]

for _name in __all__:
    _obj = globals()[_name]
    if hasattr(_obj, "__module__") and isinstance(_obj, type):
        _obj.__module__ = __name__
del _name, _obj
