"""Where credentials come from: environment variables, ~/.netrc, ~/.kaggle/kaggle.json.

Credentials live only in memory. They are registered with :mod:`climb.acquire.redact` the
moment they are read, so no message can show them, and their ``repr`` hides the secret.
"""

from __future__ import annotations

import json
import netrc
import os
from dataclasses import dataclass, field
from pathlib import Path

from climb.acquire.errors import AccessError
from climb.acquire.redact import register_basic_auth

PHYSIONET_HOST = "physionet.org"


@dataclass(frozen=True)
class Credentials:
    """A username and a secret (password or API key); ``repr`` never shows the secret."""

    username: str
    secret: str = field(repr=False)
    origin: str = ""  # where they came from, e.g. "$PHYSIONET_USERNAME", "~/.netrc"

    def __post_init__(self) -> None:
        register_basic_auth(self.username, self.secret)

    def as_tuple(self) -> tuple[str, str]:
        return (self.username, self.secret)


def _netrc_path() -> Path:
    env = os.environ.get("NETRC")
    return Path(env) if env else Path.home() / ".netrc"


def netrc_credentials(host: str) -> Credentials | None:
    """The ~/.netrc (or $NETRC) entry for `host`, if any."""
    path = _netrc_path()
    if not path.is_file():
        return None
    try:
        # the default ~/.netrc gets Python's permission check (it must not be world-readable)
        parsed = netrc.netrc() if "NETRC" not in os.environ else netrc.netrc(str(path))
        auths = parsed.authenticators(host)
    except (netrc.NetrcParseError, OSError) as err:
        # A parse error's text may quote the offending token; name the file and line only.
        msg = str(getattr(err, "msg", ""))
        if "permissive" in msg:
            raise AccessError(f"{path}: {msg} (run: chmod 600 {path})") from None
        line = getattr(err, "lineno", None)
        where = f" (line {line})" if line else ""
        raise AccessError(f"{path}: cannot parse netrc file{where}") from None
    if not auths:
        return None
    login, _account, password = auths
    if not login or not password:
        return None
    return Credentials(login, password, origin=str(path))


def physionet_credentials(host: str | None = None) -> Credentials | None:
    """PhysioNet credentials: $PHYSIONET_USERNAME/$PHYSIONET_PASSWORD, else the netrc entry
    for `host` (a mirror may have its own line), else the one for physionet.org."""
    user, password = os.environ.get("PHYSIONET_USERNAME"), os.environ.get("PHYSIONET_PASSWORD")
    if user and password:
        return Credentials(user, password, origin="$PHYSIONET_USERNAME/$PHYSIONET_PASSWORD")
    for name in dict.fromkeys([h for h in (host, PHYSIONET_HOST) if h]):
        creds = netrc_credentials(name)
        if creds is not None:
            return creds
    return None


def _kaggle_json() -> Path:
    base = os.environ.get("KAGGLE_CONFIG_DIR")
    return (Path(base) if base else Path.home() / ".kaggle") / "kaggle.json"


def kaggle_credentials() -> Credentials | None:
    """Kaggle API credentials: $KAGGLE_USERNAME/$KAGGLE_KEY, else ~/.kaggle/kaggle.json
    (or $KAGGLE_CONFIG_DIR/kaggle.json)."""
    user, key = os.environ.get("KAGGLE_USERNAME"), os.environ.get("KAGGLE_KEY")
    if user and key:
        return Credentials(user, key, origin="$KAGGLE_USERNAME/$KAGGLE_KEY")
    path = _kaggle_json()
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise AccessError(f"{path}: not a valid kaggle.json (expected "
                          '{"username": ..., "key": ...})') from None
    if not isinstance(data, dict) or not data.get("username") or not data.get("key"):
        raise AccessError(f"{path}: kaggle.json needs both 'username' and 'key'")
    return Credentials(str(data["username"]), str(data["key"]), origin=str(path))


def credentials_for(auth: str, host: str | None = None) -> Credentials | None:
    """The credentials of an auth kind (`physionet`, `kaggle`); None for `none`/`manual`."""
    if auth == "physionet":
        return physionet_credentials(host)
    if auth == "kaggle":
        return kaggle_credentials()
    return None


def missing_steps(auth: str) -> str | None:
    """What to set up when credentials of kind `auth` are absent (None when nothing is)."""
    if auth == "physionet" and physionet_credentials() is None:
        return ("PhysioNet credentials not set: export PHYSIONET_USERNAME and "
                "PHYSIONET_PASSWORD, or add 'machine physionet.org login USER password PASS' "
                "to ~/.netrc (chmod 600)")
    if auth == "kaggle" and kaggle_credentials() is None:
        return ("Kaggle credentials not set: export KAGGLE_USERNAME and KAGGLE_KEY, or save "
                "the API token from https://www.kaggle.com/settings to ~/.kaggle/kaggle.json "
                "(chmod 600)")
    return None
