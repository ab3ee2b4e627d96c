"""Video and ultrasound-cine adapters (EchoNet-Dynamic, Cholec80, COVID-BLUES, COVID-US).

Every record holds one clip, ``inputs["video"]``: ``uint8`` T x H x W x C from
:func:`climb.read.standardize_volume.standardize_clip` (frame choice through
``read.video.clip_indices``, shorter side resized to ``size`` and centre-cropped). The clip
options every video adapter accepts in its config are :data:`CLIP_CONFIG` (``frames``,
``size``, ``policy`` "uniform" | "strided", ``stride``, ``mode`` "RGB" | "L"); a prepare
``--config frames=32 size=112`` overrides them. ``Input.sampling_rate`` is the clip's frame
rate in real time (the container's fps divided by the step between the chosen frames), so a
model knows how much time a clip spans; it is ``None`` when the container has no frame rate.

Frame counts and frame rates come from the container (``read_video``), never from an index
table; a video whose frames do not all decode (truncated), with no frame, or that cannot be
opened is a ``RecordError`` naming its path relative to the raw root, and is quarantined.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from climb.adapt.base import Adapter, Item
from climb.errors import RecordError
from climb.read.standardize_volume import VIDEO_DEFAULTS, standardize_clip
from climb.read.video import read_video
from climb.read.volume import Volume
from climb.record import Input, Record

#: Clip options of every video adapter (``VIDEO_DEFAULTS`` of the reader, colour kept).
CLIP_CONFIG: dict[str, Any] = {**VIDEO_DEFAULTS, "mode": "RGB"}


def read_source(raw_dir: Path, source: str, indices: Iterable[int] | None = None) -> Volume:
    """Decode the video ``raw_dir / source`` (every frame, or those at ``indices``); errors
    name ``source`` (relative to the raw root), never the absolute path."""
    path = Path(raw_dir) / source
    if not path.is_file():
        raise RecordError(source, "video file not found")
    try:
        return read_video(path, indices=indices)
    except RecordError as err:
        raise RecordError(source, err.problem) from None
    except ValueError as err:  # frame indices outside the container's frame count
        raise RecordError(source, f"cannot read the clip's frames ({err})") from None


def frame_count(video: Volume) -> int:
    """The container's frame count (decoded frames where the container has none)."""
    return int(video.meta.get("frames", video.array.shape[0]))


def clip_step(n_frames: int, config: Mapping[str, Any]) -> float:
    """Source frames between two clip frames: ``stride`` (strided) or the uniform spacing."""
    if str(config["policy"]) == "strided":
        return float(config["stride"])
    return max(1.0, n_frames / int(config["frames"]))


def clip_input(
    video: Volume, source: str, config: Mapping[str, Any], start: int | None = None
) -> Input:
    """The standard clip Input of a decoded video (config ``frames``, ``size``, ``policy``,
    ``stride``, ``mode``; ``start``: first frame of a strided clip)."""
    try:
        clip = standardize_clip(
            video,
            frames=int(config["frames"]),
            size=int(config["size"]),
            policy=str(config["policy"]),
            stride=int(config["stride"]),
            start=start,
            mode=str(config["mode"]),
            source=source,
        )
    except RecordError as err:  # the core names "video" or a path; name the source
        raise RecordError(source, err.problem) from None
    except ValueError as err:  # option checks (no header text)
        raise RecordError(source, f"cannot standardize clip ({err})") from None
    rate = None
    if video.fps:
        rate = float(video.fps) / clip_step(video.array.shape[0], config)
    return Input(data=clip, sampling_rate=rate)


class ClipAdapter(Adapter):
    """A video set with one record per video, its clip over the whole video (config
    :data:`CLIP_CONFIG`). A subclass gives its layout facts: ``items`` (``info`` holding
    ``patient_id``, optional ``split``, and the values :attr:`meta_fields` names) and ``load``
    (its labels, then :meth:`clip_record`)."""

    default_config = dict(CLIP_CONFIG)
    #: ``Record.meta`` key -> the ``Item.info`` key holding its value.
    meta_fields: ClassVar[dict[str, str]] = {}

    def clip_record(self, raw_dir: Path, item: Item, labels: dict[str, Any]) -> Record:
        """The validated Record of the item's video: its standard clip, ``labels``, patient
        id and split from ``item.info``, ``meta`` the source file and :attr:`meta_fields`."""
        video = read_source(raw_dir, item.source)
        info = item.info
        return Record(
            sample_id=item.key,
            dataset=self.name,
            modality=self.entry.modality,
            patient_id=info.get("patient_id"),
            split=info.get("split"),
            inputs={"video": clip_input(video, item.source, self.config)},
            labels=labels,
            meta={
                "source_file": item.source,
                **{key: info[field] for key, field in self.meta_fields.items()},
            },
        ).validate()
