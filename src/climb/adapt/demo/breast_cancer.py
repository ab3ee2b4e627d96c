"""demo_breast_cancer: Wisconsin Diagnostic Breast Cancer, as shipped by scikit-learn.

Raw dir: scikit-learn's ``sklearn/datasets/data`` (``climb.demo_data.path``), whose
``breast_cancer.csv`` is read through ``sklearn.datasets.load_breast_cancer``. One row = one
patient's fine-needle-aspirate image features (30 floats) -> input ``tabular``; the target is
malignant / benign.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer

from climb.adapt.base import Adapter, Item
from climb.errors import RecordError
from climb.record import Input, Record

FILE = "breast_cancer.csv"


class BreastCancerAdapter(Adapter):
    name = "demo_breast_cancer"

    def items(self, raw_dir: Path) -> list[Item]:
        path = Path(raw_dir) / FILE
        if not path.exists():
            raise RecordError(path, "scikit-learn's breast_cancer.csv not found")
        return [Item(source=FILE, key="wdbc")]

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        bunch = load_breast_cancer()
        data = np.asarray(bunch.data, dtype=np.float32)
        names = [str(n) for n in bunch.feature_names]
        target_names = [str(n) for n in bunch.target_names]  # ["malignant", "benign"]
        mapper = self.mapper("diagnosis")
        for i, (row, target) in enumerate(zip(data, bunch.target, strict=True)):
            yield Record(
                sample_id=f"wdbc-{i:03d}",
                dataset=self.name,
                modality="tabular",
                patient_id=f"wdbc-{i:03d}",
                inputs={"tabular": Input(data=row.copy(), channels=names)},
                labels={"diagnosis": mapper.multiclass(target_names[int(target)])},
                meta={"source_file": item.source},
            ).validate()


ADAPTER = BreastCancerAdapter
