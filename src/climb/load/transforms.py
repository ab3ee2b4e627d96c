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


OPS: dict[str, type[Op]] = {
    cls.name: cls
    for cls in (RandomResizedCrop, Flip, Rotate, Brightness, Contrast, TimeShift, AmplitudeScale)
}
IMAGE_OPS = sorted(n for n, c in OPS.items() if c.kind in ("geometric", "intensity"))
SIGNAL_OPS = sorted(n for n, c in OPS.items() if c.kind == "signal")


def _eye(n: int) -> torch.Tensor:
    return torch.eye(3, dtype=torch.float64).repeat(n, 1, 1)


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
    kinds = {"signal" if op.kind == "signal" else "image" for op in ops}
    if len(kinds) > 1:
        raise TransformSpecError(
            f"transforms.{input_name} mixes image operations "
            f"({', '.join(IMAGE_OPS)}) and signal operations "
            f"({', '.join(SIGNAL_OPS)})"
        )
    return ops


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
            fn = augment_signal if ops[0].kind == "signal" else augment_image
            out = fn(x, ops, gen)
            mask = (batch.get("input_mask") or {}).get(name)
            if mask is not None and not bool(mask.all()):
                keep = mask.to(out.device).view(-1, *([1] * (out.dim() - 1)))
                same = (
                    x.float() / 255.0
                    if x.dtype == torch.uint8 and fn is augment_image
                    else x.to(out.dtype)
                )
                out = torch.where(keep, out, same)
            inputs[name] = out
        return {**batch, "inputs": inputs}
