"""acquire: resumable, verified, credentialed downloads and safe extraction.

``climb.acquire.download(["ptbxl"], "/data/raw")`` fetches each catalog source into
``ROOT/NAME/`` (see docs/downloading.md); ``climb.acquire.verify("ptbxl", "/data/raw")``
re-checks a copy against its lockfile ``ROOT/NAME/.climb-download.json``.
"""

from climb.acquire.api import DownloadReport, VerifyRow, download, verify
from climb.acquire.errors import (
    AccessError,
    ChecksumError,
    DownloadError,
    ManualStepsRequired,
    UnsafeArchiveError,
    VerifyError,
)
from climb.acquire.extract import extract

__all__ = [
    "AccessError",
    "ChecksumError",
    "DownloadError",
    "DownloadReport",
    "ManualStepsRequired",
    "UnsafeArchiveError",
    "VerifyError",
    "VerifyRow",
    "download",
    "extract",
    "verify",
]
