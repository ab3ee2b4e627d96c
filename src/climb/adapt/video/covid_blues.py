"""COVID-BLUES (Wiedemann et al. 2025, IEEE JBHI): 362 lung ultrasound videos of 63 patients.

Layout (the GitHub repository NinaWie/COVID-BLUES, its README; the zip of ``main`` unpacks
into ``COVID-BLUES-main/``)::

    lus_videos/patient_<ID>_<POINT>.mp4      POINT = L1, L2, L3 (left lung), R1, R2, R3
    lus_videos/patient_<ID>_<POINT>_2.mp4    a second video of the same BLUE point
    clinical_variables.csv                   one row per patient: patient_id, cov_test (the
                                             PCR result, 0 negative / 1 positive), pat_age, ...

Task: ``covid`` (binary, negative / positive) from ``cov_test`` of the video's patient; a
patient without a row or a value gets -1 (missing), never a guess. One record per video
(``sample_id`` its file stem); its clip follows :mod:`climb.adapt.video` (uniform over the
whole video by default). ``meta.view`` is the BLUE point, ``age_bucket`` comes from
``pat_age``; nothing else of the clinical table is read. No official split: `prepare`
assigns a seeded hash of the patient id, so a patient's six videos stay in one split (the
README asks for exactly this). A file in ``lus_videos/`` not named by the README's schema is
quarantined.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from climb.adapt.base import Item
from climb.adapt.imaging import find_root, relative
from climb.adapt.video import ClipAdapter
from climb.errors import RecordError
from climb.record import Record, age_bucket

VIDEOS = "lus_videos"
CLINICAL = "clinical_variables.csv"
NAME = re.compile(r"^patient_(?P<patient>\d+)_(?P<point>[LR][1-3])(?:_(?P<repeat>\d+))?$")
PCR = {0: "negative", 1: "positive"}


def pcr_result(value) -> str | None:
    """``cov_test`` 0/1 -> the catalog's class; anything else None."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return PCR.get(int(number)) if math.isfinite(number) and number.is_integer() else None


class CovidBluesAdapter(ClipAdapter):
    name = "covid_blues"
    meta_fields = {"view": "point", "age_bucket": "age_bucket"}

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        root = find_root(raw_dir, VIDEOS)
        patients: dict[str, dict] = {}
        if (root / CLINICAL).is_file():
            table = pd.read_csv(root / CLINICAL, usecols=["patient_id", "cov_test", "pat_age"])
            for row in table.itertuples(index=False):
                if pd.notna(row.patient_id):
                    patients[str(int(row.patient_id))] = {
                        "covid": pcr_result(row.cov_test),
                        "age_bucket": age_bucket(row.pat_age),
                    }
        items = []
        for path in sorted((root / VIDEOS).iterdir()):
            if not path.is_file() or path.name.startswith("."):
                continue
            match = NAME.match(path.stem) if path.suffix.lower() == ".mp4" else None
            patient = match["patient"] if match else None
            items.append(
                Item(
                    source=relative(path, raw_dir),
                    key=path.stem,
                    info={
                        "patient_id": patient,
                        "point": match["point"] if match else None,
                        **patients.get(patient or "", {"covid": None, "age_bucket": None}),
                    },
                )
            )
        return items

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        info = item.info
        if info["patient_id"] is None:
            raise RecordError(item.source, "file name is not patient_<ID>_<BLUEPOINT>.mp4")
        label = -1 if info["covid"] is None else self.mapper("covid").multiclass(info["covid"])
        yield self.clip_record(raw_dir, item, {"covid": label})


ADAPTER = CovidBluesAdapter
