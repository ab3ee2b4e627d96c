"""Cholec80 (Twinanda et al. 2017, IEEE TMI 36(1):86; CAMMA): 80 cholecystectomy videos.

Layout (the archive the CAMMA request form sends, http://camma.u-strasbg.fr/datasets)::

    videos/videoNN.mp4                     NN = 01..80, 25 fps
    phase_annotations/videoNN-phase.txt    "Frame<TAB>Phase", one row per video frame
    tool_annotations/videoNN-tool.txt      "Frame<TAB>Grasper<TAB>Bipolar<TAB>Hook<TAB>Scissors
                                           <TAB>Clipper<TAB>Irrigator<TAB>SpecimenBag" (0/1),
                                           one row every 25th frame (1 fps)

Records: one clip per window of ``window_s`` seconds (non-overlapping, from frame 0; a last
partial window is dropped), its ``frames`` frames spread uniformly over the window and
decoded alone (a 30-90 min video is never decoded whole). Labels: ``phase``, the phase of
the window's centre frame; ``tools``, the tool row nearest that centre frame (multilabel, the
catalog's seven tools). Windows are cut over the frames both the container and the phase
file cover; where their counts differ, ``meta.notes`` says so (the container's count is
used as it stands: a video with fewer decodable frames than it declares is quarantined).

Split: the EndoNet protocol (Twinanda et al. 2017), videos 01-40 train and 41-80 test; the
validation videos are 33-40 (config ``val_from``; the 32/8/40 split of TeCNO, Czempiel et
al. 2020, and later phase-recognition work). Patient = video (one surgery per patient).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from climb.adapt.base import Adapter, Item
from climb.adapt.imaging import find_root, relative
from climb.adapt.video import CLIP_CONFIG, clip_input, read_source
from climb.errors import LabelMappingError, RecordError
from climb.read.video import clip_indices
from climb.read.volume import Volume
from climb.record import Record

VIDEO = re.compile(r"^video(?P<number>\d+)\.mp4$")
TOOLS = ["Grasper", "Bipolar", "Hook", "Scissors", "Clipper", "Irrigator", "SpecimenBag"]
#: The official frame rate of every Cholec80 video (phase rows are per frame at this rate).
FPS = 25.0


def official_split(number: int, val_from: int) -> str:
    """Videos 1-40 train (``val_from``-40 val), 41-80 test."""
    if number > 40:
        return "test"
    return "val" if number >= val_from else "train"


def read_phases(path: Path, source: str) -> list[str]:
    """The phase of every frame, in frame order, from ``videoNN-phase.txt``."""
    if not path.is_file():
        raise RecordError(source, "phase annotation file not found")
    table = pd.read_csv(path, sep="\t")
    if list(table.columns[:2]) != ["Frame", "Phase"]:
        raise RecordError(source, "phase annotation header is not Frame, Phase")
    frames = table["Frame"].to_numpy()
    if len(frames) == 0 or not np.array_equal(frames, np.arange(len(frames))):
        raise RecordError(source, "phase annotation frames are not 0, 1, 2, ...")
    return [str(p).strip() for p in table["Phase"]]


def read_tools(path: Path, source: str) -> tuple[np.ndarray, np.ndarray]:
    """(annotated frames, 0/1 matrix frames x tools) from ``videoNN-tool.txt``."""
    if not path.is_file():
        raise RecordError(source, "tool annotation file not found")
    table = pd.read_csv(path, sep="\t")
    if list(table.columns) != ["Frame", *TOOLS]:
        raise RecordError(source, "tool annotation header is not Frame + the seven tools")
    values = table[TOOLS].to_numpy()
    if len(table) == 0 or not np.isin(values, (0, 1)).all():
        raise RecordError(source, "tool annotation values are not 0/1")
    return table["Frame"].to_numpy(dtype=np.int64), values.astype(np.float32)


class Cholec80Adapter(Adapter):
    name = "cholec80"
    default_config = {**CLIP_CONFIG, "window_s": 10.0, "val_from": 33}

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        root = find_root(raw_dir, "videos")
        items = []
        for path in sorted((root / "videos").iterdir()):
            match = VIDEO.match(path.name)
            if not match:
                continue
            stem = path.stem
            number = int(match["number"])
            items.append(
                Item(
                    source=relative(path, raw_dir),
                    key=stem,
                    info={
                        "split": official_split(number, int(self.config["val_from"])),
                        "phases": relative(
                            root / "phase_annotations" / f"{stem}-phase.txt", raw_dir
                        ),
                        "tools": relative(root / "tool_annotations" / f"{stem}-tool.txt", raw_dir),
                    },
                )
            )
        return items

    def item_files(self, raw_dir: Path, item: Item) -> list[Path]:
        """The video and its two annotation files (what `prepare` fingerprints)."""
        return [Path(raw_dir) / s for s in (item.source, item.info["phases"], item.info["tools"])]

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        raw_dir = Path(raw_dir)
        phases = read_phases(raw_dir / item.info["phases"], item.info["phases"])
        tool_frames, tool_values = read_tools(raw_dir / item.info["tools"], item.info["tools"])
        first = read_source(raw_dir, item.source, indices=[0])
        declared = first.meta.get("frames")
        fps = first.fps or FPS
        n_frames = min(int(declared), len(phases)) if declared else len(phases)
        notes = []
        if declared and int(declared) != len(phases):
            notes.append("phase annotation frame count differs from the container's")
        window = max(1, round(float(self.config["window_s"]) * fps))
        frames = int(self.config["frames"])
        offsets = clip_indices(window, frames, "uniform")
        phase_mapper, tool_mapper = self.mapper("phase"), self.mapper("tools")
        for start in range(0, n_frames - window + 1, window):
            centre = start + window // 2
            try:
                phase = phase_mapper.multiclass(phases[centre])
                nearest = int(np.argmin(np.abs(tool_frames - centre)))
                tools = tool_mapper.multilabel_from_values(
                    dict(zip(TOOLS, tool_values[nearest].tolist(), strict=True))
                )
            except LabelMappingError as err:
                raise RecordError(item.info["phases"], str(err)) from None
            clip = read_source(raw_dir, item.source, indices=[start + o for o in offsets])
            video = Volume(array=clip.array, axes="THWC", photometric="RGB", fps=clip.fps)
            data = clip_input(video, item.source, {**self.config, "policy": "uniform"})
            data.sampling_rate = fps * frames / window
            meta: dict[str, Any] = {
                "source_file": item.source,
                "window_start_s": round(start / fps, 3),
                "window_s": round(window / fps, 3),
            }
            if notes:
                meta["notes"] = "; ".join(notes)
            yield Record(
                sample_id=f"{item.key}-f{start:06d}",
                dataset=self.name,
                modality=self.entry.modality,
                patient_id=item.key,
                study_id=item.key,
                split=item.info["split"],
                inputs={"video": data},
                labels={"phase": phase, "tools": tools},
                meta=meta,
            ).validate()


ADAPTER = Cholec80Adapter
