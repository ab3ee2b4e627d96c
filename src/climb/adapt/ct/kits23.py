"""KiTS23: the 2023 Kidney and Kidney Tumor Segmentation challenge (Heller et al., arXiv
2307.01984; https://kits-challenge.org/kits23/ and the neheller/kits23 repository README).

Layout (the repository after ``kits23_download_data``)::

    dataset/kits23.json                 one object per case: case_id ("case_00000"),
                                        malignant (true/false, pathology of the resected
                                        tumour), tumor_histologic_subtype, gender,
                                        age_at_nephrectomy, ... (the KiTS21 clinical fields)
    dataset/case_XXXXX/imaging.nii.gz   contrast-enhanced abdominal CT (HU)
    dataset/case_XXXXX/segmentation.nii.gz   0 background, 1 kidney, 2 tumor, 3 cyst

One record per case, ``inputs["volume"]`` (see :mod:`climb.adapt.ct`, HU). Task
``malignancy`` (catalog): ``malignant`` true -> "malignant", false -> "benign"; a case
without the field is missing (-1). Task ``segmentation``: ``segmentation.nii.gz`` on the
stored volume's grid (nearest neighbour, :func:`climb.adapt.ct.label_map`), ``uint8``
0 background, 1 kidney, 2 tumor, 3 cyst; None where the case has no mask file.
Only the training cases are public, so the split is a seeded hash of the case (the catalog's
case-level 80/10/10); one case is one patient (the publisher's README). Meta: sex from
``gender`` and the decade of ``age_at_nephrectomy`` (never the exact age).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from climb.adapt.base import Adapter, Item
from climb.adapt.ct import VOLUME_CONFIG, label_map, read_nifti_source, volume_input
from climb.adapt.imaging import find_root, relative
from climb.errors import RecordError
from climb.record import Record, age_bucket, normalize_sex

CLINICAL = "kits23.json"
IMAGE = "imaging.nii.gz"
MASK = "segmentation.nii.gz"


def malignancy(value: Any) -> str | None:
    """The ``malignancy`` class of kits23.json's ``malignant`` (None when absent)."""
    if isinstance(value, bool):
        return "malignant" if value else "benign"
    if value is None:
        return None
    raise ValueError("malignant is not true or false")


class KiTS23Adapter(Adapter):
    name = "kits23"
    default_config = dict(VOLUME_CONFIG)

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        root = find_root(raw_dir, CLINICAL)
        try:
            cases = json.loads((root / CLINICAL).read_text())
        except (OSError, ValueError) as err:
            raise RecordError(
                relative(root / CLINICAL, raw_dir),
                f"cannot read the clinical JSON ({type(err).__name__})",
            ) from None
        if not isinstance(cases, list):
            raise RecordError(relative(root / CLINICAL, raw_dir), "not a list of cases")
        items = []
        for case in sorted(cases, key=lambda c: str(c.get("case_id", ""))):
            case_id = str(case.get("case_id") or "")
            if not case_id.startswith("case_"):
                raise RecordError(relative(root / CLINICAL, raw_dir), "a case has no case_id")
            items.append(
                Item(
                    source=relative(root / case_id / IMAGE, raw_dir),
                    key=case_id,
                    info={
                        "malignant": case.get("malignant"),
                        "sex": normalize_sex(case.get("gender")),
                        "age_bucket": age_bucket(case.get("age_at_nephrectomy")),
                    },
                )
            )
        return items

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        try:
            native = malignancy(item.info["malignant"])
        except ValueError as err:
            raise RecordError(item.source, f"kits23.json {err}") from None
        volume = read_nifti_source(raw_dir, item.source)
        mask_source = str(Path(item.source).with_name(MASK).as_posix())
        mask = None
        if (Path(raw_dir) / mask_source).is_file():
            labels = read_nifti_source(raw_dir, mask_source)
            if labels.array.shape != volume.array.shape:
                raise RecordError(mask_source, "segmentation grid differs from its imaging's")
            mask = label_map(labels, mask_source, self.config)
        meta = {"source_file": item.source}
        meta.update({k: item.info[k] for k in ("sex", "age_bucket") if item.info[k]})
        yield Record(
            sample_id=item.key,
            dataset=self.name,
            modality=self.entry.modality,
            patient_id=item.key,
            inputs={"volume": volume_input(volume, item.source, self.config)},
            labels={
                "malignancy": self.mapper("malignancy").multiclass(native),
                "segmentation": mask,
            },
            meta=meta,
        ).validate()


ADAPTER = KiTS23Adapter
