"""``X-Hub-Signature``: HMAC-SHA1 of the raw request body, keyed by the app's client secret.

Source: Intercom "Webhook models", section "Signed notifications"
(https://developers.intercom.com/docs/references/2.11/webhooks/webhook-models, same text on every
2.x page and on intercom-developer-hub.readme.io/reference/signed-notifications): "the hexadecimal
(40-byte) representation of a SHA-1 signature computed using the HMAC algorithm defined in RFC2104
… starts with the string ``sha1=``", computed over "the body of the JSON request" with "your App's
``client_secret``". The receiver checks the bytes it received, before any JSON parsing.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

PREFIX = "sha1="
HEADER = "X-Hub-Signature"


def sign(body: bytes, secret: str) -> str:
    """The header value Intercom sends for ``body``."""
    return PREFIX + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def verify(body: bytes, header: str | None, secrets: Iterable[str]) -> bool:
    """True if ``header`` signs ``body`` with one of ``secrets`` (several during a secret rotation).

    Every comparison is constant-time (``hmac.compare_digest``), and every secret is tried, so the
    answer's timing says nothing about which part of a forged signature was right.
    """
    if not header or not header.startswith(PREFIX):
        return False
    given = header.strip().lower().encode()
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(sign(body, secret).encode(), given)
    return matched
