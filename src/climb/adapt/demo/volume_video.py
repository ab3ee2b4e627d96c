"""demo_volume_video: imaging modality (CT / MR / US) of real DICOM volumes and cines.

Raw dir (``climb/demo_data/demo_volume_video``): DICOM files copied unchanged from pydicom's,
pydicom-data's and nibabel's test files (``pydicom/``, ``pydicom-data/``, ``nibabel/``,
``pcir/<patient>/<series>/<instance>``), plus ``split.csv`` (``group,split``: a file or a
folder, and its fixed split), as in ``demo_dicom_modality``.

What a file becomes depends on the file, never on its label:

- the single-frame slices of one series (``SeriesInstanceUID``), when it has two or more, are
  one **volume** (``inputs["volume"]``, uint8 ``depth`` x ``size`` x ``size``):
  :func:`climb.read.dicom.read_dicom_series` (stacked along the slice normal), each slice
  fitted to ``size`` x ``size`` (trilinear, in-plane only: the pcir.org files were downsized
  to 16 x 16 without updating PixelSpacing, so their spacing is not physical and is not used),
  then :func:`climb.read.standardize_volume.standardize_volume` (centre crop/pad to ``depth``
  slices, uint8 over the volume's own min-max);
- a multi-frame file (a cine) is cut into **clips** (``inputs["video"]``, uint8 ``frames`` x
  ``size`` x ``size`` x 1, grey): :func:`climb.read.dicom_cine.read_dicom_cine` then
  :func:`climb.read.standardize_volume.standardize_clip` (``policy="strided"``, stride 1, one
  clip every ``clip_step`` frames);
- a single-frame file alone in its series (a still) is one clip of its one frame repeated
  (standardize_clip's short-video rule).

The label is each file's own ``Modality`` tag. ``patient_id`` is a hash of the file's
``PatientID`` (else its series), so every sample of one patient lands in one split;
``study_id`` hashes the series. A machinery check of the 3D and video paths (read ->
standardize -> store -> 3D/temporal augmentation -> train -> evaluate) on a handful of
independent patients, not a clinical task.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from climb.adapt.base import Adapter, Item
from climb.adapt.demo.dicom_modality import (
    SPLIT_FILE,
    FileHeader,
    dicom_files,
    group_hash,
    read_header,
    read_split_table,
    split_of,
)
from climb.errors import RecordError
from climb.read.dicom import dicom_series_files, read_dicom_series
from climb.read.dicom_cine import read_dicom_cine
from climb.read.standardize_volume import resample_volume, standardize_clip, standardize_volume
from climb.read.volume import Volume
from climb.record import Input, Record


def plan_units(headers: list[FileHeader]) -> list[tuple[str, list[FileHeader]]]:
    """Group files into (kind, files), from the headers only: a series of >= 2 single-frame
    files is one ``volume``; a multi-frame file is a ``clip`` source when it states its frame
    timing (a cine) and a ``volume`` when it does not (its frames are slices); a single-frame
    file alone in its series (a still) is a ``clip`` source."""
    by_series: dict[tuple[str, str], list[FileHeader]] = {}
    for h in headers:
        folder = h.source.rsplit("/", 1)[0] if "/" in h.source else ""
        by_series.setdefault((folder, h.series), []).append(h)
    units = []
    for files in by_series.values():
        singles = [h for h in files if h.frames == 1]
        if len(singles) >= 2:
            units.append(("volume", sorted(singles, key=lambda h: h.source)))
        for h in files:
            if h.frames > 1:
                units.append(("clip" if h.timed else "volume", [h]))
            elif len(singles) < 2:
                units.append(("clip", [h]))
    return sorted(units, key=lambda u: u[1][0].source)


def clip_starts(n_frames: int, frames: int, step: int) -> list[int]:
    """First frame of each clip: every ``step`` frames while a whole clip fits (one clip from
    frame 0 when the cine is shorter than a clip)."""
    return list(range(0, max(n_frames - frames, 0) + 1, step))


def fit_in_plane(array: np.ndarray, size: int) -> np.ndarray:
    """Resize every slice of a ``D x H x W`` array to ``size`` x ``size`` (trilinear, slices
    kept): a fit to the grid, not a physical resampling."""
    h, w = array.shape[1:]
    return resample_volume(
        np.asarray(array, dtype=np.float32), (1.0, 1.0, 1.0), (1.0, h / size, w / size)
    )


class VolumeVideoAdapter(Adapter):
    name = "demo_volume_video"
    default_config: dict[str, Any] = {"depth": 8, "size": 64, "frames": 8, "clip_step": 4}

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        table = read_split_table(raw_dir)
        headers = [read_header(p, p.relative_to(raw_dir).as_posix()) for p in dicom_files(raw_dir)]
        if not headers:
            raise RecordError(raw_dir, "no DICOM files found")
        items, patient_split = [], {}
        for kind, files in plan_units(headers):
            first = files[0]
            splits = {split_of(h.source, table) for h in files}
            if None in splits:
                raise RecordError(raw_dir / SPLIT_FILE, f"no split for {first.source}")
            if len(splits) > 1:
                raise RecordError(raw_dir / SPLIT_FILE, f"{first.source}: a series in two splits")
            split = splits.pop()
            if len({h.modality for h in files}) > 1:
                raise RecordError(first.source, "one series holds two modalities")
            if patient_split.setdefault(first.patient, split) != split:
                raise RecordError(
                    raw_dir / SPLIT_FILE, f"{first.source}: one patient's files are in two splits"
                )
            folder = first.source.rsplit("/", 1)[0]
            source = folder if len(files) > 1 else first.source
            key = source.removesuffix(".dcm").replace("/", "-")
            items.append(
                Item(
                    source=source,
                    key=f"{key}-{first.series[-6:]}" if len(files) > 1 else key,
                    info={
                        "kind": kind,
                        "modality": first.modality,
                        "patient_id": first.patient,
                        "study_id": first.series,
                        "split": split,
                        "files": [h.source for h in files],
                    },
                )
            )
        return items

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        raw_dir = Path(raw_dir)
        label = self.mapper("modality").multiclass(item.info["modality"])
        if item.info["kind"] == "volume":
            inputs = [("volume", self._volume(raw_dir, item))]
        else:
            inputs = [("video", clip) for clip in self._clips(raw_dir, item)]
        for n, (name, array) in enumerate(inputs):
            yield Record(
                sample_id=item.key if name == "volume" else f"{item.key}-c{n}",
                dataset=self.name,
                modality=self.entry.modality,
                patient_id=item.info["patient_id"],
                study_id=item.info["study_id"],
                split=item.info["split"],
                inputs={name: Input(data=array)},
                labels={"modality": label},
                meta={"source_file": item.source},
            ).validate()

    def _volume(self, raw_dir: Path, item: Item) -> np.ndarray:
        try:
            if item.source.endswith(".dcm") and len(item.info["files"]) == 1:  # multi-frame
                array = np.asarray(read_dicom_cine(raw_dir / item.source).array)
            else:
                array = self._series(raw_dir, item)
        except RecordError as err:  # the core names the absolute path; name the source
            raise RecordError(item.source, err.problem) from None
        if array.ndim != 3:
            raise RecordError(item.source, "a volume needs grey slices")
        size, depth = int(self.config["size"]), int(self.config["depth"])
        fitted = fit_in_plane(array, size)
        span = float(fitted.max() - fitted.min())
        if not span > 0:
            raise RecordError(item.source, "the volume is constant")
        fitted -= fitted.min()  # 0 = the volume's minimum, so padded slices are its floor
        return standardize_volume(
            Volume(array=fitted, axes="DHW"),
            spacing=None,
            shape=(depth, size, size),
            window=(span / 2, span),
            hu=False,
            source=item.source,
        )

    def _series(self, raw_dir: Path, item: Item) -> np.ndarray:
        """The item's series (chosen by its hashed UID) stacked along the slice normal."""
        folder = raw_dir / item.source
        uids = [
            u
            for u in dicom_series_files(folder)
            if group_hash("series", u) == item.info["study_id"]
        ]
        if len(uids) != 1:
            raise RecordError(item.source, "the series listed is no longer in the folder")
        array, _spacing = read_dicom_series(folder, series_uid=uids[0], rescale=True)
        return array

    def _clips(self, raw_dir: Path, item: Item) -> list[np.ndarray]:
        try:
            cine = read_dicom_cine(raw_dir / item.source)
        except RecordError as err:
            raise RecordError(item.source, err.problem) from None
        frames, size = int(self.config["frames"]), int(self.config["size"])
        starts = clip_starts(int(cine.array.shape[0]), frames, int(self.config["clip_step"]))
        return [
            standardize_clip(
                cine,
                frames=frames,
                size=size,
                policy="strided",
                stride=1,
                start=s,
                mode="L",
                source=item.source,
            )
            for s in starts
        ]


ADAPTER = VolumeVideoAdapter
