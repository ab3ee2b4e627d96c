"""The bundled demo folders against the sha256 lists in src/climb/demo_data/PROVENANCE.md."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path


def assert_files_match_provenance(root: Path, section: str) -> None:
    """Every file under ``root`` is listed, with its sha256, in PROVENANCE.md's ``## section``
    (which sits next to ``root``), and nothing else is listed there."""
    provenance = (root.parent / "PROVENANCE.md").read_text()
    block = provenance.split(f"## {section}")[1].split("\n## ")[0]
    listed = dict(
        reversed(line.split("  ", 1))
        for line in re.findall(r"^[0-9a-f]{64}  \S+$", block, flags=re.M)
    )
    files = {p.relative_to(root).as_posix(): p for p in root.rglob("*") if p.is_file()}
    assert set(listed) == set(files)
    for name, file in files.items():
        assert hashlib.sha256(Path(file).read_bytes()).hexdigest() == listed[name], name
