"""Seeded data augmentation on collated batches (training only; never in ``prepare``).

Configured in the training YAML, keyed by input name (like MONAI's dictionary transforms with
``allow_missing_keys``: a batch without that input, or samples whose ``input_mask`` is False,
are passed through untouched)::

    transforms:
      image:
        - random_resized_crop: {scale: [0.8, 1.0]}
        - flip: {p: 0.5}
        - rotate: {degrees: 10}
        - brightness: {delta: 0.1}
        - contrast: {factor: [0.8, 1.2]}
      ecg:
        - time_shift: {max_fraction: 0.05}
        - amplitude_scale: {factor: [0.9, 1.1]}

Image operations take ``[B, C, H, W]`` or grey ``[B, H, W]`` tensors (uint8 in [0, 255] or
float in [0, 1]; any strides, e.g. channels-last) and return float32 in [0, 1] of the same
shape: the encoder normalises afterwards exactly as it does without augmentation. Consecutive
geometric operations (crop, flip, rotation) are composed into one affine warp per sample,
so an image is interpolated once. Signal operations take ``[B, C, T]`` or ``[B, T]``.

Volumes and clips (3D / temporal; see :func:`augment_volume`, :func:`augment_clip`)::

      volume:                       # [B, D, H, W] or [B, C, D, H, W]; int16 HU or uint8
        - flip3d: {axes: [width], p: 0.5}
        - random_resized_crop3d: {scale: [0.85, 1.0]}
        - affine3d: {degrees: 10, zoom: [0.9, 1.1], translate: 0.05}
        - intensity_shift: {delta: 20}        # in the volume's units (HU; [0, 1] for uint8)
        - intensity_scale: {factor: [0.95, 1.05]}
      video:                        # [B, T, C, H, W] or [B, T, H, W]; uint8
        - temporal_crop: {scale: [0.7, 1.0]}  # random window, resampled to T frames
        - random_resized_crop: {scale: [0.8, 1.0]}  # 2D ops: the same draw for every frame
        - flip: {p: 0.5}
        - brightness: {delta: 0.1}

Volume operations return float32 of the input's shape, uint8 scaled to [0, 1], other dtypes
in their own units (int16 HU stay HU); the 3D geometric operations are composed into one
trilinear warp per sample, padded with the sample's minimum (air for CT). Clip operations
return float32 in [0, 1]; the 2D operations warp every frame of a sample alike.

Every random draw comes from a ``torch.Generator`` seeded from ``(seed, *key)`` (the trainer
passes run seed, rank, epoch and batch index), so the same seed gives bit-identical batches
however many loader workers there are, a resumed run replays its augmentations, and DDP ranks
draw differently. Parameters are drawn on the CPU, so they do not depend on the device.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F


class TransformSpecError(ValueError):
    """The ``transforms`` section of a config is invalid."""


def _uniform(gen: torch.Generator, n: int, low: float, high: float) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=gen, dtype=torch.float64)


def _chosen(gen: torch.Generator, n: int, p: float) -> torch.Tensor:
    """Which of ``n`` samples an operation of probability ``p`` applies to (always drawn,
    so the stream of draws does not depend on ``p``)."""
    return torch.rand(n, generator=gen, dtype=torch.float64) < p


def _pair(
    value: Any,
    name: str,
    low: float | None = None,
    high: float | None = None,
) -> tuple[float, float]:
    if (
        not isinstance(value, Sequence)
        or isinstance(value, str)
        or len(value) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        raise TransformSpecError(f"{name} must be a pair [low, high] of numbers, not {value!r}")
    a, b = float(value[0]), float(value[1])
    if not (math.isfinite(a) and math.isfinite(b)) or a > b:
        raise TransformSpecError(f"{name} must be finite with low <= high, not {value!r}")
    if (low is not None and a < low) or (high is not None and b > high):
        raise TransformSpecError(f"{name} must lie in [{low}, {high}], not {value!r}")
    return a, b


def _number(value: Any, name: str, low: float, high: float = math.inf) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TransformSpecError(f"{name} must be a number, not {value!r}")
    if not low <= float(value) <= high:
        raise TransformSpecError(f"{name} must lie in [{low}, {high}], not {value!r}")
    return float(value)


@dataclass
class Op:
    """One augmentation; ``p`` is the probability that it applies to a sample."""

    p: float = 1.0
    name: ClassVar[str] = ""
    kind: ClassVar[str] = ""  # "geometric" | "intensity" (images) | "signal"

    def check(self) -> None:
        self.p = _number(self.p, f"{self.name}.p", 0.0, 1.0)


@dataclass
class RandomResizedCrop(Op):
    """Crop a random region (``scale``: its share of the area, ``ratio``: its aspect ratio)
    and resize it back to the input size."""

    scale: tuple[float, float] = (0.08, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    name: ClassVar[str] = "random_resized_crop"
    kind: ClassVar[str] = "geometric"

    def check(self) -> None:
        super().check()
        self.scale = _pair(self.scale, "random_resized_crop.scale", 1e-3, 1.0)
        self.ratio = _pair(self.ratio, "random_resized_crop.ratio", 1e-2, 1e2)

    def matrices(self, gen: torch.Generator, n: int, h: int, w: int) -> torch.Tensor:
        area = _uniform(gen, n, *self.scale)
        log_ratio = _uniform(gen, n, math.log(self.ratio[0]), math.log(self.ratio[1]))
        ratio = torch.exp(log_ratio)
        cw = torch.sqrt(area * ratio).clamp(max=1.0)  # crop width / image width
        ch = torch.sqrt(area / ratio).clamp(max=1.0)
        cx = (1 - cw) * (2 * torch.rand(n, generator=gen, dtype=torch.float64) - 1)
        cy = (1 - ch) * (2 * torch.rand(n, generator=gen, dtype=torch.float64) - 1)
        m = _eye(n)
        m[:, 0, 0], m[:, 1, 1], m[:, 0, 2], m[:, 1, 2] = cw, ch, cx, cy
        return m


@dataclass
class Flip(Op):
    """Mirror left-right (``axis: horizontal``) or top-bottom (``vertical``)."""

    p: float = 0.5
    axis: str = "horizontal"
    name: ClassVar[str] = "flip"
    kind: ClassVar[str] = "geometric"

    def check(self) -> None:
        super().check()
        if self.axis not in ("horizontal", "vertical"):
            raise TransformSpecError(f"flip.axis must be horizontal or vertical, not {self.axis!r}")

    def matrices(self, gen: torch.Generator, n: int, h: int, w: int) -> torch.Tensor:
        m = _eye(n)
        m[:, 0 if self.axis == "horizontal" else 1, 0 if self.axis == "horizontal" else 1] = -1
        return m


@dataclass
class Rotate(Op):
    """Rotate by an angle drawn uniformly from [-degrees, degrees] about the centre (corners
    filled with zeros)."""

    degrees: float = 10.0
    name: ClassVar[str] = "rotate"
    kind: ClassVar[str] = "geometric"

    def check(self) -> None:
        super().check()
        self.degrees = _number(self.degrees, "rotate.degrees", 0.0, 180.0)

    def matrices(self, gen: torch.Generator, n: int, h: int, w: int) -> torch.Tensor:
        angle = torch.deg2rad(_uniform(gen, n, -self.degrees, self.degrees))
        cos, sin = torch.cos(angle), torch.sin(angle)
        m = _eye(n)  # a pixel-space rotation in normalised coordinates (aspect kept)
        m[:, 0, 0], m[:, 0, 1] = cos, -sin * h / w
        m[:, 1, 0], m[:, 1, 1] = sin * w / h, cos
        return m


@dataclass
class Brightness(Op):
    """Add a per-sample offset drawn from [-delta, delta] (images in [0, 1])."""

    delta: float = 0.1
    name: ClassVar[str] = "brightness"
    kind: ClassVar[str] = "intensity"

    def check(self) -> None:
        super().check()
        self.delta = _number(self.delta, "brightness.delta", 0.0, 1.0)

    def apply(self, x: torch.Tensor, gen: torch.Generator, chosen: torch.Tensor) -> torch.Tensor:
        offset = _uniform(gen, x.shape[0], -self.delta, self.delta) * chosen
        return (x + _per_sample(offset, x)).clamp_(0.0, 1.0)


@dataclass
class Contrast(Op):
    """Scale each sample's deviation from its mean by a factor drawn from ``factor``."""

    factor: tuple[float, float] = (0.8, 1.2)
    name: ClassVar[str] = "contrast"
    kind: ClassVar[str] = "intensity"

    def check(self) -> None:
        super().check()
        self.factor = _pair(self.factor, "contrast.factor", 0.0, 10.0)

    def apply(self, x: torch.Tensor, gen: torch.Generator, chosen: torch.Tensor) -> torch.Tensor:
        f = torch.where(chosen, _uniform(gen, x.shape[0], *self.factor), 1.0)
        mean = x.mean(dim=tuple(range(1, x.dim())), keepdim=True)
        return ((x - mean) * _per_sample(f, x) + mean).clamp_(0.0, 1.0)


