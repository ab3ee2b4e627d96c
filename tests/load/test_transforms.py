"""climb.load.transforms: what each operation does to pixels and samples, on uint8/float,
grey/RGB, channels-last batches, with missing inputs; spec errors."""

from __future__ import annotations

import math

import pytest
import torch

from climb.load.transforms import (
    BatchTransforms,
    TransformSpecError,
    augment_image,
    augment_signal,
    parse_ops,
    parse_transforms,
)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _ops(*spec) -> list:
    return parse_ops("x", list(spec))


def _rgb_uint8(b: int = 4, h: int = 12, w: int = 16) -> torch.Tensor:
    """A channels-last uint8 batch, as the Collator hands H x W x C images on."""
    x = torch.randint(0, 256, (b, h, w, 3), generator=_gen(1), dtype=torch.uint8)
    return x.permute(0, 3, 1, 2)


def test_image_ops_keep_shape_and_return_float_in_unit_range():
    rgb = _rgb_uint8()
    assert not rgb.is_contiguous()
    grey = rgb[:, 0]
    ops = _ops(
        {"random_resized_crop": {"scale": [0.5, 1.0]}},
        "flip",
        {"rotate": {"degrees": 30}},
        "brightness",
        "contrast",
    )
    for x in (rgb, grey, rgb.float() / 255, grey.float() / 255):
        out = augment_image(x, ops, _gen())
        assert out.shape == x.shape and out.dtype == torch.float32
        assert float(out.min()) >= 0 and float(out.max()) <= 1
        assert not torch.allclose(out, x.float() / (255 if x.dtype == torch.uint8 else 1))
    # uint8 and its float twin are augmented alike
    a = augment_image(rgb, ops, _gen())
    b = augment_image(rgb.float() / 255, ops, _gen())
    torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="image transforms need"):
        augment_image(torch.zeros(2, 3), ops, _gen())


def test_identity_settings_and_probability_zero_leave_pixels_unchanged():
    x = torch.rand(3, 1, 10, 10, generator=_gen())
    identity = _ops(
        {"random_resized_crop": {"scale": [1, 1], "ratio": [1, 1]}},
        {"rotate": {"degrees": 0}},
        {"brightness": {"delta": 0}},
        {"contrast": {"factor": [1, 1]}},
    )
    torch.testing.assert_close(augment_image(x, identity, _gen()), x, atol=1e-6, rtol=0)
    never = _ops(
        {"flip": {"p": 0}},
        {"rotate": {"degrees": 45, "p": 0}},
        {"brightness": {"delta": 0.5, "p": 0}},
    )
    torch.testing.assert_close(augment_image(x, never, _gen()), x, atol=1e-6, rtol=0)


def test_flip_mirrors_exactly():
    x = torch.rand(2, 3, 6, 9, generator=_gen())
    out = augment_image(x, _ops({"flip": {"p": 1}}), _gen())
    torch.testing.assert_close(out, x.flip(-1), atol=1e-6, rtol=0)
    out = augment_image(x, _ops({"flip": {"p": 1, "axis": "vertical"}}), _gen())
    torch.testing.assert_close(out, x.flip(-2), atol=1e-6, rtol=0)


@pytest.mark.parametrize("height, width", [(41, 41), (31, 61)])
def test_rotation_moves_a_dot_along_its_circle_within_the_range(height, width):
    r = 12
    x = torch.zeros(8, 1, height, width)
    c, cw = height // 2, width // 2
    x[:, :, c - 1 : c + 2, cw + r - 1 : cw + r + 2] = 1.0  # a 3x3 dot right of the centre
    out = augment_image(x, _ops({"rotate": {"degrees": 30}}), _gen(3))
    ys, xs = torch.meshgrid(
        torch.arange(height).float(), torch.arange(width).float(), indexing="ij"
    )
    angles = []
    for img in out[:, 0]:
        mass = img.sum()
        cy, cx = float((img * ys).sum() / mass) - c, float((img * xs).sum() / mass) - cw
        assert math.hypot(cx, cy) == pytest.approx(r, abs=0.6)
        angles.append(math.degrees(math.atan2(cy, cx)))
    assert all(abs(a) <= 30.5 for a in angles)
    assert max(angles) - min(angles) > 5  # samples draw different angles


