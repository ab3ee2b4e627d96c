"""The PTB-XL fixture prepared once per session for the signal-codec and migration tests:
``auto`` (schema_version 2, digital signals) and ``plain`` (``signal.codec=raw``: the raw
float32 payloads a version 1 store holds)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

_BUILT: dict[str, dict[str, Path]] = {}


def prepare_ptbxl(raw: Path, store: Path, config: dict[str, Any] | None = None) -> Path:
    """``raw`` prepared into ``store`` (returns ``store``)."""
    from climb.store.prepare import prepare

    prepare("ptbxl", raw, store, workers=1, config=config or {}, progress=False)
    return store


def ptbxl_stores(tmp_path_factory) -> dict[str, Path]:
    """{"raw": fixture folder, "auto": store, "plain": store}, built once per session."""
    key = str(tmp_path_factory.getbasetemp())
    if key not in _BUILT:
        from tests.fixtures import ptbxl as fixture

        root = tmp_path_factory.mktemp("ptbxl_signal_stores")
        raw = fixture.build(root)
        _BUILT[key] = {
            "raw": raw,
            "auto": prepare_ptbxl(raw, root / "auto"),
            "plain": prepare_ptbxl(raw, root / "plain", {"signal.codec": "raw"}),
        }
    return _BUILT[key]
