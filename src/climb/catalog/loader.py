"""Load, merge and validate the catalog.

The built-in catalog is one YAML file per dataset in ``climb/catalog/datasets/``. A user
overlay (``--catalog FILE`` or the ``CLIMB_CATALOG`` environment variable) adds entries, or
replaces the top-level fields it gives of an existing entry (e.g. only ``sources``, to point a
dataset at a hospital mirror).
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from climb.catalog.schema import DatasetEntry
from climb.errors import CatalogError

ENV_OVERLAY = "CLIMB_CATALOG"
#: libyaml's loader (8x faster on the built-in catalog) where PyYAML was built with it.
_YAML_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: Parsed YAML per file, keyed on (path, size, mtime_ns): a process (a `prepare` worker, a
#: notebook) that loads the catalog again parses only the files that changed since.
_PARSED: dict[Path, tuple[tuple[int, int], Any]] = {}


def _builtin_dir() -> Path:
    return Path(str(resources.files("climb.catalog") / "datasets"))


def _format_validation(source: str, name: str, err: ValidationError) -> str:
    lines = [f"{source}: dataset {name!r} is invalid:"]
    for problem in err.errors():
        loc = ".".join(str(p) for p in problem["loc"]) or "(entry)"
        lines.append(f"  field '{loc}': {problem['msg']}")
    return "\n".join(lines)


def validate_entry(raw: dict[str, Any], source: str) -> DatasetEntry:
    """Validate one raw entry; a bad one raises CatalogError naming the file and field."""
    if not isinstance(raw, dict):
        raise CatalogError(f"{source}: an entry must be a mapping, got {type(raw).__name__}")
    name = str(raw.get("name", "<no name>"))
    try:
        return DatasetEntry.model_validate(raw)
    except ValidationError as err:
        raise CatalogError(_format_validation(source, name, err)) from None


def _read_yaml(path: Path) -> Any:
    """The parsed content of one YAML file (a copy: callers may change it), from the
    per-process cache while the file's size and mtime are unchanged."""
    try:
        stat = path.stat()
        key = (stat.st_size, stat.st_mtime_ns)
        cached = _PARSED.get(path.absolute())
        if cached is not None and cached[0] == key:
            return copy.deepcopy(cached[1])
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    except FileNotFoundError:
        raise CatalogError(f"{path}: catalog file not found") from None
    except yaml.YAMLError as err:
        # Only the position and the problem: the offending line itself may hold a token URL.
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "syntax error"
        raise CatalogError(f"{path}: not valid YAML{where}: {problem}") from None
    _PARSED[path.absolute()] = (key, data)
    return copy.deepcopy(data)


def _overlay_entries(path: Path) -> list[dict[str, Any]]:
    data = _read_yaml(path)
    if isinstance(data, dict) and "datasets" in data:
        data = data["datasets"]
    if isinstance(data, dict):  # {name: {fields}} form
        data = [{"name": k, **(v or {})} for k, v in data.items()]
    if not isinstance(data, list):
        raise CatalogError(
            f"{path}: an overlay is a list of entries (or a mapping under 'datasets:')"
        )
    for i, item in enumerate(data):
        if not isinstance(item, dict) or "name" not in item:
            raise CatalogError(f"{path}: overlay entry #{i + 1} needs a 'name'")
    return data


@dataclass
class Catalog:
    """The merged, validated catalog."""

    entries: dict[str, DatasetEntry]

    def __iter__(self) -> Iterator[DatasetEntry]:
        return iter(self.entries.values())

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def get(self, name: str) -> DatasetEntry:
        """The entry called `name`; an unknown name raises with the closest matches."""
        key = name.strip().lower().replace("-", "_")
        if key in self.entries:
            return self.entries[key]
        close = difflib.get_close_matches(key, list(self.entries), n=3, cutoff=0.5)
        # Also match on titles ("PTB-XL" -> ptbxl)
        for entry in self.entries.values():
            if name.lower() in entry.title.lower() and entry.name not in close:
                close.append(entry.name)
        hint = f"; did you mean: {', '.join(close[:5])}?" if close else ""
        raise CatalogError(f"unknown dataset {name!r}{hint} (see `climb list`)")

    def filter(self, modality: str | None = None, access: str | None = None) -> list[DatasetEntry]:
        out = []
        for entry in self:
            if modality and modality not in entry.modalities:
                continue
            if access and entry.access.tier != access:
                continue
            out.append(entry)
        return out


def entry_hash(entry: DatasetEntry) -> str:
    """A stable hash of an entry's content (recorded in prepared stores' manifests)."""
    payload = json.dumps(entry.model_dump(mode="json"), sort_keys=True).encode()
    return hashlib.sha256(payload).hexdigest()


def load_catalog(overlay: str | Path | None = None, *, use_env: bool = True) -> Catalog:
    """Load the built-in catalog, then apply `overlay` (or $CLIMB_CATALOG) on top."""
    raw: dict[str, tuple[dict[str, Any], str]] = {}
    for path in sorted(_builtin_dir().glob("*.yaml")):
        data = _read_yaml(path)
        items = data if isinstance(data, list) else [data]
        for item in items:
            if not isinstance(item, dict) or "name" not in item:
                raise CatalogError(f"{path}: entry without a 'name'")
            if item["name"] in raw:
                raise CatalogError(f"{path}: dataset {item['name']!r} is defined twice")
            raw[item["name"]] = (item, str(path))

    overlays: list[Path] = []
    if use_env and os.environ.get(ENV_OVERLAY):
        overlays += [Path(p) for p in os.environ[ENV_OVERLAY].split(os.pathsep) if p]
    if overlay is not None:
        overlays.append(Path(overlay))
    for path in overlays:
        for item in _overlay_entries(path):
            name = item["name"]
            if name in raw:
                merged = {**raw[name][0], **item}
                raw[name] = (merged, f"{path} (overlay on {name})")
            else:
                raw[name] = (item, str(path))

    entries = {name: validate_entry(item, source) for name, (item, source) in raw.items()}
    return Catalog(entries=dict(sorted(entries.items())))
