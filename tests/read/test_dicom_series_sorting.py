"""DICOM series: slices sorted along the slice normal (not by file name or InstanceNumber),
grouped by SeriesInstanceUID in a folder of mixed files, missing/duplicate slices refused,
HU rescale. Slices are written with pydicom from CT_small.dcm's pixels."""

from __future__ import annotations

import copy
import random

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from climb.errors import RecordError
from climb.read.dicom import dicom_series_files, read_dicom_series

CT = pydicom.dcmread(get_testdata_file("CT_small.dcm"))


def write_shuffled(folder, positions_mm, seed=0, series_uid=None, tilt=False, suffix=".dcm"):
    """One slice per position along the normal; each slice's pixels are CT + k (k = its rank
    along the normal) so the order can be checked; names and InstanceNumbers shuffled."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    names = [f"{n:03d}{suffix}" for n in rng.sample(range(100, 999), len(positions_mm))]
    numbers = rng.sample(range(1, 10 * len(positions_mm)), len(positions_mm))
    row, col = (np.array([1.0, 0, 0]), np.array([0, 0.6, -0.8])) if tilt else (
        np.array([1.0, 0, 0]), np.array([0, 1.0, 0]))  # fmt: skip
    normal = np.cross(row, col)
    for k, z in enumerate(positions_mm):
        ds = copy.deepcopy(CT)
        ds.ImageOrientationPatient = [*row, *col]
        ds.ImagePositionPatient = [float(v) for v in 10.0 * row + 3.0 * col + z * normal]
        ds.InstanceNumber = numbers[k]
        if series_uid:
            ds.SeriesInstanceUID = series_uid
        ds.PixelData = (CT.pixel_array + k).astype(CT.pixel_array.dtype).tobytes()
        ds.save_as(folder / names[k])


@pytest.mark.parametrize("tilt", [False, True])
def test_shuffled_names_and_instance_numbers_are_sorted_along_the_normal(tmp_path, tilt):
    write_shuffled(tmp_path / "s", [0.0, 2.5, 5.0, 7.5, 10.0], tilt=tilt)
    volume, spacing = read_dicom_series(tmp_path / "s")
    ranks = [int(np.median(volume[i] - CT.pixel_array)) for i in range(len(volume))]
    assert ranks == [0, 1, 2, 3, 4]
    assert spacing[0] == pytest.approx(2.5)


def test_descending_positions_stack_in_ascending_order(tmp_path):
    write_shuffled(tmp_path / "s", [10.0, 7.5, 5.0, 2.5])
    volume, _ = read_dicom_series(tmp_path / "s")
    ranks = [int(np.median(volume[i] - CT.pixel_array)) for i in range(len(volume))]
    assert ranks == [3, 2, 1, 0]


def test_a_missing_slice_is_refused_and_named(tmp_path):
    write_shuffled(tmp_path / "s", [0.0, 2.5, 5.0, 10.0, 12.5])  # 7.5 missing
    with pytest.raises(RecordError, match=r"missing slice: a 5 mm gap where slices are 2\.5 mm"):
        read_dicom_series(tmp_path / "s")


def test_a_duplicate_slice_is_refused(tmp_path):
    write_shuffled(tmp_path / "s", [0.0, 2.5, 5.0, 5.0, 7.5])
    with pytest.raises(RecordError, match="repeats another slice's position"):
        read_dicom_series(tmp_path / "s")


def test_irregular_spacing_is_refused(tmp_path):
    write_shuffled(tmp_path / "s", [0.0, 2.5, 5.5, 8.0])
    with pytest.raises(RecordError, match="not evenly spaced"):
        read_dicom_series(tmp_path / "s")


def test_mixed_folder_is_grouped_by_series_and_read_one_series_at_a_time(tmp_path):
    folder = tmp_path / "mixed"
    write_shuffled(folder, [0.0, 3.0, 6.0], seed=1, series_uid="1.2.826.0.1.1", suffix="")
    write_shuffled(folder, [0.0, 5.0], seed=2, series_uid="1.2.826.0.1.2", suffix="")
    (folder / "README.txt").write_text("not DICOM")
    groups = dicom_series_files(folder)
    assert sorted(len(v) for v in groups.values()) == [2, 3]
    volume, spacing = read_dicom_series(folder, series_uid="1.2.826.0.1.1")
    assert volume.shape == (3, 128, 128) and spacing[0] == pytest.approx(3.0)
    for f in list(folder.iterdir()):
        f.rename(f.with_suffix(".dcm")) if f.suffix != ".txt" else None
    with pytest.raises(RecordError, match="slices of 2 different series"):
        read_dicom_series(folder)


def test_rescale_gives_hounsfield_units(tmp_path):
    write_shuffled(tmp_path / "s", [0.0, 2.5])
    stored, _ = read_dicom_series(tmp_path / "s")
    hu, _ = read_dicom_series(tmp_path / "s", rescale=True)
    slope, intercept = float(CT.RescaleSlope), float(CT.RescaleIntercept)
    assert np.array_equal(hu, (stored * slope + intercept).astype(hu.dtype))
    assert hu.dtype == np.int16
