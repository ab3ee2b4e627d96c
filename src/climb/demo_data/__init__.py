"""Small real datasets shipped inside the package for the end-to-end demo (tier ``bundled``).

Each folder is named after its catalog entry and keeps the official file layout of its
source; ``PROVENANCE.md`` says where every file comes from and under which licence.
``path(name)`` is the raw directory to hand to that dataset's adapter
(``adapter.items(path(name))``) or to ``climb prepare NAME --raw``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from climb.errors import CatalogError

# Sets whose data ships with a dependency instead of being copied here.
_EXTERNAL = {"demo_breast_cancer"}


def _root() -> Path:
    return Path(str(resources.files("climb.demo_data")))


def names() -> list[str]:
    """The bundled sets."""
    local = [p.name for p in _root().iterdir() if p.is_dir() and p.name.startswith("demo_")]
    return sorted({*local, *_EXTERNAL})


def path(name: str) -> Path:
    """Raw directory of bundled set ``name`` (e.g. "demo_mitbih_beats")."""
    if name == "demo_breast_cancer":
        # scikit-learn ships the Wisconsin Diagnostic Breast Cancer table itself.
        import sklearn.datasets

        return Path(sklearn.datasets.__file__).parent / "data"
    folder = _root() / name
    if not folder.is_dir():
        raise CatalogError(f"no bundled data set {name!r}; bundled: {names()}")
    return folder