@dataclass
class TimeShift(Op):
    """Shift a signal in time by up to ``max_fraction`` of its length (zeros fill in)."""

    max_fraction: float = 0.1
    name: ClassVar[str] = "time_shift"
    kind: ClassVar[str] = "signal"

    def check(self) -> None:
        super().check()
        self.max_fraction = _number(self.max_fraction, "time_shift.max_fraction", 0.0, 1.0)

    def apply(self, x: torch.Tensor, gen: torch.Generator, chosen: torch.Tensor) -> torch.Tensor:
        t = x.shape[-1]
        most = int(self.max_fraction * t)
        shift = torch.randint(-most, most + 1, (x.shape[0],), generator=gen) * chosen
        src = torch.arange(t).unsqueeze(0) - shift.unsqueeze(1)  # [B, T] source index
        valid = ((src >= 0) & (src < t)).to(x.device)
        src = src.clamp(0, t - 1).to(x.device)
        shape = (x.shape[0], *([1] * (x.dim() - 2)), t)
        out = x.gather(-1, src.view(shape).expand_as(x))
        return out * valid.view(shape).to(x.dtype)


@dataclass
class AmplitudeScale(Op):
    """Multiply each sample by a factor drawn from ``factor``."""

    factor: tuple[float, float] = (0.9, 1.1)
    name: ClassVar[str] = "amplitude_scale"
    kind: ClassVar[str] = "signal"

    def check(self) -> None:
        super().check()
        self.factor = _pair(self.factor, "amplitude_scale.factor", 0.0, 100.0)

    def apply(self, x: torch.Tensor, gen: torch.Generator, chosen: torch.Tensor) -> torch.Tensor:
        f = torch.where(chosen, _uniform(gen, x.shape[0], *self.factor), 1.0)
        return x * _per_sample(f, x)


