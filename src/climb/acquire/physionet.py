"""PhysioNet projects: project pages, record base URLs, and what to do when access is refused.

Open projects download without an account; credentialed ones (MIMIC-*, eICU, ...) need HTTP
basic auth with a credentialed account that has signed the project's data use agreement.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# https://physionet.org/files/PROJECT/VERSION/... and .../content/PROJECT/VERSION/...
_FILES_RE = re.compile(r"^/(?:files|content)/([^/]+)/([^/]+)/")
# https://physionet.org/static/published-projects/PROJECT/LONG-NAME-VERSION.zip
_STATIC_RE = re.compile(r"^/static/published-projects/([^/]+)/[^/]*?-(\d+(?:\.\d+)+)\.zip$")


def is_physionet(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host == "physionet.org" or host.endswith(".physionet.org")


def project_of(url: str) -> tuple[str, str] | None:
    """(project, version) of a PhysioNet URL, or None when it is not one."""
    parts = urlsplit(url)
    if not is_physionet(url):
        return None
    for pattern in (_FILES_RE, _STATIC_RE):
        match = pattern.match(parts.path)
        if match:
            return match.group(1), match.group(2)
    return None


def project_page(url: str) -> str | None:
    """The human page of the project a PhysioNet URL belongs to."""
    found = project_of(url)
    if found is None:
        return None
    return f"https://physionet.org/content/{found[0]}/{found[1]}/"


def files_base(url: str) -> str | None:
    """The per-file base URL (https://physionet.org/files/PROJECT/VERSION/) of a project URL."""
    found = project_of(url)
    if found is None:
        return None
    return f"https://physionet.org/files/{found[0]}/{found[1]}/"


def access_help(url: str, page: str | None, *, have_credentials: bool, status: str) -> str:
    """The message for a refused PhysioNet download: the project page and the steps."""
    page = page or project_page(url) or "the project page on https://physionet.org"
    if have_credentials:
        cause = (f"{status}: the PhysioNet account was refused (wrong username/password, or "
                 "the account is not credentialed for this project)")
    else:
        cause = (f"{status}: PhysioNet credentials are not set (PHYSIONET_USERNAME/"
                 "PHYSIONET_PASSWORD or a 'machine physionet.org' line in ~/.netrc)")
    steps = (
        "1. create a PhysioNet account and apply for credentialed access "
        "(https://physionet.org/settings/credentialing/); "
        "2. complete the CITI 'Data or Specimens Only Research' training and upload the "
        "certificate (https://physionet.org/settings/training/); "
        f"3. sign the data use agreement on {page}; "
        "4. set PHYSIONET_USERNAME and PHYSIONET_PASSWORD (or ~/.netrc) and run again"
    )
    return f"{cause}. Project: {page}. Steps: {steps}"
