"""Video files (MP4, AVI, ...) through PyAV, and clip sampling.

:func:`read_video` returns RGB uint8 frames x H x W x 3 as a :class:`climb.read.volume.Volume`
(axes ``"THWC"``) with the container's frame rate (``stream.average_rate``; ``None`` when the
container has none). The frame count is the container's (``stream.frames``); when the
container does not store one, the frames are counted by decoding them and ``meta`` says so
(``frame_count = "decoded"``). Given frame indices, only those are decoded: sorted, and a seek
to the keyframe before a far-ahead index, then decoding forward to it.

Unreadable containers, no video stream, zero frames and a file with fewer decodable frames
than its container declares (truncated) raise :class:`RecordError`; messages name the file
and the problem, never container metadata (which may carry titles or comments).

:func:`clip_indices` chooses which frames a fixed-length clip uses.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from climb.errors import RecordError
from climb.read.volume import MAX_VOXELS, Volume

#: An index this many frames past the last decoded one is reached by seeking, not decoding.
SEEK_AHEAD = 16


def clip_indices(
    n_frames: int,
    length: int,
    policy: str = "uniform",
    stride: int = 1,
    start: int | None = None,
) -> list[int]:
    """``length`` frame indices of a clip from a video of ``n_frames`` frames.

    ``"uniform"``: the middle frame of each of ``length`` equal segments covering the video
    (frames repeat when the video is shorter than the clip). ``"strided"``: every ``stride``-th
    frame from ``start`` (default: the window centred in the video); indices past the end
    repeat the last frame.
    """
    if n_frames <= 0 or length <= 0:
        raise ValueError("n_frames and length must be positive")
    if policy == "uniform":
        return [min(n_frames - 1, int((i + 0.5) * n_frames / length)) for i in range(length)]
    if policy == "strided":
        if stride <= 0:
            raise ValueError("stride must be positive")
        span = (length - 1) * stride + 1
        first = max(0, (n_frames - span) // 2) if start is None else start
        if not 0 <= first < n_frames:
            raise ValueError(f"start {first} is outside 0..{n_frames - 1}")
        return [min(n_frames - 1, first + i * stride) for i in range(length)]
    raise ValueError(f"unknown clip policy {policy!r} (uniform or strided)")


def read_video(
    path: str | Path, indices: Iterable[int] | None = None, max_samples: int = MAX_VOXELS
) -> Volume:
    """Decode a video -> :class:`Volume` (T x H x W x 3 uint8 RGB): every frame, or the frames
    at ``indices`` (in the order given, repeats allowed)."""
    import av

    path = Path(path)
    try:
        container = av.open(str(path))
    except Exception as err:  # av.error.* (InvalidDataError, ...), OSError
        raise RecordError(path, f"cannot open video ({type(err).__name__})") from None
    with container:
        if not container.streams.video:
            raise RecordError(path, "no video stream")
        stream = container.streams.video[0]
        rate = stream.average_rate
        fps = float(rate) if rate is not None and rate > 0 and math.isfinite(rate) else None
        declared = int(stream.frames or 0)
        width, height = int(stream.codec_context.width), int(stream.codec_context.height)
        if width <= 0 or height <= 0:
            raise RecordError(path, "the video stream declares no frame size")
        if declared * width * height * 3 > max_samples:
            raise RecordError(path, f"{declared} frames of {width}x{height} is over the limit")
        try:
            if indices is None:
                frames = _decode_all(path, container, stream, declared, max_samples)
            else:
                wanted = [int(i) for i in indices]
                frames = _decode_some(path, container, stream, wanted, declared, fps)
        except RecordError:
            raise
        except Exception as err:  # av.error.* on corrupt packets
            raise RecordError(path, f"cannot decode video ({type(err).__name__})") from None
    meta = {
        "format": str(container.format.name),
        "codec": str(stream.codec_context.name),
        "frames": declared if declared else len(frames),
        "frame_count": "container" if declared else "decoded",
    }
    if indices is not None and not declared:
        meta["frame_count"] = "unknown"  # only the wanted frames were decoded
        meta.pop("frames")
    return Volume(array=np.stack(frames), axes="THWC", photometric="RGB", fps=fps, meta=meta)


def _rgb(frame) -> np.ndarray:
    return frame.to_ndarray(format="rgb24")


def _decode_all(path: Path, container, stream, declared: int, max_samples: int) -> list:
    frames = []
    for frame in container.decode(stream):
        frames.append(_rgb(frame))
        if len(frames) * frames[0].size > max_samples:
            raise RecordError(path, f"more than {len(frames) - 1} frames: over the limit")
    if not frames:
        raise RecordError(path, "the video has no decodable frame")
    if declared and len(frames) < declared:
        raise RecordError(path, f"truncated: {len(frames)} of {declared} frames decode")
    return frames


def _decode_some(
    path: Path, container, stream, wanted: Sequence[int], declared: int, fps: float | None
) -> list:
    if not wanted:
        raise ValueError("no frame index given")
    if min(wanted) < 0 or (declared and max(wanted) >= declared):
        raise ValueError(f"frame indices must lie in 0..{declared - 1 if declared else 'end'}")
    targets = sorted(set(wanted))
    target_set = set(targets)
    found: dict[int, np.ndarray] = {}
    seekable = fps is not None and stream.time_base is not None
    start = stream.start_time or 0
    decoder, position = None, -1
    for target in targets:
        if target in found:
            continue
        if decoder is None or (seekable and target > position + SEEK_AHEAD):
            if decoder is not None or target > 0:
                if seekable:
                    seconds = max(0.0, (target - 0.5) / fps)  # type: ignore[operator]
                    container.seek(start + int(seconds / stream.time_base), stream=stream)
                else:
                    container.seek(0, stream=stream)
            decoder, position = container.decode(stream), -1
        for frame in decoder:
            if seekable and frame.pts is not None:
                position = round(float((frame.pts - start) * stream.time_base) * fps)
            else:
                position += 1
            if position in found or position not in target_set:
                if position > target:
                    break
                continue
            found[position] = _rgb(frame)
            if position >= target:
                break
        if target not in found:
            raise RecordError(path, f"truncated: frame {target} does not decode")
    return [found[i] for i in wanted]
