"""Keep secrets out of every output: URLs lose userinfo and query tokens, known secrets vanish.

Credentials read by :mod:`climb.acquire.credentials` are registered here, and every message
the acquire layer prints, logs, stores or raises goes through :func:`scrub`. A registered
secret is removed in every form it can take on the wire: raw, percent-encoded (``quote`` or
``quote_plus``, upper- or lower-case hex, even twice encoded), base64 (standard or url-safe,
with or without padding) of the secret and of ``user:secret``, and any of those
percent-encoded again, wherever it sits (URL userinfo, path, query, fragment, a header).
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
# Loggers of the HTTP stack that print raw headers or connection details at DEBUG.
CHATTY_LOGGERS = ("httpcore", "hpack", "h2", "h11", "urllib3")
# Loggers whose records may hold a URL or a secret (each gets a ScrubFilter).
FILTERED_LOGGERS = (
    "climb",
    "climb.acquire",
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "hpack",
    "h2",
    "h11",
    "urllib3",
)

_forms: set[str] = set()  # every encoded form of every registered secret
_pattern: re.Pattern[str] | None = None
_lock = threading.Lock()
_URL_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")
_MIN_LEN = 3


def _b64_forms(raw: bytes) -> set[str]:
    std = base64.b64encode(raw).decode()
    url = base64.urlsafe_b64encode(raw).decode()
    return {std, std.rstrip("="), url, url.rstrip("=")}


def _char_pattern(ch: str) -> str:
    """A regex for one character as it may appear: itself, or percent-encoded (any hex case,
    once or twice), ``+`` for a space, or escaped by repr/JSON."""
    alts = [re.escape(ch)]
    encoded = "".join(f"%(?:25)?{_hex_ci(b)}" for b in ch.encode("utf-8"))
    alts.append(encoded)
    if ch == " ":
        alts.append(r"\+")
    if ch in "\\\"'":
        alts.append(r"\\" + re.escape(ch))
        alts.append(r"\\u00" + _hex_ci(ord(ch)))
    return "(?:" + "|".join(alts) + ")"


def _hex_ci(byte: int) -> str:
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in f"{byte:02x}")


def _compile(forms: set[str]) -> re.Pattern[str] | None:
    if not forms:
        return None
    # longest first, so that user:secret's base64 wins over a shorter overlapping form
    parts = [
        "".join(_char_pattern(c) for c in form) for form in sorted(forms, key=len, reverse=True)
    ]
    return re.compile("|".join(parts))


def _register(forms: set[str]) -> None:
    global _pattern
    forms = {f for f in forms if len(f) >= _MIN_LEN}
    with _lock:
        if forms <= _forms:
            return
        _forms.update(forms)
        _pattern = _compile(_forms)


def register_secret(value: str | None) -> None:
    """Remember a secret (password, key) so that :func:`scrub` removes it, in any encoding."""
    if not value or len(value) < _MIN_LEN:
        return
    _register({value} | _b64_forms(value.encode("utf-8")))


def register_basic_auth(username: str, password: str) -> None:
    """Register a password and every Authorization token made from it."""
    if not password or len(password) < _MIN_LEN:
        return
    register_secret(password)
    _register(_b64_forms(f"{username}:{password}".encode()))


def redact_secrets(text: str) -> str:
    """`text` with every form of every registered secret replaced by ``***``."""
    with _lock:
        pattern = _pattern
    return pattern.sub(MASK, text) if pattern is not None else text


def redact_url(url: str) -> str:
    """`url` without userinfo, fragment and secrets, with query values masked (except
    harmless keys)."""
    url = redact_secrets(url)
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
    return redact_secrets(urlunsplit((parts.scheme, netloc, parts.path, query, "")))


def scrub(text: object) -> str:
    """`text` with every registered secret (in any encoding) and every URL redacted."""
    out = redact_secrets(str(text))
    out = _URL_RE.sub(lambda m: redact_url(m.group(0)), out)
    return redact_secrets(out)


class ScrubFilter(logging.Filter):
    """A logging filter that scrubs the message, traceback and stack of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: show its template only, never its arguments
            message = str(record.msg)
        record.msg, record.args = scrub(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


def _has_scrub_filter(obj: logging.Filterer) -> bool:
    return any(isinstance(f, ScrubFilter) for f in obj.filters)


def quiet_http_loggers() -> None:
    """Raise the HTTP stack's header-printing loggers to WARNING (even under ``-v``)."""
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def install_log_filters() -> None:
    """Scrub every record of climb and of the HTTP stack (httpx logs request URLs), and every
    record reaching the root logger's handlers; keep httpcore/hpack/h11/h2/urllib3 at
    WARNING so that raw headers are never logged."""
    quiet_http_loggers()
    for name in FILTERED_LOGGERS:
        logger = logging.getLogger(name)
        if not _has_scrub_filter(logger):
            logger.addFilter(ScrubFilter())
    for handler in logging.getLogger().handlers:
        if not _has_scrub_filter(handler):
            handler.addFilter(ScrubFilter())
