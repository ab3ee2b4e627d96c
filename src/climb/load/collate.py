"""Collate samples into the batch format of docs/interfaces.md.

``Collator(tasks, shapes)`` batches per input name: arrays are padded (zeros, at the end) or
cropped (from the start) to ``shapes[name]`` (or to the largest shape in the batch), cast to
float32 (uint8 scaled to [0, 1]); a sample without that input gets zeros and
``input_mask[name] = False``. Text stays ``list[str]`` ("" where missing); graphs become a
``torch_geometric.data.Batch`` with one graph per sample (an empty graph where missing), their
fields made alike first (:func:`harmonize_graphs`: graphs without node features get zero
``x`` and every graph a ``has_x`` node mask, missing edge weights are 1, missing node labels
NaN), so graphs with and without ``x`` batch together.

``Collator(..., keep_dtype=True)`` keeps the stored dtype instead (uint8 images stay uint8 in
[0, 255], int16 volumes stay int16; samples of different dtypes are promoted): the batch is
then a quarter / half the bytes and, for a batch read by :meth:`StoreDataset.__getitems__`, the
very buffer the payloads were read into (no copy). The encoders of ``climb.models`` accept
it (images: uint8 -> float / 255; others: ``.float()``); convert on the device.

A batch keeps the memory order of its samples: images stored H x W x C come as
``[B, C, H, W]`` tensors with channels-last strides (what ``torch.channels_last`` means),
not a transposing copy; call ``.contiguous()`` where a consumer needs C order.

Labels are batched for every task in ``tasks`` (so a mixed-dataset batch has every task):
multilabel ``[B, C]`` float (NaN unknown), multiclass/binary ``[B]`` long (-1 missing),
regression ``[B]`` float (NaN missing), each with a boolean ``label_mask`` of the same shape.
Per-position tasks (``TaskSpec.level``): ``token`` tasks (per-residue class ids, stored as
``uint8`` array labels) are ``[B, L]`` long padded with -1 to the longest in the batch;
``node`` tasks take their labels from the batch's graphs (``graph.y``, ``[N, C]`` float, NaN
unknown; ``graph.batch`` says whose node), so their ``label_mask`` is ``[N, C]`` too.
"""

from __future__ import annotations

import os
import sys
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


