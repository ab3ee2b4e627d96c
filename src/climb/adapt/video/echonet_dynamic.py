"""EchoNet-Dynamic (Ouyang et al. 2020, Nature 580:252): 10,030 apical-4-chamber echo videos.

Layout (the Stanford AIMI release, described in the echonet/dynamic README and
https://echonet.github.io/dynamic/)::

    FileList.csv         FileName, EF, ESV, EDV, FrameHeight, FrameWidth, FPS,
                         NumberOfFrames, Split (TRAIN / VAL / TEST)
    VolumeTracings.csv   FileName, X1, Y1, X2, Y2, Frame: per traced frame, the long axis
                         (first row) then the chords across the left ventricle
    Videos/<FileName>.avi   112 x 112 AVI

FileName in FileList.csv has no ``.avi`` in the public release while VolumeTracings.csv
has it; both spellings are accepted in both tables.

Tasks (catalog): ``ejection_fraction`` (EF, percent; NaN where missing), ``reduced_ef``
(binary: EF < 50 % is "reduced", the threshold the publisher's paper uses to classify
heart failure with reduced EF) and ``lv_segmentation``: the left-ventricle masks of the two
traced frames, end-diastole (ED) first, end-systole (ES) second, ``uint8`` 2 x size x size of
0/1, fitted like the frames. The traced frames themselves travel as the ``tracing_frames``
input (2 x size x size x C) so that masks and pixels align. ED is the traced frame with the
larger area (the echonet/dynamic code relies on the CSV order; the area does not depend on
it). A polygon is the chord ends, X1/Y1 down one side and X2/Y2 back up the other (as the
publisher's code fills it). A video without exactly two traced frames, or with a traced
frame past its last frame, keeps its EF and gets no mask (``lv_segmentation`` missing).

Clip: ``inputs["video"]`` (see :mod:`climb.adapt.video`); by default a strided clip
(``stride`` 2) that starts at the earlier of the two traced frames (``clip_start="tracing"``),
so it spans the traced ED-to-ES interval; ``clip_start=None`` centres it;
``policy=uniform`` samples the whole video.

Frame counts and fps come from the container. Where FileList.csv's NumberOfFrames or FPS
disagree with it, the container wins and the record's ``meta.notes`` says which column
differed (a mismatch is not a corrupt video; a video whose frames do not all decode is
quarantined). Split: the Split column (official); another value quarantines the video.
Patients: one video per patient per the publisher, so FileName stands for the patient.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from climb.adapt.base import Adapter, Item
from climb.adapt.imaging import find_root, relative
from climb.adapt.video import CLIP_CONFIG, clip_input, frame_count, read_source
from climb.errors import RecordError
from climb.read.volume import Volume
from climb.record import Record

FILE_LIST = "FileList.csv"
TRACINGS = "VolumeTracings.csv"
VIDEOS = "Videos"
SPLITS = {"TRAIN": "train", "VAL": "val", "TEST": "test"}
#: EF (%) below which the ``reduced_ef`` label is "reduced" (Ouyang et al. 2020).
REDUCED_EF_BELOW = 50.0


def file_stem(name: Any) -> str:
    """FileName without its ``.avi`` (the tables spell it both ways)."""
    text = str(name).strip()
    return text[:-4] if text.lower().endswith(".avi") else text


def polygon(chords: np.ndarray) -> list[tuple[float, float]]:
    """The left-ventricle outline of one traced frame from its rows (X1, Y1, X2, Y2): the
    chords' first ends in order, then their second ends back (the long axis, row 0, is not
    part of the outline)."""
    rest = chords[1:]
    xs = np.concatenate([rest[:, 0], rest[::-1, 2]])
    ys = np.concatenate([rest[:, 1], rest[::-1, 3]])
    return [(float(x), float(y)) for x, y in zip(xs, ys, strict=True)]


def fill(outline: list[tuple[float, float]], height: int, width: int) -> np.ndarray:
    """A ``uint8`` H x W mask, 1 inside ``outline`` (pixel centres at integer coordinates)."""
    canvas = Image.new("L", (width, height), 0)
    ImageDraw.Draw(canvas).polygon(outline, fill=1, outline=1)
    return np.asarray(canvas, dtype=np.uint8)


def read_tracings(path: Path) -> dict[str, dict[int, np.ndarray]]:
    """{file stem: {frame: rows X1, Y1, X2, Y2}} from VolumeTracings.csv (CSV order kept)."""
    if not path.is_file():
        return {}
    table = pd.read_csv(path)
    out: dict[str, dict[int, np.ndarray]] = {}
    for (name, frame), rows in table.groupby(["FileName", "Frame"], sort=False):
        coords = rows[["X1", "Y1", "X2", "Y2"]].to_numpy(dtype=np.float64)
        out.setdefault(file_stem(name), {})[int(frame)] = coords
    return out


def number(value: Any) -> float | None:
    """A finite float, or None (empty cell, text)."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def disagreements(info: dict[str, Any], fps: float | None, n_frames: int) -> list[str]:
    """Notes naming the FileList.csv columns the container contradicts (the container wins;
    values are not copied)."""
    notes = []
    if info["frames"] is not None and int(info["frames"]) != n_frames:
        notes.append("FileList NumberOfFrames differs from the container's frame count")
    if info["fps"] is not None and fps is not None and abs(info["fps"] - fps) > 0.5:
        notes.append("FileList FPS differs from the container's frame rate")
    return notes


