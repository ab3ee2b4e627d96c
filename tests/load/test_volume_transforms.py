"""3D volume and temporal clip augmentation (climb.load.transforms) on real pixels: pydicom's
CT_small.dcm stacked into a volume, and its YBR colour cine as a clip."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
import torch
from pydicom.data import get_testdata_file

from climb.load.transforms import (
    BatchTransforms,
    TransformSpecError,
    augment_clip,
    augment_volume,
    parse_transforms,
)
from climb.read.dicom_cine import read_dicom_cine

VOLUME_SPEC = [
    {"flip3d": {"axes": ["width", "depth"], "p": 0.5}},
    {"random_resized_crop3d": {"scale": [0.8, 1.0]}},
    {"affine3d": {"degrees": 10, "zoom": [0.9, 1.1], "translate": 0.05}},
    {"intensity_shift": {"delta": 20}},
    {"intensity_scale": {"factor": [0.95, 1.05]}},
]
CLIP_SPEC = [
    {"temporal_crop": {"scale": [0.5, 1.0]}},
    {"random_resized_crop": {"scale": [0.7, 1.0]}},
    {"flip": {"p": 0.5}},
    {"brightness": {"delta": 0.1}},
]


@pytest.fixture(scope="module")
def volumes() -> torch.Tensor:
    """[4, 8, 64, 64] int16 HU: CT_small.dcm (2 x 2 averaged), rolled per slice and sample."""
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    hu = ds.pixel_array.astype(np.float32) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    hu = hu.reshape(64, 2, 64, 2).mean((1, 3))
    vols = [np.stack([np.roll(hu, 2 * k + 5 * b, axis=1) for k in range(8)]) for b in range(4)]
    return torch.from_numpy(np.stack(vols).astype(np.int16))


@pytest.fixture(scope="module")
def clips() -> torch.Tensor:
    """[3, 8, 3, 48, 64] uint8: frames of pydicom's colour cine, T x C x H x W."""
    cine = read_dicom_cine(get_testdata_file("examples_ybr_color.dcm")).array  # 30 x 240 x 320 x 3
    small = torch.from_numpy(np.ascontiguousarray(cine[:, ::5, ::5])).permute(0, 3, 1, 2)
    return torch.stack([small[k : k + 8] for k in (0, 10, 20)])


def test_volume_augmentation_is_seeded_and_keeps_shape_and_units(volumes):
    ops = parse_transforms({"volume": VOLUME_SPEC})["volume"]
    a = augment_volume(volumes, ops, torch.Generator().manual_seed(1))
    b = augment_volume(volumes, ops, torch.Generator().manual_seed(1))
    c = augment_volume(volumes, ops, torch.Generator().manual_seed(2))
    assert a.shape == volumes.shape and a.dtype == torch.float32
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert not torch.allclose(a, volumes.float())
    low, high = float(volumes.min()), float(volumes.max())  # HU stay HU (+- jitter)
    assert low - 200 < float(a.min()) and float(a.max()) < high + 200
    five = augment_volume(volumes.unsqueeze(1), ops, torch.Generator().manual_seed(1))
    assert five.shape == (4, 1, 8, 64, 64) and torch.allclose(five[:, 0], a)


def test_flip3d_flips_exactly_and_no_op_specs_are_identity(volumes):
    flip = parse_transforms({"v": [{"flip3d": {"axes": ["depth"], "p": 1.0}}]})["v"]
    out = augment_volume(volumes, flip, torch.Generator().manual_seed(0))
    torch.testing.assert_close(out, volumes.float().flip(1), atol=1e-2, rtol=0)
    still = [{"affine3d": {"degrees": 0, "zoom": [1, 1], "translate": 0}}]
    out = augment_volume(volumes, parse_transforms({"v": still})["v"], torch.Generator())
    torch.testing.assert_close(out, volumes.float(), atol=1e-2, rtol=0)
    u8 = augment_volume(volumes.clamp(0, 255).to(torch.uint8), flip, torch.Generator())
    assert float(u8.max()) <= 1.0  # uint8 volumes are scaled to [0, 1]


def test_clip_augmentation_is_frame_consistent_and_seeded(clips):
    ops = parse_transforms({"video": CLIP_SPEC})["video"]
    a = augment_clip(clips, ops, torch.Generator().manual_seed(3))
    assert a.shape == clips.shape and a.dtype == torch.float32
    assert torch.equal(a, augment_clip(clips, ops, torch.Generator().manual_seed(3)))
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0
    # spatial ops without the temporal one: the same warp on every frame, so a clip of one
    # repeated frame stays a clip of one repeated frame
    frozen = clips[:, :1].expand(-1, 8, -1, -1, -1).contiguous()
    spatial = parse_transforms({"video": CLIP_SPEC[1:]})["video"]
    out = augment_clip(frozen, spatial, torch.Generator().manual_seed(4))
    assert torch.equal(out, out[:, :1].expand_as(out))
    assert not torch.allclose(out, frozen.float() / 255)


def test_temporal_crop_picks_frames_in_order_from_the_clip(clips):
    crop = parse_transforms({"video": [{"temporal_crop": {"scale": [0.5, 0.5]}}]})["video"]
    out = augment_clip(clips, crop, torch.Generator().manual_seed(5))
    src = clips.float() / 255
    for b in range(clips.shape[0]):
        picked = [next(k for k in range(8) if torch.equal(out[b, t], src[b, k])) for t in range(8)]
        assert picked == sorted(picked) and picked[-1] - picked[0] <= 4
        assert 4 <= len(set(picked)) <= 5  # a window of 4 frames' length, at any start


def test_batch_transforms_route_by_input_and_leave_masked_samples(volumes, clips):
    transforms = BatchTransforms({"volume": VOLUME_SPEC, "video": CLIP_SPEC}, seed=7)
    mask = torch.tensor([True, False, True, True])
    batch = {"inputs": {"volume": volumes, "video": clips}, "input_mask": {"volume": mask}}
    a, b = transforms(batch, (0, 0, 1)), transforms(batch, (0, 0, 1))
    assert torch.equal(a["inputs"]["volume"], b["inputs"]["volume"])
    assert torch.equal(a["inputs"]["video"], b["inputs"]["video"])
    assert torch.equal(a["inputs"]["volume"][1], volumes[1].float())
    assert a["inputs"]["video"].shape == clips.shape
    assert not torch.equal(transforms(batch, (0, 0, 2))["inputs"]["volume"], a["inputs"]["volume"])


def test_bad_volume_and_clip_specs_are_rejected():
    with pytest.raises(TransformSpecError, match=r"flip3d\.axes"):
        parse_transforms({"volume": [{"flip3d": {"axes": ["sideways"]}}]})
    with pytest.raises(TransformSpecError, match="mixes"):
        parse_transforms({"volume": [{"flip3d": {}}, {"temporal_crop": {}}]})
    with pytest.raises(TransformSpecError, match="mixes"):
        parse_transforms({"volume": [{"affine3d": {}}, {"brightness": {}}]})
    with pytest.raises(TransformSpecError, match=r"temporal_crop\.scale"):
        parse_transforms({"video": [{"temporal_crop": {"scale": [0.5, 2.0]}}]})
