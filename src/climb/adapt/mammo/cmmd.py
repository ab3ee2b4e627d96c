"""CMMD, The Chinese Mammography Database (Cui et al. 2021): 3,728 mammograms of 1,775
patients with biopsy-confirmed benign or malignant breast lesions.

Layout (TCIA collection page https://www.cancerimagingarchive.net/collection/cmmd/ and its
"Data Access" table; the NBIA Data Retriever's descriptive folder names)::

    CMMD_clinicaldata_revision.xlsx   one row per breast with a lesion: ID1 (D1-0001...),
                                      LeftRight (L/R), Age, number, abnormality
                                      (calcification/mass/both), classification
                                      (Benign/Malignant), subtype (D2 patients only; not read)
    CMMD/<ID1>/<date>-NA-NA-<n>/<series>/1-<k>.dcm   the patient's mammograms

Task ``malignancy``: the ``classification`` of the image's breast (ID1 + the DICOM's
ImageLaterality, else Laterality), the catalog's native classes. An image of a breast without
a clinical row (the contralateral side) is kept with a missing label (-1); a breast whose
laterality the header does not give is an error. CMMD publishes no split: records carry the
patient id (ID1) and `prepare` splits by a seeded hash of it (``split_seed``,
``split_ratios``), so a patient's images never straddle splits. Meta: age bucket (from the
table's Age), laterality, the view where the header's ViewPosition is CC or MLO, the source
file. Header values are read through :func:`climb.read.dicom_image.read_dicom_header`
(whitelisted fields, pydicom's logs and warnings dropped) and are never copied anywhere but
these two normalized fields.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from climb.adapt.base import Adapter, Item
from climb.adapt.imaging import IMAGE_CONFIG, decode_image, find_root, relative
from climb.errors import LabelMappingError, RecordError
from climb.read.dicom_image import read_dicom_header
from climb.record import Record, age_bucket

CLINICAL = "CMMD_clinicaldata_revision.xlsx"
COLUMNS = ("ID1", "LeftRight", "Age", "classification")
LATERALITY = {"L": "left", "R": "right"}
VIEWS = {"CC", "MLO"}


def read_clinical(path: Path) -> dict[str, dict]:
    """{ID1: {"age": age, "L"/"R": classification}} from the clinical spreadsheet."""
    try:
        table = pd.read_excel(path, dtype=str, engine="openpyxl").fillna("")
    except Exception as err:  # openpyxl raises many types on a bad workbook
        raise RecordError(path, f"cannot read the clinical table ({type(err).__name__})") from None
    missing = set(COLUMNS) - set(table.columns)
    if missing:
        raise RecordError(path, f"missing columns {sorted(missing)}")
    out: dict[str, dict] = {}
    for row in table.to_dict("records"):
        patient = out.setdefault(row["ID1"].strip(), {"age": row["Age"].strip()})
        patient[row["LeftRight"].strip().upper()] = row["classification"].strip()
    return out


def header_fields(path: Path, source: str) -> tuple[str | None, str | None]:
    """(laterality "L"/"R" or None, view "CC"/"MLO" or None) from a DICOM header."""
    try:
        header = read_dicom_header(path, ["ImageLaterality", "Laterality", "ViewPosition"])
    except RecordError as err:  # the reader names the absolute path; name the source
        raise RecordError(source, err.problem) from None
    side = header["ImageLaterality"] or header["Laterality"] or ""
    view = header["ViewPosition"] or ""
    side, view = side.strip().upper(), view.strip().upper()
    return (side if side in LATERALITY else None, view if view in VIEWS else None)


class CmmdAdapter(Adapter):
    name = "cmmd"
    default_config = {**IMAGE_CONFIG, "fit": "pad"}

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        clinical = read_clinical(find_root(raw_dir, CLINICAL) / CLINICAL)
        image_root = find_root(raw_dir, "CMMD") / "CMMD"
        items = []
        for patient_dir in sorted(p for p in image_root.iterdir() if p.is_dir()):
            patient = patient_dir.name
            rows = clinical.get(patient, {})
            for path in sorted(patient_dir.rglob("*.dcm")):
                source = relative(path, raw_dir)
                series = path.parent.name.split("-")[-1]
                items.append(Item(
                    source=source,
                    key=f"{patient}-{series}-{path.stem}",
                    info={"patient_id": patient, "in_table": bool(rows),
                          "labels": {k: v for k, v in rows.items() if k in LATERALITY},
                          "age_bucket": age_bucket(rows.get("age"))},
                ))
        return items

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        info = item.info
        if not info["in_table"]:
            raise RecordError(item.source, f"patient folder has no row in {CLINICAL}")
        path = Path(raw_dir) / item.source
        if not path.is_file():
            raise RecordError(item.source, "image file not found")
        side, view = header_fields(path, item.source)
        if side is None:
            raise RecordError(item.source, "DICOM header gives no image laterality (L/R)")
        native = info["labels"].get(side)  # None: the breast without a lesion row
        try:
            label = self.mapper("malignancy").multiclass(native)
        except LabelMappingError as err:
            raise RecordError(item.source, str(err)) from None
        image = decode_image(path, item.source, self.config)
        yield Record(
            sample_id=item.key,
            dataset=self.name,
            modality="mammography",
            patient_id=info["patient_id"],
            inputs={"image": image},
            labels={"malignancy": label},
            meta={
                "age_bucket": info["age_bucket"],
                "laterality": LATERALITY[side],
                "view": view,
                "source_file": item.source,
            },
        ).validate()


ADAPTER = CmmdAdapter
