"""Kaggle datasets and competitions over Kaggle's public REST API (httpx, basic auth).

Catalog URLs: ``kaggle://datasets/OWNER/SLUG[/FILE]`` and ``kaggle://competitions/SLUG[/FILE]``.
The API answers with a redirect to a signed storage URL (its query token is redacted in all
output). $CLIMB_KAGGLE_API replaces the API base (a proxy, or a local server in tests).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import quote

from climb.errors import CatalogError

API_BASE = "https://www.kaggle.com/api/v1"
ENV_API = "CLIMB_KAGGLE_API"


@dataclass(frozen=True)
class KaggleRef:
    kind: str  # "datasets" | "competitions"
    slug: str  # OWNER/SLUG for datasets, SLUG for competitions
    file: str | None = None

    @property
    def page(self) -> str:
        return f"https://www.kaggle.com/{self.kind}/{self.slug}"

    @property
    def rules_url(self) -> str:
        return f"https://www.kaggle.com/competitions/{self.slug}/rules"


def is_kaggle(url: str) -> bool:
    return url.startswith("kaggle://")


def parse(url: str) -> KaggleRef:
    """Parse a ``kaggle://`` URL; a malformed one raises CatalogError."""
    parts = [p for p in url[len("kaggle://"):].split("/") if p]
    if len(parts) >= 3 and parts[0] == "datasets":
        return KaggleRef("datasets", f"{parts[1]}/{parts[2]}", "/".join(parts[3:]) or None)
    if len(parts) >= 2 and parts[0] == "competitions":
        return KaggleRef("competitions", parts[1], "/".join(parts[2:]) or None)
    raise CatalogError(
        f"{url}: not a Kaggle URL (kaggle://datasets/OWNER/SLUG or kaggle://competitions/SLUG)"
    )


def api_url(url: str) -> str:
    """The REST download URL of a ``kaggle://`` URL."""
    ref = parse(url)
    base = os.environ.get(ENV_API, API_BASE).rstrip("/")
    if ref.kind == "datasets":
        tail = f"/{quote(ref.file)}" if ref.file else ""
        return f"{base}/datasets/download/{ref.slug}{tail}"
    if ref.file:
        return f"{base}/competitions/data/download/{ref.slug}/{quote(ref.file)}"
    return f"{base}/competitions/data/download-all/{ref.slug}"


def access_help(url: str, *, have_credentials: bool, status: int) -> str:
    """The message for a refused Kaggle download."""
    ref = parse(url)
    if not have_credentials:
        return (f"HTTP {status}: Kaggle credentials are not set: export KAGGLE_USERNAME and "
                "KAGGLE_KEY, or save the API token (https://www.kaggle.com/settings -> "
                "'Create New Token') to ~/.kaggle/kaggle.json and chmod 600 it")
    if status == 401:
        return ("HTTP 401: Kaggle refused the credentials (wrong username or key; create a "
                "new token at https://www.kaggle.com/settings)")
    if ref.kind == "competitions":
        return (f"HTTP {status}: the competition rules are not accepted for this account: "
                f"open {ref.rules_url}, click 'I Understand and Accept', then run again")
    return (f"HTTP {status}: Kaggle refused the dataset: open {ref.page}, accept its terms "
            "if it has any (or check that it is public), then run again")
