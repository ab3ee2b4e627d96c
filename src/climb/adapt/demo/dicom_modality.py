"""demo_dicom_modality: imaging modality (CR / CT / MR / US) of real clinical DICOM images.

Raw dir (``climb/demo_data/demo_dicom_modality``): DICOM files copied unchanged from pydicom's
and pydicom-data's test files (``pydicom/``, ``pydicom-data/``: NEMA WG04, NEMA multi-frame CT,
GDCM, TCIA, Barré's samples, a US cine), plus ``split.csv`` (``group,split``: a file or a
folder, and its fixed split).

The label is each file's own ``Modality`` tag, as :func:`climb.read.dicom_image.read_dicom_image`
reports it. The group (``patient_id``) is a hash of the file's ``PatientID`` (else its
``SeriesInstanceUID``), so every re-encoding of one image (MR_small in five transfer syntaxes,
US1 lossy and lossless JPEG 2000) and every series of one patient land in the same split;
``study_id`` hashes the ``SeriesInstanceUID``. Every frame is decoded through the imaging core
(modality LUT, VOI window, MONOCHROME1 inverted, colour to grey), at most ``frames`` (default
4) evenly spaced frames of a multi-frame file, each fitted to ``size`` x ``size`` (default
128, centre crop) and cut into ``tile`` x ``tile`` tiles every ``stride`` pixels (default 64
every 32: nine overlapping 64 x 64 samples per frame), all in the image's group. Chosen on the
validation split (macro AUROC 0.93 with 20 epochs, against 0.85 with 8, 0.79 for 25 tiles of a
192 fit, 0.60 for tiles at native resolution, and a chance balanced accuracy for whole images
at 64 px). A machinery check of the 2D
path (decode -> store -> augment -> train -> evaluate), not a clinical task.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from climb.adapt.base import Adapter, Item
from climb.errors import RecordError
from climb.read.dicom import quiet_pydicom
from climb.read.dicom_cine import cine_fps
from climb.read.dicom_image import read_dicom_image
from climb.read.standardize import standardize_image
from climb.record import Input, Record

SPLIT_FILE = "split.csv"
SPLITS = ("train", "val", "test")


def group_hash(kind: str, value: str) -> str:
    """A stable, non-identifying id for a header identifier (``kind`` prefixes it)."""
    return f"{kind}-{hashlib.sha256(value.encode()).hexdigest()[:12]}"


def read_split_table(raw_dir: Path) -> dict[str, str]:
    """``split.csv`` -> {file or folder prefix: split}."""
    path = Path(raw_dir) / SPLIT_FILE
    if not path.is_file():
        raise RecordError(path, "split table not found")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or {"group", "split"} - set(rows[0]):
        raise RecordError(path, "split table needs columns group, split")
    bad = [r["group"] for r in rows if r["split"] not in SPLITS]
    if bad:
        raise RecordError(path, f"split not one of {SPLITS} for {len(bad)} rows")
    return {r["group"].strip("/"): r["split"] for r in rows}


def split_of(source: str, table: dict[str, str]) -> str | None:
    """The split of the longest ``table`` entry that is ``source`` or a folder above it."""
    matches = [k for k in table if source == k or source.startswith(k + "/")]
    return table[max(matches, key=len)] if matches else None


def dicom_files(raw_dir: Path) -> list[Path]:
    """Every file under the raw dir except the split table, sorted."""
    return sorted(
        p
        for p in Path(raw_dir).rglob("*")
        if p.is_file() and p.name != SPLIT_FILE and not p.name.startswith(".")
    )


HEADER_TAGS = [
    "Modality",
    "PatientID",
    "SeriesInstanceUID",
    "NumberOfFrames",
    "FrameTime",
    "FrameTimeVector",
    "FrameIncrementPointer",
    "CineRate",
    "RecommendedDisplayFrameRate",
]


@dataclass(frozen=True)
class FileHeader:
    """The header facts one bundled file contributes (ids hashed)."""

    source: str
    modality: str
    patient: str
    series: str
    frames: int
    timed: bool  # the file states its frame timing (a cine)


def read_header(path: Path, source: str) -> FileHeader:
    """Modality, hashed patient / series ids and the frame count of one DICOM file."""
    import pydicom

    with quiet_pydicom():
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=HEADER_TAGS)
        except Exception as err:  # pydicom raises many types; its text may quote values
            raise RecordError(source, f"cannot read DICOM header ({type(err).__name__})") from None
    modality = str(ds.get("Modality", "") or "").strip()
    series = str(ds.get("SeriesInstanceUID", "") or "").strip()
    patient = str(ds.get("PatientID", "") or "").strip()
    if not modality:
        raise RecordError(source, "Modality is missing")
    if not series:
        raise RecordError(source, "SeriesInstanceUID is missing")
    try:
        frames = int(ds.get("NumberOfFrames", 1) or 1)
    except (TypeError, ValueError):
        raise RecordError(source, "NumberOfFrames is not a number") from None
    series_id = group_hash("series", series)
    return FileHeader(
        source=source,
        modality=modality,
        patient=group_hash("patient", patient) if patient else series_id,
        series=series_id,
        frames=max(frames, 1),
        timed=cine_fps(ds)[0] is not None,
    )


def header_keys(path: Path, source: str) -> tuple[str, str, str]:
    """(Modality, patient group, series group) from a file's header, hashed ids only."""
    header = read_header(path, source)
    return header.modality, header.patient, header.series