# --- Volume (3D) and clip (temporal) operations ------------------------------------------

_AXES3D = {"depth": 2, "height": 1, "width": 0}  # row of the axis in (x=W, y=H, z=D) coords


@dataclass
class Flip3D(Op):
    """Mirror each of ``axes`` (depth, height, width) independently with probability ``p``."""

    p: float = 0.5
    axes: tuple[str, ...] = ("width",)
    name: ClassVar[str] = "flip3d"
    kind: ClassVar[str] = "geometric3d"

    def check(self) -> None:
        super().check()
        axes = [self.axes] if isinstance(self.axes, str) else self.axes
        if not isinstance(axes, Sequence) or not axes or any(a not in _AXES3D for a in axes):
            raise TransformSpecError(
                f"flip3d.axes must list depth, height and/or width, not {self.axes!r}"
            )
        self.axes = tuple(axes)

    def matrices(self, gen: torch.Generator, n: int, size: Sequence[int]) -> torch.Tensor:
        m = _eye(n, 4)
        for axis in ("depth", "height", "width"):  # always drawn: a fixed stream of draws
            flip = _chosen(gen, n, self.p) & (axis in self.axes)
            k = _AXES3D[axis]
            m[flip, k, k] = -1
        return m


@dataclass
class RandomResizedCrop3D(Op):
    """Crop a random box (each side ``scale`` of the volume's, one draw for all three) and
    resize it back to the input size."""

    scale: tuple[float, float] = (0.8, 1.0)
    name: ClassVar[str] = "random_resized_crop3d"
    kind: ClassVar[str] = "geometric3d"

    def check(self) -> None:
        super().check()
        self.scale = _pair(self.scale, "random_resized_crop3d.scale", 1e-2, 1.0)

    def matrices(self, gen: torch.Generator, n: int, size: Sequence[int]) -> torch.Tensor:
        side = _uniform(gen, n, *self.scale)
        m = _eye(n, 4)
        for k in range(3):
            m[:, k, k] = side
            m[:, k, 3] = (1 - side) * (2 * torch.rand(n, generator=gen, dtype=torch.float64) - 1)
        return m


