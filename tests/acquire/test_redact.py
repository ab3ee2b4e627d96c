"""URL redaction and secret scrubbing."""

from __future__ import annotations

from climb.acquire.credentials import Credentials
from climb.acquire.redact import redact_url, scrub


def test_redact_url_drops_userinfo_and_query_tokens():
    url = "https://bob:hunter2@mirror.example/a/b.zip?X-Amz-Signature=abc123&download=1"
    out = redact_url(url)
    assert "hunter2" not in out and "bob" not in out and "abc123" not in out
    assert out == "https://***@mirror.example/a/b.zip?X-Amz-Signature=***&download=1"


def test_scrub_removes_registered_secrets_and_urls_in_text():
    creds = Credentials("carol", "tok-9876-secret", origin="test")
    assert "tok-9876-secret" not in repr(creds)
    text = ("failed with tok-9876-secret at https://x.org/f?token=qq, header "
            "Basic Y2Fyb2w6dG9rLTk4NzYtc2VjcmV0")
    out = scrub(text)
    assert "tok-9876-secret" not in out and "qq" not in out
    assert "Y2Fyb2w6dG9rLTk4NzYtc2VjcmV0" not in out  # base64 of carol:tok-9876-secret