class EchonetDynamicAdapter(Adapter):
    name = "echonet_dynamic"
    default_config = {**CLIP_CONFIG, "policy": "strided", "stride": 2, "clip_start": "tracing"}

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        root = find_root(raw_dir, FILE_LIST)
        table = pd.read_csv(root / FILE_LIST)
        tracings = read_tracings(root / TRACINGS)
        items = []
        for row in table.itertuples(index=False):
            stem = file_stem(row.FileName)
            traced = tracings.get(stem, {})
            items.append(
                Item(
                    source=relative(root / VIDEOS / f"{stem}.avi", raw_dir),
                    key=stem,
                    info={
                        "ef": number(row.EF),
                        "split": SPLITS.get(str(row.Split).strip().upper()),
                        "fps": number(row.FPS),
                        "frames": number(row.NumberOfFrames),
                        "tracings": {f: c.tolist() for f, c in traced.items()},
                    },
                )
            )
        return items

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        info = item.info
        if info["split"] is None:
            raise RecordError(item.source, "FileList.csv Split is not TRAIN, VAL or TEST")
        video = read_source(raw_dir, item.source)
        n_frames = frame_count(video)
        notes = disagreements(info, video.fps, n_frames)
        traced = {int(f): np.asarray(c, dtype=np.float64) for f, c in info["tracings"].items()}
        usable = len(traced) == 2 and all(0 <= f < n_frames for f in traced)
        if traced and not usable:
            notes.append("tracings unusable (not two frames inside the video): no mask")
        start = None
        if usable and self.config.get("clip_start") == "tracing":
            span = (int(self.config["frames"]) - 1) * int(self.config["stride"]) + 1
            start = max(0, min(min(traced), n_frames - span))
        inputs = {"video": clip_input(video, item.source, self.config, start=start)}
        mask = None
        if usable:
            frames, mask = self._traced(video, traced, item.source)
            inputs["tracing_frames"] = frames
        ef = info["ef"]
        reduced = -1 if ef is None else int(ef < REDUCED_EF_BELOW)
        meta: dict[str, Any] = {"source_file": item.source}
        if notes:
            meta["notes"] = "; ".join(notes)
        yield Record(
            sample_id=item.key,
            dataset=self.name,
            modality=self.entry.modality,
            patient_id=item.key,
            split=info["split"],
            inputs=inputs,
            labels={
                "ejection_fraction": math.nan if ef is None else float(ef),
                "reduced_ef": reduced,
                "lv_segmentation": mask,
            },
            meta=meta,
        ).validate()

    def _traced(self, video: Volume, traced: dict[int, np.ndarray], source: str):
        """(tracing_frames Input, masks) of the two traced frames, ED (larger area) first."""
        height, width = video.array.shape[1:3]
        masks = {f: fill(polygon(c), height, width) for f, c in traced.items()}
        order = sorted(traced, key=lambda f: int(masks[f].sum()), reverse=True)
        config = {**self.config, "frames": 2, "policy": "uniform"}
        pixels = Volume(array=video.array[order], axes="THWC", photometric="RGB")
        frames = clip_input(pixels, source, config)
        frames.sampling_rate = None
        stacked = np.stack([masks[f] * 255 for f in order])[..., None]
        fitted = clip_input(
            Volume(array=stacked, axes="THWC", photometric="MONOCHROME2"),
            source,
            {**config, "mode": "L"},
        )
        mask = (np.asarray(fitted.data)[..., 0] >= 128).astype(np.uint8)
        return frames, mask


ADAPTER = EchonetDynamicAdapter