@dataclass
class Affine3D(Op):
    """Rotate about each axis by up to ``degrees``, zoom by a factor from ``zoom`` and shift by
    up to ``translate`` of each side (in voxel space: the aspect of the volume is kept)."""

    degrees: float = 10.0
    zoom: tuple[float, float] = (0.9, 1.1)
    translate: float = 0.05
    name: ClassVar[str] = "affine3d"
    kind: ClassVar[str] = "geometric3d"

    def check(self) -> None:
        super().check()
        self.degrees = _number(self.degrees, "affine3d.degrees", 0.0, 180.0)
        self.zoom = _pair(self.zoom, "affine3d.zoom", 0.1, 10.0)
        self.translate = _number(self.translate, "affine3d.translate", 0.0, 1.0)

    def matrices(self, gen: torch.Generator, n: int, size: Sequence[int]) -> torch.Tensor:
        d, h, w = size
        half = torch.tensor([w, h, d], dtype=torch.float64) / 2
        rot = torch.eye(3, dtype=torch.float64).repeat(n, 1, 1)
        for axis in range(3):  # about x (W), y (H), z (D)
            angle = torch.deg2rad(_uniform(gen, n, -self.degrees, self.degrees))
            cos, sin = torch.cos(angle), torch.sin(angle)
            r = torch.eye(3, dtype=torch.float64).repeat(n, 1, 1)
            i, j = [k for k in range(3) if k != axis]
            r[:, i, i], r[:, i, j], r[:, j, i], r[:, j, j] = cos, -sin, sin, cos
            rot = rot @ r
        zoom = _uniform(gen, n, *self.zoom)
        shift = _uniform(gen, 3 * n, -self.translate, self.translate).view(n, 3) * 2
        m = _eye(n, 4)  # normalised = diag(1/half) @ (voxel rotation / zoom) @ diag(half)
        m[:, :3, :3] = (rot / zoom.view(n, 1, 1)) * half.view(1, 1, 3) / half.view(1, 3, 1)
        m[:, :3, 3] = shift
        return m


@dataclass
class IntensityShift(Op):
    """Add a per-sample offset drawn from [-delta, delta] (in the volume's units: HU for
    int16 CT, [0, 1] for uint8); no clamping."""

    delta: float = 0.05
    name: ClassVar[str] = "intensity_shift"
    kind: ClassVar[str] = "intensity3d"

    def check(self) -> None:
        super().check()
        self.delta = _number(self.delta, "intensity_shift.delta", 0.0)

    def apply(self, x: torch.Tensor, gen: torch.Generator, chosen: torch.Tensor) -> torch.Tensor:
        return x + _per_sample(_uniform(gen, x.shape[0], -self.delta, self.delta) * chosen, x)


@dataclass
class IntensityScale(Op):
    """Multiply each sample by a factor drawn from ``factor``; no clamping."""

    factor: tuple[float, float] = (0.9, 1.1)
    name: ClassVar[str] = "intensity_scale"
    kind: ClassVar[str] = "intensity3d"

    def check(self) -> None:
        super().check()
        self.factor = _pair(self.factor, "intensity_scale.factor", 0.0, 100.0)

    def apply(self, x: torch.Tensor, gen: torch.Generator, chosen: torch.Tensor) -> torch.Tensor:
        f = torch.where(chosen, _uniform(gen, x.shape[0], *self.factor), 1.0)
        return x * _per_sample(f, x)


