"""A small prepared store (ECG beats, text reports, ultrasound images) and its QA exports."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import real_data_dir

#: the datasets of the export store
STORE_DATASETS = ("busi", "demo_iu_xray_reports", "demo_mitbih_beats")


@pytest.fixture(scope="session")
def export_store(tmp_path_factory) -> Path:
    """MIT-BIH record 100 beats (ecg + RR features), 60 IU X-ray reports (text, multilabel
    with a ``normal`` class), BUSI ultrasound images (PNG-coded in the store, plus a
    segmentation task)."""
    from climb.store.prepare import prepare
    from tests.fixtures import busi, demo_iu_xray_reports

    out = tmp_path_factory.mktemp("export-store")
    raw = tmp_path_factory.mktemp("export-raw")
    prepare("demo_mitbih_beats", real_data_dir() / "wfdb", out, progress=False, workers=1)
    prepare(
        "demo_iu_xray_reports",
        demo_iu_xray_reports.build(raw),
        out,
        progress=False,
        workers=1,
        limit=60,
    )
    prepare("busi", busi.build(raw), out, progress=False, workers=1)
    return out


@pytest.fixture(scope="session")
def qa_exports(export_store, tmp_path_factory) -> dict[str, tuple[Path, dict]]:
    """{format: (output dir, summary)} of a whole-store export in each format."""
    from climb.export.qa import FORMATS, export_qa

    out = {}
    for fmt in FORMATS:
        root = tmp_path_factory.mktemp(f"qa-{fmt}")
        out[fmt] = (root, export_qa([export_store], root, fmt))
    return out
