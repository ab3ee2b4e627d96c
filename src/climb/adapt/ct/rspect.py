"""RSPECT: the RSNA-STR Pulmonary Embolism CT dataset (Kaggle "RSNA STR Pulmonary Embolism
Detection", Colak et al. 2021, Radiology: AI 3(2):e200254).

Layout (the competition's Data page and the paper)::

    train.csv   one row per slice: StudyInstanceUID, SeriesInstanceUID, SOPInstanceUID,
                pe_present_on_image, then the exam-level flags repeated on every row of a
                study: negative_exam_for_pe, qa_motion, qa_contrast, flow_artifact,
                rv_lv_ratio_gte_1, rv_lv_ratio_lt_1, leftsided_pe, chronic_pe,
                true_filling_defect_not_pe, rightsided_pe, acute_and_chronic_pe, central_pe,
                indeterminate
    train/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm   CTPA slices
    test/...    the public test studies, without labels (not read)

One record per study (its one CTPA series), ``inputs["volume"]`` (see
:mod:`climb.adapt.ct`, HU). Task ``exam_pe`` (catalog; the 3-class study task of CLIMB):
``negative_exam_for_pe`` where that flag is 1, ``indeterminate`` where that flag is 1, else
``pe_present`` (the competition's label-consistency rules make the three exclusive; a study
with both flags set, or with exam flags that differ between its rows, is quarantined).

``image_pe`` (``pe_present_on_image``) is a per-slice label: a binary label is one integer
per record, so the study record leaves it missing (-1); with ``--config slices=true`` every
labelled slice also becomes a 2D record of its own (``<study>_<SOP>``, ``inputs["image"]``,
uint8 over the ``slice_window`` HU window, ``size`` x ``size``) carrying ``image_pe`` and
its study's ``exam_pe``. Off by default: the training set has 1.79 million slices.

Grouping: the public data has no patient id (one study per patient is the publisher's
design, Colak et al.), so the StudyInstanceUID stands for the patient and the split is a
seeded hash of it (catalog: study-level 80/10/10). The UIDs in train.csv are the
publisher's anonymized short identifiers; no other header field is kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from climb.adapt.base import Adapter, Item
from climb.adapt.ct import VOLUME_CONFIG, read_dicom_source, volume_input
from climb.adapt.imaging import find_root, relative
from climb.errors import RecordError
from climb.read.dicom_image import read_dicom_image
from climb.read.standardize import standardize_image
from climb.read.standardize_volume import window_range
from climb.record import Input, Record

LABELS = "train.csv"
SLICES = "train"
IDS = ["StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"]
#: Exam-level columns of train.csv (the same on every row of a study).
EXAM_FLAGS = [
    "negative_exam_for_pe", "indeterminate", "rv_lv_ratio_gte_1", "rv_lv_ratio_lt_1",
    "leftsided_pe", "chronic_pe", "rightsided_pe", "acute_and_chronic_pe", "central_pe",
    "qa_motion", "qa_contrast", "flow_artifact", "true_filling_defect_not_pe",
]  # fmt: skip


def exam_class(flags: dict[str, int]) -> str:
    """The ``exam_pe`` class of one study's exam flags."""
    negative, indeterminate = flags["negative_exam_for_pe"], flags["indeterminate"]
    if negative and indeterminate:
        raise ValueError("negative_exam_for_pe and indeterminate are both set")
    if negative:
        return "negative_exam_for_pe"
    return "indeterminate" if indeterminate else "pe_present"


class RSPECTAdapter(Adapter):
    name = "rspect"
    default_config = {
        **VOLUME_CONFIG,
        "slices": False,
        "slice_window": "mediastinum",
        "size": 224,
        "fit": "crop",
    }

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        root = find_root(raw_dir, LABELS)
        table = pd.read_csv(
            root / LABELS,
            usecols=[*IDS, "pe_present_on_image", *EXAM_FLAGS],
            dtype={c: str for c in IDS},
        )
        items = []
        for (study, series), rows in table.groupby(IDS[:2], sort=True):
            flags = rows[EXAM_FLAGS].drop_duplicates()
            info: dict[str, Any] = {
                "study": study,
                "consistent": len(flags) == 1,
                "flags": {c: int(flags.iloc[0][c]) for c in EXAM_FLAGS},
                "slices": dict(
                    zip(
                        rows["SOPInstanceUID"],
                        rows["pe_present_on_image"].astype(int).tolist(),
                        strict=True,
                    )
                ),
            }
            folder = root / SLICES / study / series
            items.append(Item(source=relative(folder, raw_dir), key=study, info=info))
        return items

    def _exam_label(self, item: Item) -> int:
        if not item.info["consistent"]:
            raise RecordError(item.source, "train.csv exam-level flags differ between slices")
        try:
            native = exam_class(item.info["flags"])
        except ValueError as err:
            raise RecordError(item.source, f"train.csv {err}") from None
        return self.mapper("exam_pe").multiclass(native)

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        exam = self._exam_label(item)
        study = item.info["study"]
        volume = read_dicom_source(raw_dir, item.source)
        if volume.array.shape[0] != len(item.info["slices"]):
            raise RecordError(item.source, "the series' slice count differs from train.csv")
        yield Record(
            sample_id=item.key,
            dataset=self.name,
            modality=self.entry.modality,
            patient_id=study,
            study_id=study,
            inputs={"volume": volume_input(volume, item.source, self.config)},
            labels={"exam_pe": exam, "image_pe": -1},
            meta={"source_file": item.source},
        ).validate()
        if self.config.get("slices"):
            yield from self._slice_records(Path(raw_dir), item, exam)

    def _slice_records(self, raw_dir: Path, item: Item, exam: int) -> Iterable[Record]:
        """One 2D record per labelled slice (``slices=true``)."""
        window = self.config["slice_window"]
        low, high = window_range(window if isinstance(window, str) else tuple(window))
        image_pe = self.mapper("image_pe")
        for sop, present in sorted(item.info["slices"].items()):
            source = f"{item.source}/{sop}.dcm"
            try:
                pixels = read_dicom_image(raw_dir / source, window=((low + high) / 2, high - low))
            except RecordError as err:
                raise RecordError(source, err.problem) from None
            image = standardize_image(
                pixels, size=int(self.config["size"]), fit=str(self.config["fit"]), mode="L"
            )
            yield Record(
                sample_id=f"{item.key}_{sop}",
                dataset=self.name,
                modality=self.entry.modality,
                patient_id=item.info["study"],
                study_id=item.info["study"],
                inputs={"image": Input(data=np.ascontiguousarray(image))},
                labels={
                    "exam_pe": exam,
                    "image_pe": image_pe.multiclass(image_pe.classes[int(present)]),
                },
                meta={"source_file": source},
            ).validate()


ADAPTER = RSPECTAdapter