@dataclass
class TemporalCrop(Op):
    """Temporal jitter: a random window of ``scale`` of the clip's frames (random start),
    resampled (nearest frame) back to the clip's T frames, so a clip plays at a random
    speed from a random moment; T is kept."""

    scale: tuple[float, float] = (0.7, 1.0)
    name: ClassVar[str] = "temporal_crop"
    kind: ClassVar[str] = "temporal"

    def check(self) -> None:
        super().check()
        self.scale = _pair(self.scale, "temporal_crop.scale", 1e-2, 1.0)

    def indices(self, gen: torch.Generator, n: int, t: int, chosen: torch.Tensor) -> torch.Tensor:
        """``[B, T]`` source frame of each output frame."""
        length = (_uniform(gen, n, *self.scale) * t).clamp(min=1.0)
        start = torch.rand(n, generator=gen, dtype=torch.float64) * (t - length)
        pos = start.unsqueeze(1) + (torch.arange(t, dtype=torch.float64) + 0.5) * (
            length / t
        ).unsqueeze(1)
        idx = pos.floor().long().clamp(0, t - 1)
        return torch.where(chosen.unsqueeze(1), idx, torch.arange(t).expand(n, t))


OPS: dict[str, type[Op]] = {
    cls.name: cls
    for cls in (
        RandomResizedCrop, Flip, Rotate, Brightness, Contrast, TimeShift, AmplitudeScale,
        Flip3D, RandomResizedCrop3D, Affine3D, IntensityShift, IntensityScale, TemporalCrop,
    )
}  # fmt: skip
IMAGE_OPS = sorted(n for n, c in OPS.items() if c.kind in ("geometric", "intensity"))
SIGNAL_OPS = sorted(n for n, c in OPS.items() if c.kind == "signal")
VOLUME_OPS = sorted(n for n, c in OPS.items() if c.kind in ("geometric3d", "intensity3d"))
CLIP_OPS = sorted({*IMAGE_OPS, *(n for n, c in OPS.items() if c.kind == "temporal")})


def _eye(n: int, size: int = 3) -> torch.Tensor:
    return torch.eye(size, dtype=torch.float64).repeat(n, 1, 1)


