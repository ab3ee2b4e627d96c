"""Errors of the acquire layer. Every message names the file and the problem, never a secret."""

from __future__ import annotations

from climb.errors import ClimbError


class DownloadError(ClimbError):
    """A file could not be fetched (after retries and every mirror)."""


class ChecksumError(DownloadError):
    """A fetched file does not match the catalog's sha256 or size; it was not kept."""


class AccessError(DownloadError):
    """Credentials are missing or refused, or a login/consent/rules page came back."""


class UnsafeArchiveError(ClimbError):
    """An archive holds a member that would escape its target, or is a decompression bomb."""


class ManualStepsRequired(ClimbError):
    """A manual source is not in place yet; the steps to get it were printed."""


class VerifyError(ClimbError):
    """`climb verify` found missing or changed files."""
