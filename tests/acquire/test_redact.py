"""URL redaction and secret scrubbing."""

from __future__ import annotations

import base64
import logging
import re
from urllib.parse import quote, quote_plus

import pytest

from climb.acquire.credentials import Credentials
from climb.acquire.redact import ScrubFilter, redact_url, register_basic_auth, scrub


def test_redact_url_drops_userinfo_and_query_tokens():
    url = "https://bob:hunter2@mirror.example/a/b.zip?X-Amz-Signature=abc123&download=1"
    out = redact_url(url)
    assert "hunter2" not in out and "bob" not in out and "abc123" not in out
    assert out == "https://***@mirror.example/a/b.zip?X-Amz-Signature=***&download=1"


def test_scrub_removes_registered_secrets_and_urls_in_text():
    creds = Credentials("carol", "tok-9876-secret", origin="test")
    assert "tok-9876-secret" not in repr(creds)
    text = (
        "failed with tok-9876-secret at https://x.org/f?token=qq, header "
        "Basic Y2Fyb2w6dG9rLTk4NzYtc2VjcmV0"
    )
    out = scrub(text)
    assert "tok-9876-secret" not in out and "qq" not in out
    assert "Y2Fyb2w6dG9rLTk4NzYtc2VjcmV0" not in out  # base64 of carol:tok-9876-secret


# -- every encoding of a credential, anywhere (issue 10, item 5) -----------------------------
PW = "p@ss/w #%rd-7Qx"
USER = "dora"


def encodings(user: str, password: str) -> dict[str, str]:
    """Every form of `password` a URL, header or log line may carry."""
    forms = {
        "raw": password,
        "quote": quote(password, safe=""),
        "quote-path": quote(password),  # '/' kept
        "quote_plus": quote_plus(password),
        "twice": quote(quote(password, safe=""), safe=""),
    }
    for name, value in list(forms.items()):
        if name != "raw":
            forms[f"{name}-lower"] = re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), value)
    for label, raw in (("pw", password), ("userpw", f"{user}:{password}")):
        std = base64.b64encode(raw.encode()).decode()
        url = base64.urlsafe_b64encode(raw.encode()).decode()
        forms[f"b64-{label}"] = std
        forms[f"b64-{label}-nopad"] = std.rstrip("=")
        forms[f"b64url-{label}"] = url
        forms[f"b64url-{label}-quoted"] = quote(url, safe="")
        forms[f"b64-{label}-quoted"] = quote(std, safe="")
    return forms


def _places(form: str) -> list[str]:
    return [
        f"https://{USER}:{form}@mirror.example/a.zip",
        f"https://mirror.example/x/{form}/a.zip",
        f"https://mirror.example/a.zip?file={form}&download=1",
        f"https://mirror.example/a.zip?path={form}",
        f"https://mirror.example/a.zip#{form}",
        f"Location: https://mirror.example/{form}",
        f"Authorization: Basic {form}",
        f"[(b'Location', b'/files/{form}/x')] and ({form!r})",
    ]


@pytest.mark.parametrize("name", list(encodings(USER, PW)))
def test_every_encoding_of_a_registered_password_is_scrubbed_everywhere(name):
    register_basic_auth(USER, PW)
    form = encodings(USER, PW)[name]
    for text in _places(form):
        out = scrub(text)
        assert form not in out, (name, text, out)
        assert "***" in out or "#" not in out  # (a URL's fragment is dropped whole)
    assert "mirror.example" in scrub(_places(form)[1])  # the host is still shown


def test_lower_and_mixed_case_hex_is_scrubbed():
    register_basic_auth(USER, PW)
    text = "GET /x/p%40ss%2fw%20%23%25rd-7Qx and p%40SS"
    out = scrub(text)
    assert "%2fw%20" not in out and "rd-7Qx" not in out


def test_scrub_filter_cleans_message_arguments_and_traceback(caplog):
    register_basic_auth(USER, PW)
    logger = logging.getLogger("tests.redact.filter")
    logger.addFilter(ScrubFilter())
    try:
        with caplog.at_level(logging.DEBUG, logger="tests.redact.filter"):
            try:
                raise ValueError(f"bad {quote(PW, safe='')}")
            except ValueError:
                logger.exception("headers %s", [(b"Location", quote_plus(PW).encode())])
    finally:
        logger.filters.clear()
    text = caplog.text
    assert "headers" in text and "ValueError" in text
    for form in encodings(USER, PW).values():
        assert form not in text
