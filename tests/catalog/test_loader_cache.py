"""The catalog's YAML is parsed with libyaml where available and cached per process on the
files' size and mtime: a changed file is parsed again, callers get their own copy."""

from __future__ import annotations

import os

import yaml

from climb.catalog import load_catalog, loader


def _write(path, text: str, mtime_ns: int) -> None:
    path.write_text(text)
    os.utime(path, ns=(mtime_ns, mtime_ns))


def test_libyaml_loader_when_available():
    expected = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader
    assert loader._YAML_LOADER is expected


def test_cache_follows_the_file_and_hands_out_copies(tmp_path):
    path = tmp_path / "overlay.yaml"
    _write(path, "- name: a\n  title: A\n", 1_000_000_000_000_000_000)
    first = loader._read_yaml(path)
    assert first == [{"name": "a", "title": "A"}]
    first[0]["title"] = "changed by a caller"
    assert loader._read_yaml(path) == [{"name": "a", "title": "A"}]
    _write(path, "- name: b\n  title: Bee\n", 1_000_000_001_000_000_000)  # a new version
    assert loader._read_yaml(path) == [{"name": "b", "title": "Bee"}]


def test_overlay_edit_between_loads_is_seen(tmp_path):
    base = load_catalog(use_env=False)
    name = next(iter(base.entries))
    overlay = tmp_path / "overlay.yaml"
    _write(overlay, f"- name: {name}\n  title: First title\n", 1_000_000_000_000_000_000)
    assert load_catalog(overlay, use_env=False).get(name).title == "First title"
    _write(overlay, f"- name: {name}\n  title: Second title\n", 1_000_000_002_000_000_000)
    assert load_catalog(overlay, use_env=False).get(name).title == "Second title"
    assert load_catalog(use_env=False).get(name).title == base.get(name).title
