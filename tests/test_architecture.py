"""The architecture map lives in the project and agrees with the code; a clone alone is
complete (nothing reads outside the checkout)."""

from __future__ import annotations

import re

from tests.conftest import REPO

MAP = REPO / "docs" / "architecture.md"


def test_readme_points_to_the_map_inside_the_repository():
    readme = (REPO / "README.md").read_text()
    assert "docs/architecture.md" in readme
    assert "../shared" not in readme and "DESIGN.md" not in readme


def test_every_layer_and_reader_module_is_on_the_map():
    text = MAP.read_text()
    packages = sorted(p.parent.name for p in (REPO / "src/climb").glob("*/__init__.py"))
    assert {"acquire", "adapt", "catalog", "read", "store", "train"} <= set(packages)
    missing = [name for name in packages
               if name != "demo_data" and not re.search(rf"\b{name}/", text)]
    assert not missing, f"packages not on docs/architecture.md: {missing}"
    readers = sorted(p.name for p in (REPO / "src/climb/read").glob("*.py")
                     if p.name not in ("__init__.py", "signal.py"))
    absent = [name for name in readers if name not in text]
    assert not absent, f"reader modules not on docs/architecture.md: {absent}"


def test_nothing_reads_outside_the_checkout():
    """No code, test or fixture builder names the sample-data folder beside the checkout."""
    pattern = re.compile(r"""\.\./shared|parent\s*/\s*["']shared["']|CLIMB_SHARED_DATA""")
    offenders = []
    for root in ("src", "tests", "benches"):
        for path in (REPO / root).rglob("*.py"):
            if path.resolve() == __file__ or path.name == "test_architecture.py":
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if pattern.search(line):
                    offenders.append(f"{path.relative_to(REPO)}:{number}")
    assert not offenders, offenders


def test_every_file_under_tests_data_has_a_provenance_line():
    provenance = (REPO / "tests/data/PROVENANCE.md").read_text()
    for path in (REPO / "tests/data").iterdir():
        if path.name != "PROVENANCE.md":
            assert f"`{path.name}/" in provenance, path.name
        assert path.exists(), f"broken link {path}"