def tiles_of(image: np.ndarray, tile: int, stride: int) -> list[np.ndarray]:
    """``tile`` x ``tile`` tiles of a square image every ``stride`` pixels, row by row (they
    overlap when ``stride`` < ``tile``)."""
    starts = range(0, image.shape[0] - tile + 1, stride)
    return [np.ascontiguousarray(image[r : r + tile, c : c + tile]) for r in starts for c in starts]


def frame_indices(n_frames: int, frames: int) -> list[int]:
    """At most ``frames`` evenly spaced frame indices of a multi-frame file (all when fewer)."""
    if n_frames <= frames:
        return list(range(n_frames))
    return (
        sorted({round(i * (n_frames - 1) / (frames - 1)) for i in range(frames)})
        if frames > 1
        else [0]
    )


class DicomModalityAdapter(Adapter):
    name = "demo_dicom_modality"
    default_config: dict[str, Any] = {"size": 128, "tile": 64, "stride": 32, "frames": 4}

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        table = read_split_table(raw_dir)
        items, patient_split = [], {}
        for path in dicom_files(raw_dir):
            source = path.relative_to(raw_dir).as_posix()
            modality, patient, series = header_keys(path, source)
            split = split_of(source, table)
            if split is None:
                raise RecordError(raw_dir / SPLIT_FILE, f"no split for {source}")
            if patient_split.setdefault(patient, split) != split:
                raise RecordError(
                    raw_dir / SPLIT_FILE, f"{source}: one patient's files are in two splits"
                )
            key = source.removesuffix(".dcm").replace("/", "-")
            items.append(
                Item(
                    source=source,
                    key=key,
                    info={
                        "modality": modality,
                        "patient_id": patient,
                        "study_id": series,
                        "split": split,
                    },
                )
            )
        if not items:
            raise RecordError(raw_dir, "no DICOM files found")
        return items

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        path = Path(raw_dir) / item.source
        size, tile = int(self.config["size"]), int(self.config["tile"])
        stride, max_frames = int(self.config["stride"]), int(self.config["frames"])
        if not 0 < tile <= size or stride < 1 or max_frames < 1:
            raise RecordError(item.source, "need 0 < tile <= size, stride >= 1, frames >= 1")
        try:
            pixels = read_dicom_image(path, window="auto")
        except RecordError as err:  # the core names the absolute path; name the source
            raise RecordError(item.source, err.problem) from None
        if pixels.meta.get("modality") != item.info["modality"]:
            raise RecordError(item.source, "Modality changed since the items were listed")
        label = self.mapper("modality").multiclass(item.info["modality"])
        colour = pixels.photometric == "RGB"
        frames = pixels.array if pixels.array.ndim == (4 if colour else 3) else [pixels.array]
        for f in frame_indices(len(frames), max_frames):
            image = standardize_image(
                np.asarray(frames[f]),
                size=size,
                fit="crop",
                mode="L",
                resample="bilinear",
            )
            for t, crop in enumerate(tiles_of(image, tile, stride)):
                yield Record(
                    sample_id=f"{item.key}-f{f}-t{t}",
                    dataset=self.name,
                    modality=self.entry.modality,
                    patient_id=item.info["patient_id"],
                    study_id=item.info["study_id"],
                    split=item.info["split"],
                    inputs={"image": Input(data=crop)},
                    labels={"modality": label},
                    meta={
                        "source_file": item.source,
                        "notes": f"transfer syntax {pixels.meta.get('transfer_syntax')}",
                    },
                ).validate()


ADAPTER = DicomModalityAdapter
