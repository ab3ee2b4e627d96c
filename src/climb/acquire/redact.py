"""Keep secrets out of every output: URLs lose userinfo and query tokens, known secrets vanish.

Credentials read by :mod:`climb.acquire.credentials` are registered here, and every message
the acquire layer prints, logs, stores or raises goes through :func:`scrub`.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters that are safe to show (everything else is replaced by "***").
SAFE_QUERY_KEYS = frozenset({"download", "dl", "raw", "version", "format", "file", "path"})
MASK = "***"

_secrets: set[str] = set()
_lock = threading.Lock()
_URL_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")


def register_secret(value: str | None) -> None:
    """Remember a secret (password, key) so that :func:`scrub` removes it from any text."""
    if not value or len(value) < 3:
        return
    with _lock:
        _secrets.add(value)


def register_basic_auth(username: str, password: str) -> None:
    """Register a password and the base64 Authorization token made from it."""
    register_secret(password)
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    register_secret(token)


def redact_url(url: str) -> str:
    """`url` without userinfo and with query values masked (except harmless keys)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rsplit('@', 1)[1]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, v if k.lower() in SAFE_QUERY_KEYS else MASK) for k, v in pairs], safe="*"
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def scrub(text: object) -> str:
    """`text` with every URL redacted and every registered secret replaced by ``***``."""
    out = _URL_RE.sub(lambda m: redact_url(m.group(0)), str(text))
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        out = out.replace(secret, MASK)
    return out


class ScrubFilter(logging.Filter):
    """A logging filter that scrubs the formatted message of every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: let logging report it as usual
            return True
        record.msg, record.args = scrub(message), None
        return True


_installed = False


def install_log_filters() -> None:
    """Scrub records of climb.acquire and of httpx/httpcore (which log request URLs)."""
    global _installed
    if _installed:
        return
    names = ("climb.acquire", "httpx", "httpcore", "httpcore.connection", "httpcore.http11",
             "httpcore.http2", "httpcore.proxy")
    for name in names:
        logging.getLogger(name).addFilter(ScrubFilter())
    _installed = True