def _batch_tensor(shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """An uninitialised batch; in a DataLoader worker, in shared memory (as torch's
    default_collate does), so that handing it to the main process copies nothing. Outside a
    worker, numpy allocates it: numpy asks for transparent huge pages for large arrays, which
    made reading a 32 MB volume batch into it 2.5x faster than into ``torch.empty``."""
    if torch.utils.data.get_worker_info() is None:
        try:
            np_dtype = torch.empty(0, dtype=dtype).numpy().dtype
        except TypeError:  # no numpy twin (bfloat16)
            return torch.empty(shape, dtype=dtype)
        return torch.from_numpy(np.empty(shape, dtype=np_dtype))
    numel = int(np.prod(shape))
    storage = torch.empty(0, dtype=dtype)._typed_storage()._new_shared(numel, device="cpu")
    out = torch.empty(0, dtype=dtype).new(storage).resize_(shape)
    _populate(out)
    return out


def _populate(tensor: torch.Tensor) -> None:
    """Fault in the pages of a new shared-memory tensor with one madvise(MADV_POPULATE_WRITE)
    (Linux >= 5.14) rather than one page fault per 4 KiB page on first write; a no-op
    elsewhere."""
    if _MADVISE is None or tensor.nbytes < 1 << 20:
        return
    start = tensor.data_ptr() & ~(PAGE - 1)
    _MADVISE(start, tensor.data_ptr() + tensor.nbytes - start, 23)  # MADV_POPULATE_WRITE


def _madvise():
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.madvise
        fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        return fn if sys.platform == "linux" else None
    except (OSError, AttributeError):
        return None


PAGE = 4096
_MADVISE = _madvise() if os.environ.get("CLIMB_POPULATE", "1") == "1" else None


def _memory_order(arr: np.ndarray) -> tuple[int, ...] | None:
    """The axis permutation ``p`` with ``arr.transpose(p)`` C-contiguous (None if there is
    none): (1, 2, 0) for the C x H x W view of an H x W x C image."""
    if arr.flags.c_contiguous:
        return tuple(range(arr.ndim))
    order = tuple(int(k) for k in np.argsort([-s for s in arr.strides], kind="stable"))
    return order if arr.transpose(order).flags.c_contiguous else None


def _batch_like(shape: tuple[int, ...], dtype: torch.dtype,
                order: tuple[int, ...]) -> torch.Tensor:
    """A ``[B, *shape]`` batch whose samples are laid out in memory ``order`` (see
    :func:`_memory_order`): a permuted view of a C-contiguous buffer."""
    base = _batch_tensor((shape[0], *(shape[1 + k] for k in order)), dtype)
    inverse = np.argsort(order)
    return base.permute(0, *(1 + int(k) for k in inverse))


def _fill(dest: np.ndarray, arr: np.ndarray | None, scale: bool = True) -> None:
    """Write ``arr`` into ``dest`` in one pass: cast (uint8 scaled to [0, 1] when ``scale``
    and ``dest`` is floating), pad with zeros at the end / crop from the start."""
    if arr is None:
        dest[...] = 0
        return
    if arr.ndim != dest.ndim:
        raise ValueError(f"cannot fit an array of shape {arr.shape} to {dest.shape}")
    if arr.shape != dest.shape:
        dest[...] = 0
        region = tuple(slice(0, min(a, s)) for a, s in zip(arr.shape, dest.shape, strict=True))
        dest, arr = dest[region], arr[region]
    if scale and arr.dtype == np.uint8 and dest.dtype.kind == "f":
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
        keep_dtype: bool = False,
    ):
        self.tasks = list(tasks)
        self.shapes = {k: tuple(v) for k, v in (shapes or {}).items()}
        self.inputs = list(inputs) if inputs is not None else None
        self.keep_dtype = keep_dtype

    def __call__(self, samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
        names = self.inputs
        if names is None:
            names = sorted({n for s in samples for n in s["inputs"]})
        inputs: dict[str, Any] = {}
        masks: dict[str, torch.Tensor] = {}
        for name in names:
            values = [s["inputs"].get(name) for s in samples]
            masks[name] = torch.tensor([v is not None for v in values], dtype=torch.bool)
            inputs[name] = self._batch_input(name, values, getattr(samples, "batched", None))
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

    def _batch_input(self, name: str, values: list[Any],
                     batched: Mapping[str, tuple[torch.Tensor, list]] | None = None) -> Any:
        present = [v for v in values if v is not None]
        dtype = torch.float32
        if not present:
            shape = self.shapes.get(name)
            if shape is None:
                return None
            return torch.zeros((len(values), *shape), dtype=dtype)
        first = present[0]
        if isinstance(first, str):
            return [v if v is not None else "" for v in values]
        if isinstance(first, dict):
            return self._graphs(values)
        if isinstance(first, bytes | bytearray):
            raise TypeError(f"input {name!r} is still encoded bytes; build the dataset with "
                            "decode=True")
        ready = self._prebatched(name, values, batched)
        if ready is not None:
            return ready
        arrays = [np.asarray(v) for v in present]
        shape = self.shapes.get(name)
        if shape is None:
            ndim = arrays[0].ndim
            if any(a.ndim != ndim for a in arrays):
                raise ValueError(f"input {name!r}: samples have different numbers of dimensions")
            shape = tuple(max(a.shape[d] for a in arrays) for d in range(ndim))
        if self.keep_dtype:
            dtype = torch.from_numpy(np.empty(0, np.result_type(*arrays))).dtype
        order = tuple(range(len(shape)))
        if all(a.shape == tuple(shape) for a in arrays):  # keep the samples' memory order
            orders = {_memory_order(a) for a in arrays}
            if len(orders) == 1 and None not in orders:
                order = orders.pop()
        out = _batch_like((len(values), *shape), dtype, order)
        base = out.permute(0, *(1 + k for k in order)).numpy()  # C-contiguous
        for i, v in enumerate(values):
            arr = None if v is None else np.asarray(v).transpose(order)
            _fill(base[i], arr, scale=not self.keep_dtype)
        return out

    def _prebatched(self, name: str, values: list[Any],
                    batched: Mapping[str, tuple[torch.Tensor, list]] | None) -> Any:
        """The batch tensor a dataset's ``__getitems__`` read the samples into (as the
        float32 batch unless ``keep_dtype``), or None where it does not hold these values
        (samples replaced, or another shape wanted)."""
        if not batched or name not in batched:
            return None
        tensor, views = batched[name]
        if len(views) != len(values) or any(v is not w for v, w in zip(values, views,
                                                                        strict=True)):
            return None
        shape = self.shapes.get(name)
        if shape is not None and tuple(shape) != tuple(tensor.shape[1:]):
            return None
        if self.keep_dtype or tensor.dtype == torch.float32:
            return tensor
        full = _memory_order(tensor.numpy())
        if full is None or full[0] != 0:
            return None
        order = tuple(k - 1 for k in full[1:])  # the samples' memory order
        out = _batch_like(tuple(tensor.shape), torch.float32, order)
        perm = (0, *(1 + k for k in order))
        src, dest = tensor.permute(*perm).numpy(), out.permute(*perm).numpy()
        if src.dtype == np.uint8:
            np.multiply(src, np.float32(1 / 255), out=dest, casting="unsafe")
        else:
            np.copyto(dest, src, casting="unsafe")
        return out

    @staticmethod
    def _graphs(values: list[dict[str, np.ndarray] | None]) -> Any:
        """One ``Batch`` of the samples' graphs, their fields made alike (see
        :func:`harmonize_graphs`); a missing sample is an empty graph."""
        from torch_geometric.data import Batch

        return Batch.from_data_list(harmonize_graphs(values))

    # ---------------------------------------------------------------- labels

    def _labels(self, samples: Sequence[dict[str, Any]]):
        labels: dict[str, torch.Tensor] = {}
        masks: dict[str, torch.Tensor] = {}
        b = len(samples)
        for task in self.tasks:
            values = [s["labels"].get(task.key) for s in samples]
            if getattr(task, "level", "sample") == "token":
                rows = [None if v is None else np.frombuffer(v, np.uint8) if isinstance(
                    v, bytes | bytearray) else np.asarray(v).reshape(-1) for v in values]
                width = max((len(r) for r in rows if r is not None), default=0)
                out = np.full((b, width), -1, dtype=np.int64)
                for i, r in enumerate(rows):
                    if r is not None:
                        out[i, :len(r)] = r
                t = torch.from_numpy(out)
                labels[task.key], masks[task.key] = t, t >= 0
            elif getattr(task, "level", "sample") == "node":
                graphs = [s["inputs"].get("graph") for s in samples]
                ys = [np.asarray(g["y"], np.float32) if g is not None and "y" in g else None
                      for g in graphs]
                rows_of = [0 if g is None else _graph_tensors(g)[1] for g in graphs]
                out = np.full((sum(rows_of), task.num_classes), np.nan, dtype=np.float32)
                start = 0
                for y, n in zip(ys, rows_of, strict=True):
                    if y is not None:
                        out[start:start + n] = y.reshape(n, -1)
                    start += n
                t = torch.from_numpy(out)
                labels[task.key], masks[task.key] = t, ~torch.isnan(t)
            elif task.type == "multilabel":
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


def _graph_tensors(graph: Mapping[str, Any]) -> tuple[dict[str, torch.Tensor], int]:
    """A stored graph's arrays as tensors (edge_index long, floats float32) + its node count
    (``num_nodes``, else the rows of ``x`` / ``y``, else the largest node id + 1)."""
    fields: dict[str, torch.Tensor] = {}
    num_nodes = None
    for key, arr in graph.items():
        if key == "num_nodes":
            num_nodes = int(np.asarray(arr).reshape(-1)[0])  # stored as [1]
            continue
        t = torch.from_numpy(np.array(arr))
        fields[key] = t.long() if key == "edge_index" else (
            t.float() if t.is_floating_point() else t)
    if "edge_index" not in fields:
        fields["edge_index"] = torch.zeros((2, 0), dtype=torch.long)
    if num_nodes is None:
        rows = [fields[k].shape[0] for k in ("x", "y") if k in fields and fields[k].dim()]
        edges = fields["edge_index"]
        num_nodes = rows[0] if rows else (int(edges.max()) + 1 if edges.numel() else 0)
    return fields, num_nodes


def harmonize_graphs(values: Sequence[Mapping[str, Any] | None]) -> list[Any]:
    """``torch_geometric.data.Data`` objects with the same fields, so that
    ``Batch.from_data_list`` batches graphs with and without node features (which fails on
    the raw graphs: PyG takes the fields of the first graph).

    - ``x``: when some graph has node features (all of one width F), a graph without them
      gets zeros [N, F], and every graph gets ``has_x`` (bool [N]: True where ``x`` is the
      graph's own). When no graph has ``x``, none gets one (encoders then derive node
      features, e.g. degrees, as :class:`climb.models.encoders.graph.GraphEncoder` does).
    - ``edge_weight`` missing: the graph's 1-wide ``edge_attr``, else 1 (unweighted).
    - ``edge_attr`` missing: the graph's ``edge_weight`` (1-wide batches), else ones.
    - ``y`` (node labels) missing: NaN (unknown).
    - a missing sample (None): an empty graph (no nodes, no edges) with the same fields.
    Any other field that some graphs lack is a ValueError.
    """
    from torch_geometric.data import Data

    parsed = [None if v is None else _graph_tensors(v) for v in values]
    present = [p[0] for p in parsed if p is not None]
    keys = sorted({k for fields in present for k in fields})
    widths: dict[str, tuple[int, ...]] = {}
    for key in keys:
        shapes = {tuple(f[key].shape[1:]) for f in present if key in f}
        if len(shapes) > 1 and key in ("x", "edge_attr", "y"):
            raise ValueError(f"graphs have {key!r} of different widths {sorted(shapes)}")
        widths[key] = shapes.pop() if shapes else ()
    has_x = "x" in keys
    graphs = []
    for item in parsed:
        fields, num_nodes = item if item is not None else ({}, 0)
        out = dict(fields)
        edges = out.setdefault("edge_index", torch.zeros((2, 0), dtype=torch.long))
        n_edges = edges.shape[1]
        for key in keys:
            if key in out:
                continue
            if key == "x":
                out["x"] = torch.zeros((num_nodes, *widths["x"]))
            elif key == "y":
                out["y"] = torch.full((num_nodes, *widths["y"]), float("nan"))
            elif key == "edge_weight":
                attr = fields.get("edge_attr")
                one_wide = attr is not None and attr.dim() == 2 and attr.shape[1] == 1
                out["edge_weight"] = attr[:, 0] if one_wide else torch.ones(n_edges)
            elif key == "edge_attr":
                weight = fields.get("edge_weight")
                out["edge_attr"] = (weight.view(-1, 1) if weight is not None
                                    and widths["edge_attr"] == (1,)
                                    else torch.ones((n_edges, *widths["edge_attr"])))
            elif item is None:  # an empty graph: zero rows of the field
                template = next(f[key] for f in present if key in f)
                out[key] = template.new_zeros((0, *template.shape[1:]))
            else:
                raise ValueError(f"graph field {key!r} is missing from some graphs of the batch")
        if has_x:
            out["has_x"] = torch.full((num_nodes,), "x" in fields, dtype=torch.bool)
        graphs.append(Data(**out, num_nodes=num_nodes))
    return graphs


def collate(samples: Sequence[dict[str, Any]], tasks: Sequence[TaskSpec] = ()) -> dict[str, Any]:
    """Collate with default settings (pad to the largest shape in the batch)."""
    return Collator(tasks)(samples)
