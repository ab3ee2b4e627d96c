"""Helpers of the CXR findings tests: a cxr14 vector as {class: value} of its known entries."""

from __future__ import annotations

import math

import numpy as np

from climb.harmonize import load_vocabulary

CXR14 = list(load_vocabulary("cxr14").classes)


def known(vector: np.ndarray) -> dict[str, float]:
    """{cxr14 class: value} for the entries that are not NaN."""
    assert vector.dtype == np.float32 and vector.shape == (len(CXR14),)
    return {c: float(v) for c, v in zip(CXR14, vector, strict=True) if not math.isnan(v)}
