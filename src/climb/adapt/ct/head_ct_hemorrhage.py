"""CT-ICH: Computed Tomography Images for Intracranial Hemorrhage Detection and Segmentation
(Hssayeni et al. 2020, Data 5(1):14; PhysioNet ct-ich 1.3.1,
https://physionet.org/content/ct-ich/1.3.1/ and its README).

The catalog entry ``head_ct_hemorrhage`` describes this PhysioNet release (NIfTI scans with
per-slice labels and masks), not the Kaggle "Head CT - hemorrhage" PNG set of 200 images;
this adapter follows the catalog.

Layout (the README)::

    ct_scans/<NNN>.nii      one head CT per patient (NNN = PatientNumber, 049 .. 130;
                            subjects 59-65 have no scan, per the README)
    masks/<NNN>.nii         hemorrhage masks of the same grid (two radiologists' consensus)
    hemorrhage_diagnosis_raw_ct.csv   PatientNumber, SliceNumber, Intraventricular,
                            Intraparenchymal, Subarachnoid, Epidural, Subdural,
                            No_Hemorrhage, Fracture_Yes_No (one row per slice)
    patient_demographics.csv          not read

One record per labelled slice (the catalog's per-slice task; CLIMB counts slices):
``<NNN>_<SliceNumber>``, ``inputs["image"]`` the slice in HU through the ``window`` (default
the brain window of :data:`HU_WINDOWS`; the publisher's own script uses centre 40 / width
120, ``--config window=[40,120]``) as uint8, ``size`` x ``size`` (aspect kept, ``fit``
crop or pad). Task ``hemorrhage``: ``No_Hemorrhage`` 1 -> no_hemorrhage, 0 -> hemorrhage;
``hemorrhage_segmentation``: the slice's mask (> 0), fitted like the image, ``uint8`` 0/1
(None when masks/<NNN>.nii is absent).

Slice numbers count, from 1, along the file's third voxel axis (as the publisher's
``split_raw_data.py`` reads ``ct_scan[:, :, s]``); the reader returns the volume in canonical
RAS+ order, so a file whose third axis runs inferior (I) is counted from the top. A scan
whose third axis is not axial, or whose slice count differs from the CSV, is quarantined.
Split: no official split; a seeded hash of PatientNumber (the catalog's patient-level
80/10/10), so all slices of a patient stay together.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from climb.adapt.base import Adapter, Item
from climb.adapt.ct import read_nifti_source
from climb.adapt.imaging import find_root, relative
from climb.errors import RecordError
from climb.read.standardize import standardize_image
from climb.read.standardize_volume import apply_window
from climb.read.volume import Volume
from climb.record import Input, Record

LABELS = "hemorrhage_diagnosis_raw_ct.csv"
SCANS = "ct_scans"
MASKS = "masks"


def slice_index(slice_number: int, depth: int, axis_code: str) -> int:
    """The canonical (inferior-to-superior) index of a 1-based slice number counted along
    the file's third voxel axis, whose direction code (nibabel) is ``axis_code``."""
    if not 1 <= slice_number <= depth:
        raise ValueError("SliceNumber outside the scan")
    if axis_code == "S":
        return slice_number - 1
    if axis_code == "I":
        return depth - slice_number
    raise ValueError("the scan's third voxel axis is not axial")


class HeadCTHemorrhageAdapter(Adapter):
    name = "head_ct_hemorrhage"
    default_config = {"window": "brain", "size": 224, "fit": "crop"}

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        root = find_root(raw_dir, LABELS)
        table = pd.read_csv(root / LABELS)
        slices: dict[int, dict[int, int]] = {}
        for row in table.itertuples(index=False):
            slices.setdefault(int(row.PatientNumber), {})[int(row.SliceNumber)] = int(
                row.No_Hemorrhage
            )
        items = []
        for scan in sorted((root / SCANS).glob("*.nii")):
            try:
                patient = int(scan.stem)
            except ValueError:
                continue  # not a patient scan
            mask = root / MASKS / scan.name
            items.append(
                Item(
                    source=relative(scan, raw_dir),
                    key=f"{patient:03d}",
                    info={
                        "patient": patient,
                        "slices": slices.get(patient, {}),
                        "mask": relative(mask, raw_dir) if mask.is_file() else None,
                    },
                )
            )
        return items

    def _image(self, hu: np.ndarray) -> np.ndarray:
        window = self.config["window"]
        windowed = apply_window(hu, window if isinstance(window, str) else tuple(window))
        return standardize_image(
            windowed,
            size=int(self.config["size"]),
            fit=str(self.config["fit"]),
            mode="L",
            resample="bilinear",
        )

    def _mask(self, mask: np.ndarray) -> np.ndarray:
        scaled = (mask > 0).astype(np.uint8) * 255
        fitted = standardize_image(
            scaled,
            size=int(self.config["size"]),
            fit=str(self.config["fit"]),
            mode="L",
            resample="bilinear",
        )
        return (fitted >= 128).astype(np.uint8)

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        labels: dict[int, int] = item.info["slices"]
        if not labels:
            raise RecordError(item.source, f"no rows in {LABELS}")
        scan = read_nifti_source(raw_dir, item.source)
        depth = scan.array.shape[0]
        if scan.axes != "DHW" or depth != len(labels):
            raise RecordError(item.source, f"slice count differs from {LABELS}")
        mask = self._read_mask(raw_dir, item, scan)
        axis_code = str(scan.meta.get("source_orientation", "   "))[2:3]
        hemorrhage = self.mapper("hemorrhage")
        for number, no_hemorrhage in sorted(labels.items()):
            try:
                d = slice_index(number, depth, axis_code)
            except ValueError as err:
                raise RecordError(item.source, str(err)) from None
            image = self._image(scan.array[d])
            yield Record(
                sample_id=f"{item.key}_{number:02d}",
                dataset=self.name,
                modality=self.entry.modality,
                patient_id=str(item.info["patient"]),
                study_id=item.key,
                inputs={"image": Input(data=np.ascontiguousarray(image))},
                labels={
                    "hemorrhage": hemorrhage.multiclass(
                        "no_hemorrhage" if no_hemorrhage else "hemorrhage"
                    ),
                    "hemorrhage_segmentation": None if mask is None else self._mask(mask[d]),
                },
                meta={"source_file": item.source},
            ).validate()

    def _read_mask(self, raw_dir: Path, item: Item, scan: Volume) -> np.ndarray | None:
        source: Any = item.info["mask"]
        if source is None:
            return None
        mask = read_nifti_source(raw_dir, source)
        if mask.array.shape != scan.array.shape:
            raise RecordError(source, "mask grid differs from its scan's")
        return mask.array


ADAPTER = HeadCTHemorrhageAdapter
