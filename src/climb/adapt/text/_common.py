"""Pieces the text adapters share: reading the publisher's JSON / JSONL files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from climb.errors import RecordError


def read_json(path: Path, source: str) -> Any:
    """A JSON file, or a RecordError naming ``source`` (never its content)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecordError(source, "file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise RecordError(source, f"cannot read file ({type(err).__name__})") from None
    except json.JSONDecodeError as err:
        raise RecordError(source, f"invalid JSON at line {err.lineno}") from None


def read_jsonl(path: Path, source: str) -> list[tuple[int, dict[str, Any] | None]]:
    """``(line number, object)`` per non-empty line; ``None`` for a line that is not a JSON
    object (the caller turns it into a quarantined item)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecordError(source, "file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise RecordError(source, f"cannot read file ({type(err).__name__})") from None
    rows: list[tuple[int, dict[str, Any] | None]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            value = None
        rows.append((number, value if isinstance(value, dict) else None))
    return rows


def safe_relative(name: str) -> bool:
    """True for a relative path that stays below its folder (no ``..``, not absolute)."""
    path = Path(name)
    return bool(name) and not path.is_absolute() and ".." not in path.parts and "\\" not in name
