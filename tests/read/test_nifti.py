"""NIfTI reader on nibabel's own test data, checked against nibabel's direct read."""

from __future__ import annotations

import gzip

import nibabel
import numpy as np
import pytest
from nibabel.testing import data_path

from climb.errors import RecordError
from climb.read.nifti import read_nifti


@pytest.mark.parametrize(
    ("name", "axes"),
    [("anatomical.nii", "DHW"), ("functional.nii", "TDHW"), ("example4d.nii.gz", "TDHW"),
     ("example_nifti2.nii.gz", "TDHW")],
)  # fmt: skip
def test_matches_nibabel_canonical_read(name, axes):
    volume = read_nifti(data_path / name)
    canonical = nibabel.as_closest_canonical(nibabel.load(data_path / name))
    reference = np.asanyarray(canonical.dataobj)
    assert volume.axes == axes and volume.orientation == "SAR"
    assert np.array_equal(volume.array, reference.T)  # x, y, z[, t] -> [t,] z, y, x
    assert volume.spacing == pytest.approx(canonical.header.get_zooms()[:3][::-1])
    assert volume.origin == pytest.approx(tuple(canonical.affine[:3, 3]))
    assert volume.meta["source_orientation"] == "LAS"  # all four are stored left-to-right


def test_reorients_a_flipped_volume_and_keeps_voxel_positions(tmp_path):
    rng = np.random.default_rng(1)
    data = rng.integers(0, 1000, (4, 5, 6)).astype(np.int16)
    affine = np.diag([-2.0, 3.0, -4.0, 1.0])  # L, A, I
    nibabel.save(nibabel.Nifti1Image(data, affine), tmp_path / "lai.nii.gz")
    volume = read_nifti(tmp_path / "lai.nii.gz")
    assert volume.meta["source_orientation"] == "LAI" and volume.orientation == "SAR"
    assert volume.spacing == (4.0, 3.0, 2.0)
    assert np.array_equal(volume.array, data[::-1, :, ::-1].T)
    assert volume.origin == pytest.approx((-6.0, 0.0, -20.0))  # the last voxels of x, z


def test_fps_from_the_repetition_time_and_its_unit(tmp_path):
    img = nibabel.Nifti1Image(np.zeros((2, 2, 2, 3), np.float32), np.eye(4))
    img.header.set_zooms((1, 1, 1, 500))
    img.header.set_xyzt_units("mm", "msec")
    nibabel.save(img, tmp_path / "t.nii")
    assert read_nifti(tmp_path / "t.nii").fps == pytest.approx(2.0)
    img.header.set_xyzt_units("mm", "unknown")  # no unit: not guessed
    nibabel.save(img, tmp_path / "u.nii")
    assert read_nifti(tmp_path / "u.nii").fps is None


def _saved_with(tmp_path, name, edit):
    img = nibabel.load(data_path / "anatomical.nii")
    img = nibabel.Nifti1Image(np.asanyarray(img.dataobj), img.affine, img.header)
    edit(img.header)
    nibabel.save(img, tmp_path / name)
    return tmp_path / name


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda h: h["pixdim"].__setitem__(1, np.nan), "voxel sizes"),
        (lambda h: h["pixdim"].__setitem__(2, 0.0), "voxel sizes"),
        (lambda h: h["pixdim"].__setitem__(3, 1e9), "voxel sizes"),
        (lambda h: h.set_data_dtype(np.complex64), "unsupported NIfTI data type"),
    ],
)
def test_bad_header_values_are_record_errors(tmp_path, edit, problem):
    path = _saved_with(tmp_path, "bad.nii", edit)
    with pytest.raises(RecordError, match=problem) as err:
        read_nifti(path)
    assert err.value.path == str(path)


def test_short_and_truncated_files_are_record_errors(tmp_path):
    raw = (data_path / "anatomical.nii").read_bytes()
    (tmp_path / "short.nii").write_bytes(raw[:-100])
    with pytest.raises(RecordError, match=r"short\.nii: data truncated"):
        read_nifti(tmp_path / "short.nii")
    (tmp_path / "cut.nii.gz").write_bytes(gzip.compress(raw)[:-500])
    with pytest.raises(RecordError, match=r"cut\.nii\.gz: "):
        read_nifti(tmp_path / "cut.nii.gz")
    (tmp_path / "text.nii").write_text("not a NIfTI file")
    with pytest.raises(RecordError, match="cannot read NIfTI header"):
        read_nifti(tmp_path / "text.nii")


def test_voxel_bound_is_checked_before_decoding():
    with pytest.raises(RecordError, match="33x41x25 voxels is over 1000"):
        read_nifti(data_path / "anatomical.nii", max_voxels=1000)


def test_free_text_fields_never_reach_meta_or_errors(tmp_path):
    def plant(h):
        h["descrip"] = b"Jane Q Doe 19570314"
        h["aux_file"] = b"Jane Q Doe"
        h["intent_name"] = b"Doe"

    volume = read_nifti(_saved_with(tmp_path, "phi.nii", plant))
    assert "Doe" not in repr(volume.meta) and "1957" not in repr(volume.meta)
    bad = _saved_with(tmp_path, "phi_bad.nii", lambda h: (plant(h), h["pixdim"].__setitem__(1, 0)))
    with pytest.raises(RecordError) as err:
        read_nifti(bad)
    assert "Doe" not in str(err.value)
