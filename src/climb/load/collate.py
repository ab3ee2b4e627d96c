"""Collate samples into the batch format of docs/interfaces.md.

``Collator(tasks, shapes)`` batches per input name: arrays are padded (zeros, at the end) or
cropped (from the start) to ``shapes[name]`` (or to the largest shape in the batch), cast to
float32 (uint8 scaled to [0, 1]); a sample without that input gets zeros and
``input_mask[name] = False``. Text stays ``list[str]`` ("" where missing); graphs become a
``torch_geometric.data.Batch`` with one graph per sample (an empty graph where missing).

Labels are batched for every task in ``tasks`` (so a mixed-dataset batch has every task):
multilabel ``[B, C]`` float (NaN unknown), multiclass/binary ``[B]`` long (-1 missing),
regression ``[B]`` float (NaN missing), each with a boolean ``label_mask`` of the same shape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from climb.load.tasks import TaskSpec


def fit_shape(arr: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """Pad with zeros at the end / crop from the start, per dimension, to ``shape``."""
    if arr.ndim != len(shape):
        raise ValueError(f"cannot fit an array of shape {arr.shape} to {tuple(shape)}")
    if tuple(arr.shape) == tuple(shape):
        return arr
    out = np.zeros(shape, dtype=arr.dtype)
    region = tuple(slice(0, min(a, s)) for a, s in zip(arr.shape, shape, strict=True))
    out[region] = arr[region]
    return out


def _batch_tensor(shape: tuple[int, ...]) -> torch.Tensor:
    """An uninitialised float32 batch; in a DataLoader worker, in shared memory (as torch's
    default_collate does), so that handing it to the main process copies nothing."""
    if torch.utils.data.get_worker_info() is None:
        return torch.empty(shape, dtype=torch.float32)
    numel = int(np.prod(shape))
    storage = torch.empty(0, dtype=torch.float32)._typed_storage()._new_shared(numel,
                                                                               device="cpu")
    return torch.empty(0, dtype=torch.float32).new(storage).resize_(shape)


def _fill(dest: np.ndarray, arr: np.ndarray | None) -> None:
    """Write ``arr`` into ``dest`` (float32) in one pass: cast, scale uint8 to [0, 1], pad with
    zeros at the end / crop from the start."""
    if arr is None:
        dest[...] = 0
        return
    if arr.ndim != dest.ndim:
        raise ValueError(f"cannot fit an array of shape {arr.shape} to {dest.shape}")
    if arr.shape != dest.shape:
        dest[...] = 0
        region = tuple(slice(0, min(a, s)) for a, s in zip(arr.shape, dest.shape, strict=True))
        dest, arr = dest[region], arr[region]
    if arr.dtype == np.uint8:
        np.multiply(arr, np.float32(1 / 255), out=dest, casting="unsafe")
    else:
        np.copyto(dest, arr, casting="unsafe")


class Collator:
    """Callable ``collate_fn`` for DataLoaders over :class:`climb.load.StoreDataset`."""

    def __init__(
        self,
        tasks: Sequence[TaskSpec] = (),
        shapes: Mapping[str, Sequence[int]] | None = None,
        inputs: Sequence[str] | None = None,
    ):
        self.tasks = list(tasks)
        self.shapes = {k: tuple(v) for k, v in (shapes or {}).items()}
        self.inputs = list(inputs) if inputs is not None else None

    def __call__(self, samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
        names = self.inputs
        if names is None:
            names = sorted({n for s in samples for n in s["inputs"]})
        inputs: dict[str, Any] = {}
        masks: dict[str, torch.Tensor] = {}
        for name in names:
            values = [s["inputs"].get(name) for s in samples]
            masks[name] = torch.tensor([v is not None for v in values], dtype=torch.bool)
            inputs[name] = self._batch_input(name, values)
        labels, label_mask = self._labels(samples)
        return {
            "inputs": inputs,
            "input_mask": masks,
            "labels": labels,
            "label_mask": label_mask,
            "sample_id": [s["sample_id"] for s in samples],
            "patient_id": [s["patient_id"] for s in samples],
            "dataset": [s["dataset"] for s in samples],
            "split": [s["split"] for s in samples],
            "meta": [s["meta"] for s in samples],
        }

    # ---------------------------------------------------------------- inputs

    def _batch_input(self, name: str, values: list[Any]) -> Any:
        present = [v for v in values if v is not None]
        if not present:
            shape = self.shapes.get(name)
            if shape is None:
                return None
            return torch.zeros((len(values), *shape), dtype=torch.float32)
        first = present[0]
        if isinstance(first, str):
            return [v if v is not None else "" for v in values]
        if isinstance(first, dict):
            return self._graphs(values)
        if isinstance(first, bytes | bytearray):
            raise TypeError(f"input {name!r} is still encoded bytes; build the dataset with "
                            "decode=True")
        arrays = [np.asarray(v) for v in present]
        shape = self.shapes.get(name)
        if shape is None:
            ndim = arrays[0].ndim
            if any(a.ndim != ndim for a in arrays):
                raise ValueError(f"input {name!r}: samples have different numbers of dimensions")
            shape = tuple(max(a.shape[d] for a in arrays) for d in range(ndim))
        out = _batch_tensor((len(values), *shape))
        dest = out.numpy()
        for i, v in enumerate(values):
            _fill(dest[i], None if v is None else np.asarray(v))
        return out

    @staticmethod
    def _graphs(values: list[dict[str, np.ndarray] | None]) -> Any:
        from torch_geometric.data import Batch, Data

        template = next(v for v in values if v is not None)
        n_feat = np.asarray(template["x"]).shape[1] if "x" in template else 0
        graphs = []
        for v in values:
            if v is None:
                graphs.append(Data(x=torch.zeros((0, n_feat)),
                                   edge_index=torch.zeros((2, 0), dtype=torch.long)))
                continue
            fields = {}
            for key, arr in v.items():
                t = torch.from_numpy(np.array(arr))
                fields[key] = t.long() if key == "edge_index" else (
                    t.float() if t.is_floating_point() else t)
            graphs.append(Data(**fields))
        return Batch.from_data_list(graphs)

    # ---------------------------------------------------------------- labels

    def _labels(self, samples: Sequence[dict[str, Any]]):
        labels: dict[str, torch.Tensor] = {}
        masks: dict[str, torch.Tensor] = {}
        b = len(samples)
        for task in self.tasks:
            values = [s["labels"].get(task.key) for s in samples]
            if task.type == "multilabel":
                out = np.full((b, task.num_classes), np.nan, dtype=np.float32)
                for i, v in enumerate(values):
                    if v is not None:
                        out[i] = np.asarray(v, dtype=np.float32)
                t = torch.from_numpy(out)
                labels[task.key], masks[task.key] = t, ~torch.isnan(t)
            elif task.type in ("multiclass", "binary"):
                t = torch.tensor([-1 if v is None else int(v) for v in values], dtype=torch.long)
                labels[task.key], masks[task.key] = t, t >= 0
            elif task.type == "regression":
                t = torch.tensor([np.nan if v is None else float(v) for v in values],
                                 dtype=torch.float32)
                labels[task.key], masks[task.key] = t, ~torch.isnan(t)
        return labels, masks


def collate(samples: Sequence[dict[str, Any]], tasks: Sequence[TaskSpec] = ()) -> dict[str, Any]:
    """Collate with default settings (pad to the largest shape in the batch)."""
    return Collator(tasks)(samples)
