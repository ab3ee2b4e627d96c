"""A small two-input torch model (ECG-like signal + image) and its batches, for robustness tests.

The model is a fixed matched filter: it scores the 5 Hz component of the signal and the
brightness of the image centre, which is where the positive class carries its evidence. It
honours ``input_mask`` (a masked input contributes nothing), like the project's fusion models.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import torch

FS = 100.0
TASK = {
    "key": "toy.disease",
    "dataset": "toy",
    "task": "disease",
    "type": "binary",
    "classes": ["absent", "present"],
}


class ToyModel(torch.nn.Module):
    def __init__(self, n_samples: int = 200):
        super().__init__()
        t = torch.arange(n_samples) / FS
        self.register_buffer("template", torch.sin(2 * torch.pi * 5 * t))
        self.w_signal = torch.nn.Parameter(torch.tensor(8.0))
        self.w_image = torch.nn.Parameter(torch.tensor(4.0))
        self.bias = torch.nn.Parameter(torch.tensor(-3.0))

    def forward(self, inputs: dict, input_mask: dict) -> torch.Tensor:
        sig = (inputs["ecg"] * self.template).mean(dim=(1, 2)) * 2
        img = inputs["image"][:, :, 4:12, 4:12].mean(dim=(1, 2, 3))
        logit = self.bias + self.w_signal * sig * input_mask["ecg"].float()
        logit = logit + self.w_image * img * input_mask["image"].float()
        return logit


def make_batches(n_batches: int = 4, batch_size: int = 32, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    t = np.arange(200) / FS
    batches = []
    for b in range(n_batches):
        y = rng.integers(0, 2, batch_size)
        amp = y * rng.uniform(0.0, 0.25, batch_size)
        ecg = amp[:, None, None] * np.sin(2 * np.pi * 5 * t)[None, None, :] * np.ones((1, 3, 1))
        ecg = ecg + rng.normal(0, 1.0, ecg.shape)
        img = rng.normal(0, 0.5, (batch_size, 1, 16, 16))
        img[:, :, 4:12, 4:12] += (y * rng.uniform(0.0, 0.15, batch_size))[:, None, None, None]
        ids = [f"toy-b{b}-{i}" for i in range(batch_size)]
        batches.append(
            {
                "inputs": {
                    "ecg": torch.tensor(ecg, dtype=torch.float32),
                    "image": torch.tensor(img, dtype=torch.float32),
                },
                "input_mask": {
                    "ecg": torch.ones(batch_size, dtype=torch.bool),
                    "image": torch.ones(batch_size, dtype=torch.bool),
                },
                "labels": {TASK["key"]: torch.tensor(y)},
                "label_mask": {TASK["key"]: torch.ones(batch_size, dtype=torch.bool)},
                "sample_id": ids,
                "patient_id": [f"p{b}-{i // 2}" for i in range(batch_size)],
                "dataset": ["toy"] * batch_size,
                "split": ["test"] * batch_size,
                "meta": [{"site": ["a", "b"][i % 2]} for i in range(batch_size)],
            }
        )
    return batches


def predict(model: ToyModel, batches: list[dict]) -> pd.DataFrame:
    """Predictions in the run format (docs/interfaces.md)."""
    rows = []
    model.eval()
    with torch.no_grad():
        for batch in batches:
            p1 = torch.sigmoid(model(batch["inputs"], batch["input_mask"])).numpy()
            labels = batch["labels"][TASK["key"]].numpy()
            for i, sid in enumerate(batch["sample_id"]):
                rows.append(
                    {
                        "sample_id": sid,
                        "patient_id": batch["patient_id"][i],
                        "dataset": "toy",
                        "task": TASK["key"],
                        "split": "test",
                        "label": np.array([labels[i]], np.float32),
                        "scores": np.array([1 - p1[i], p1[i]], np.float32),
                        "meta": json.dumps(batch["meta"][i]),
                    }
                )
    return pd.DataFrame(rows)