def test_random_resized_crop_zooms_into_the_image():
    w = 32
    ramp = torch.linspace(0, 1, w).expand(4, 1, w, w).clone()  # value grows left to right
    out = augment_image(
        ramp, _ops({"random_resized_crop": {"scale": [0.25, 0.25], "ratio": [1, 1]}}), _gen()
    )
    step = ramp[0, 0, 0, 1] - ramp[0, 0, 0, 0]
    inner = out[..., 4:-4, 5:-4] - out[..., 4:-4, 4:-5]
    torch.testing.assert_close(
        inner, torch.full_like(inner, float(step) / 2), atol=1e-5, rtol=0
    )  # half the width shown over the whole width
    spans = out.amax(dim=(1, 2, 3)) - out.amin(dim=(1, 2, 3))
    torch.testing.assert_close(spans, torch.full_like(spans, 0.5), atol=0.05, rtol=0)
    assert out[:, 0, 0, 0].std() > 0  # each sample its own crop position


def test_brightness_and_contrast_per_sample():
    x = 0.25 + 0.5 * torch.rand(6, 3, 8, 8, generator=_gen())
    out = augment_image(x, _ops({"brightness": {"delta": 0.2}}), _gen())
    shift = (out - x).flatten(1)
    torch.testing.assert_close(shift, shift[:, :1].expand_as(shift), atol=1e-6, rtol=0)
    assert shift[:, 0].abs().max() <= 0.2 and shift[:, 0].std() > 0
    out = augment_image(x, _ops({"contrast": {"factor": [0.5, 0.5]}}), _gen())
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    torch.testing.assert_close(out, (x - mean) * 0.5 + mean, atol=1e-6, rtol=0)


def test_signal_ops_shift_with_zero_fill_and_scale():
    x = torch.randn(5, 2, 100, generator=_gen())
    out = augment_signal(x, _ops({"time_shift": {"max_fraction": 0.1}}), _gen())
    shifts = set()
    for i in range(5):
        match = [s for s in range(-10, 11) if torch.equal(out[i], _shifted(x[i], s))]
        assert match, f"sample {i} is not a shift of at most 10 samples"
        shifts.add(match[0])
    assert len(shifts) > 1
    out = augment_signal(x, _ops({"amplitude_scale": {"factor": [0.5, 2.0]}}), _gen())
    ratio = (out / x).flatten(1)
    torch.testing.assert_close(ratio, ratio[:, :1].expand_as(ratio))
    assert ratio.min() >= 0.5 and ratio.max() <= 2.0


def _shifted(row: torch.Tensor, s: int) -> torch.Tensor:
    out = torch.zeros_like(row)
    if s >= 0:
        out[:, s:] = row[:, : row.shape[-1] - s]
    else:
        out[:, :s] = row[:, -s:]
    return out


def test_batch_transforms_skip_missing_samples_and_inputs():
    image = _rgb_uint8(b=4)
    image[1] = 0  # the Collator's zeros for a sample without an image
    batch = {
        "inputs": {"image": image, "text": ["a", "b", "c", "d"]},
        "input_mask": {"image": torch.tensor([True, False, True, True])},
        "sample_id": list("abcd"),
    }
    spec = {"image": [{"rotate": {"degrees": 20}}, "contrast"], "ecg": ["amplitude_scale"]}
    out = BatchTransforms(spec, seed=0)(batch, (0, 0, 0))
    assert out is not batch and batch["inputs"]["image"] is image  # input batch untouched
    assert out["inputs"]["text"] == batch["inputs"]["text"] and "ecg" not in out["inputs"]
    assert torch.equal(out["inputs"]["image"][1], torch.zeros(3, 12, 16))
    present = out["inputs"]["image"][[0, 2, 3]]
    assert not torch.allclose(present, image[[0, 2, 3]].float() / 255)
    assert BatchTransforms({}, 0)(batch, (0,)) is batch


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"image": [{"blur": {}}]}, "unknown operation 'blur'"),
        ({"image": [{"flip": {"axis": "diagonal"}}]}, "flip.axis"),
        ({"image": [{"contrast": {"factor": 1.2}}]}, "contrast.factor must be a pair"),
        ({"image": [{"brightness": {"delta": True}}]}, "brightness.delta must be a number"),
        ({"image": [{"flip": {}, "rotate": {}}]}, "one `name: {params}` mapping"),
        ({"image": [{"rotate": [10]}]}, "parameters must be a mapping"),
        ({"ecg": [{"time_shift": {"max_fraction": 1.5}}]}, "time_shift.max_fraction"),
        (["image"], "must be a mapping"),
    ],
)
def test_spec_errors_name_the_input_operation_and_parameter(spec, message):
    with pytest.raises(TransformSpecError, match=message):
        parse_transforms(spec)