def _per_sample(values: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``[B]`` float64 -> broadcastable over ``x`` in its dtype and device."""
    return values.to(device=x.device, dtype=x.dtype).view(-1, *([1] * (x.dim() - 1)))


def parse_ops(input_name: str, spec: Any) -> list[Op]:
    """``[{name: {param: value}} | name, ...]`` -> checked operations (one kind per input)."""
    if not isinstance(spec, list):
        raise TransformSpecError(
            f"transforms.{input_name} must be a list of operations, not {type(spec).__name__}"
        )
    ops: list[Op] = []
    for item in spec:
        if isinstance(item, str):
            item = {item: {}}
        if not isinstance(item, Mapping) or len(item) != 1:
            raise TransformSpecError(
                f"transforms.{input_name}: each operation is one "
                f"`name: {{params}}` mapping, not {item!r}"
            )
        ((name, params),) = item.items()
        if name not in OPS:
            raise TransformSpecError(
                f"transforms.{input_name}: unknown operation {name!r} "
                f"(known: {', '.join(sorted(OPS))})"
            )
        params = {} if params is None else params
        if not isinstance(params, Mapping):
            raise TransformSpecError(
                f"transforms.{input_name}.{name}: parameters must be a mapping, not {params!r}"
            )
        cls = OPS[name]
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise TransformSpecError(
                f"transforms.{input_name}.{name}: unknown parameter "
                f"{unknown[0]!r} (known: {', '.join(sorted(known))})"
            )
        op = cls(**params)
        op.check()
        ops.append(op)
    kinds = {_family(op) for op in ops}
    if len(kinds) > 1 and kinds != {"image", "clip"}:
        raise TransformSpecError(
            f"transforms.{input_name} mixes image operations "
            f"({', '.join(IMAGE_OPS)}), signal operations "
            f"({', '.join(SIGNAL_OPS)}), volume operations ({', '.join(VOLUME_OPS)}) "
            f"and clip operations ({', '.join(CLIP_OPS)})"
        )
    return ops


def _family(op: Op) -> str:
    """image / signal / volume / clip: which augment_* function an operation belongs to."""
    if op.kind == "signal":
        return "signal"
    if op.kind in ("geometric3d", "intensity3d"):
        return "volume"
    return "clip" if op.kind == "temporal" else "image"


def parse_transforms(spec: Mapping[str, Any] | None) -> dict[str, list[Op]]:
    """The ``transforms`` config section -> ``{input name: [Op, ...]}`` (checked)."""
    if spec is None:
        return {}
    if not isinstance(spec, Mapping):
        raise TransformSpecError(
            f"transforms must be a mapping of input name -> operations, not {type(spec).__name__}"
        )
    return {str(name): parse_ops(str(name), ops) for name, ops in spec.items() if ops}


def augment_image(x: torch.Tensor, ops: Sequence[Op], gen: torch.Generator) -> torch.Tensor:
    """Apply image ``ops`` to ``[B, C, H, W]`` / ``[B, H, W]`` -> float32 in [0, 1], same shape."""
    if x.dim() not in (3, 4):
        raise ValueError(f"image transforms need [B, C, H, W] or [B, H, W], not {tuple(x.shape)}")
    grey = x.dim() == 3
    out = x.unsqueeze(1) if grey else x
    out = out.float() / 255.0 if x.dtype == torch.uint8 else out.float()
    n, _c, h, w = out.shape
    pending: torch.Tensor | None = None  # composed affine of consecutive geometric ops
    for op in ops:
        chosen = _chosen(gen, n, op.p)
        if op.kind == "geometric":
            m = op.matrices(gen, n, h, w)
            m[~chosen] = _eye(int((~chosen).sum()))
            pending = m if pending is None else pending @ m
        else:
            out = _warp(out, pending)
            pending = None
            out = op.apply(out, gen, chosen)
    out = _warp(out, pending)
    return out.squeeze(1) if grey else out


def _warp(x: torch.Tensor, matrices: torch.Tensor | None) -> torch.Tensor:
    """Resample ``x`` through per-sample affine maps (output -> input, normalised coords)."""
    if matrices is None:
        return x
    theta = matrices[:, :2].to(device=x.device, dtype=x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def augment_signal(x: torch.Tensor, ops: Sequence[Op], gen: torch.Generator) -> torch.Tensor:
    """Apply signal ``ops`` to ``[B, C, T]`` / ``[B, T]`` (float; the dtype is kept)."""
    if x.dim() < 2:
        raise ValueError(f"signal transforms need [B, C, T] or [B, T], not {tuple(x.shape)}")
    out = x if x.is_floating_point() else x.float()
    for op in ops:
        chosen = _chosen(gen, x.shape[0], op.p)
        out = op.apply(out, gen, chosen)
    return out


def augment_volume(x: torch.Tensor, ops: Sequence[Op], gen: torch.Generator) -> torch.Tensor:
    """Apply volume ``ops`` to ``[B, D, H, W]`` / ``[B, C, D, H, W]`` -> float32, same shape
    (uint8 scaled to [0, 1]; other dtypes keep their units)."""
    if x.dim() not in (4, 5):
        raise ValueError(
            f"volume transforms need [B, D, H, W] or [B, C, D, H, W], not {tuple(x.shape)}"
        )
    plain = x.dim() == 4
    out = x.unsqueeze(1) if plain else x
    out = out.float() / 255.0 if x.dtype == torch.uint8 else out.float()
    n, size = out.shape[0], tuple(out.shape[2:])
    pending: torch.Tensor | None = None
    for op in ops:
        chosen = _chosen(gen, n, op.p)
        if op.kind == "geometric3d":
            m = op.matrices(gen, n, size)
            if not isinstance(op, Flip3D):  # flip3d draws per axis with its own p
                m[~chosen] = _eye(int((~chosen).sum()), 4)
            pending = m if pending is None else pending @ m
        else:
            out = _warp3d(out, pending)
            pending = None
            out = op.apply(out, gen, chosen)
    out = _warp3d(out, pending)
    return out.squeeze(1) if plain else out


def _warp3d(x: torch.Tensor, matrices: torch.Tensor | None) -> torch.Tensor:
    """Trilinear resampling of ``[B, C, D, H, W]`` through per-sample affine maps (output ->
    input, normalised coords), outside filled with each sample's minimum."""
    if matrices is None:
        return x
    theta = matrices[:, :3].to(device=x.device, dtype=x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    low = x.amin(dim=tuple(range(1, x.dim())), keepdim=True)
    out = F.grid_sample(x - low, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out + low


def augment_clip(x: torch.Tensor, ops: Sequence[Op], gen: torch.Generator) -> torch.Tensor:
    """Apply clip ``ops`` to ``[B, T, C, H, W]`` / ``[B, T, H, W]`` -> float32 in [0, 1], same
    shape: ``temporal_crop`` picks frames; 2D operations draw once per clip and apply to
    every frame alike."""
    if x.dim() not in (4, 5):
        raise ValueError(
            f"clip transforms need [B, T, C, H, W] or [B, T, H, W], not {tuple(x.shape)}"
        )
    out = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    n, t = out.shape[:2]
    image_ops: list[Op] = []
    for op in ops:
        if op.kind != "temporal":
            image_ops.append(op)
            continue
        if image_ops:  # keep the order of the config
            out = _clip_as_image(out, image_ops, gen)
            image_ops = []
        idx = op.indices(gen, n, t, _chosen(gen, n, op.p)).to(out.device)
        out = out.gather(1, idx.view(n, t, *([1] * (out.dim() - 2))).expand_as(out))
    return _clip_as_image(out, image_ops, gen) if image_ops else out


def _clip_as_image(x: torch.Tensor, ops: Sequence[Op], gen: torch.Generator) -> torch.Tensor:
    """2D ``ops`` on every frame of each clip with one draw per clip: frames become channels
    of one image, which ``augment_image`` warps and shifts as a whole."""
    shape = x.shape
    flat = x.reshape(shape[0], -1, *shape[-2:])
    return augment_image(flat, ops, gen).reshape(shape)


def _augment_fn(name: str, ops: Sequence[Op]):
    """The augment_* function of an input's operations."""
    families = {_family(op) for op in ops}
    if "signal" in families:
        return augment_signal
    if "volume" in families:
        return augment_volume
    if "clip" in families or name in ("video", "clip", "cine"):
        return augment_clip
    return augment_image


def seed_for(*key: int) -> int:
    """A 63-bit generator seed mixed from integers (numpy's SeedSequence)."""
    state = np.random.SeedSequence([int(k) & 0xFFFFFFFF for k in key]).generate_state(2, np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


class BatchTransforms:
    """Applies the configured operations to a collated batch's inputs.

    ``transforms(batch, key)`` returns a new batch dict whose inputs named in the spec are
    augmented; draws are seeded by ``(seed, *key)``. Inputs the batch lacks, ``None`` inputs
    and samples with ``input_mask[name]`` False are left as they are.
    """

    def __init__(self, spec: Mapping[str, Any] | None, seed: int = 0):
        self.ops = parse_transforms(spec)
        self.seed = int(seed)

    def __bool__(self) -> bool:
        return bool(self.ops)

    def __call__(self, batch: dict[str, Any], key: Sequence[int] = ()) -> dict[str, Any]:
        if not self.ops:
            return batch
        gen = torch.Generator().manual_seed(seed_for(self.seed, *key))
        inputs = dict(batch["inputs"])
        for name in sorted(self.ops):  # a fixed order of draws
            x = inputs.get(name)
            if not isinstance(x, torch.Tensor):
                continue
            ops = self.ops[name]
            fn = _augment_fn(name, ops)
            out = fn(x, ops, gen)
            mask = (batch.get("input_mask") or {}).get(name)
            if mask is not None and not bool(mask.all()):
                keep = mask.to(out.device).view(-1, *([1] * (out.dim() - 1)))
                same = (
                    x.float() / 255.0
                    if x.dtype == torch.uint8 and fn is not augment_signal
                    else x.to(out.dtype)
                )
                out = torch.where(keep, out, same)
            inputs[name] = out
        return {**batch, "inputs": inputs}
