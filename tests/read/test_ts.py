"""The .ts reader on the real UEA EEG files, and on broken copies of them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from climb.errors import RecordError
from climb.read.ts import read_ts


def _data_lines(path: Path) -> list[str]:
    lines = path.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().lower() == "@data")
    return [line for line in lines[start + 1 :] if line.strip()]


@pytest.mark.parametrize(
    ("problem", "part", "dims", "length", "classes"),
    [
        ("EyesOpenShut", "TRAIN", 14, 128, ["0", "1"]),
        ("EyesOpenShut", "TEST", 14, 128, ["0", "1"]),
        ("FingerMovements", "TRAIN", 28, 50, ["left", "right"]),
        ("FingerMovements", "TEST", 28, 50, ["left", "right"]),
    ],
)
def test_real_ts_files(real_data, problem, part, dims, length, classes):
    path = real_data / "eeg-uea" / problem / f"{problem}_{part}.ts"
    ts = read_ts(path)
    lines = _data_lines(path)
    assert len(ts) == len(lines)
    assert ts.class_labels == classes
    assert ts.labels == [line.rsplit(":", 1)[1].strip() for line in lines]
    assert all(c.shape == (dims, length) and c.dtype == np.float32 for c in ts.cases)
    # last case, last dimension, parsed independently
    last_dim = lines[-1].split(":")[-2].split(",")
    np.testing.assert_allclose(ts.cases[-1][-1], np.array(last_dim, dtype=np.float32))
    assert ts.problem_name == problem


def test_eyes_header_length_mismatch_is_recorded(real_data):
    ts = read_ts(real_data / "eeg-uea/EyesOpenShut/EyesOpenShut_TRAIN.ts")
    assert ts.header["serieslength_declared"] == 127
    assert ts.header["serieslength"] == 128


@pytest.fixture()
def finger_copy(real_data, tmp_path) -> tuple[Path, list[str]]:
    src = real_data / "eeg-uea/FingerMovements/FingerMovements_TEST.ts"
    return tmp_path / "FingerMovements_TEST.ts", src.read_text().splitlines()


def _data_index(lines: list[str]) -> int:
    return next(i for i, line in enumerate(lines) if line.strip().lower() == "@data") + 1


def test_truncated_line(finger_copy):
    path, lines = finger_copy
    i = _data_index(lines) + 3
    lines[i] = lines[i][: len(lines[i]) // 2]  # cut mid-dimension: label and dims lost
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(RecordError) as err:
        read_ts(path)
    assert str(path) in str(err.value)
    assert f"line {i + 1}" in err.value.problem


def test_garbled_value(finger_copy):
    path, lines = finger_copy
    i = _data_index(lines)
    lines[i] = lines[i].replace(",", ",abc,", 1)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(RecordError, match="not a number"):
        read_ts(path)


def test_unknown_class_label(finger_copy):
    path, lines = finger_copy
    i = _data_index(lines)
    lines[i] = lines[i].rsplit(":", 1)[0] + ":middle"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(RecordError, match=r"line \d+: class label not in @classLabel"):
        read_ts(path)


def test_missing_data_section(finger_copy):
    path, lines = finger_copy
    path.write_text("\n".join(lines[: _data_index(lines) - 1]) + "\n")
    with pytest.raises(RecordError, match="no @data"):
        read_ts(path)


def test_missing_values_are_nan(tmp_path):
    path = tmp_path / "tiny.ts"
    path.write_text(
        "@problemName tiny\n@univariate true\n@equalLength true\n@seriesLength 3\n"
        "@classLabel true a b\n@data\n1,?,3:a\n4,5,6:b\n"
    )
    ts = read_ts(path)
    assert np.isnan(ts.cases[0][0, 1]) and ts.cases[1].tolist() == [[4, 5, 6]]
    assert ts.labels == ["a", "b"]
