"""Data for training, on top of ``climb.load``: datasets per split, samplers, loaders.

The train loader of a multitask run draws from a :class:`climb.load.MixtureSampler` (one
deterministic stream, split over DDP ranks); other regimes shuffle with a
``DistributedSampler`` seeded by the run seed (also for one process, so every epoch's order
is a function of seed and epoch, and a resumed run replays it). Loaders are built by a
LightningDataModule, so they know the rank and world size of the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import lightning as L
import numpy as np
import pyarrow.parquet as pq
import torch
from torch.utils.data import DataLoader, DistributedSampler, Subset

from climb.errors import ClimbError
from climb.load import Collator, MixtureSampler, StoreDataset, TaskSpec
from climb.load.threaded import ThreadedLoader
from climb.store.writer import LABEL_PREFIX


@dataclass
class SplitLabels:
    """The labels of one split, in the dataset's global index order (no inputs decoded)."""

    sample_id: list[str]
    dataset: list[str]
    meta: list[str]
    labels: dict[str, list[Any]] = field(default_factory=dict)  # task_key -> per-row values

    def task_array(self, task: TaskSpec) -> np.ndarray:
        """Multilabel ``[N, C]`` float (NaN unknown), multiclass ``[N]`` int (-1), regression
        ``[N]`` float; rows of other datasets are unknown."""
        values = self.labels.get(task.key, [None] * len(self.sample_id))
        if task.type == "multilabel":
            out = np.full((len(values), len(task.classes)), np.nan, dtype=np.float32)
            for i, v in enumerate(values):
                if v is not None:
                    out[i] = np.asarray(v, dtype=np.float32)
            return out
        if task.type in {"multiclass", "binary"}:
            return np.asarray([-1 if v is None else int(v) for v in values], dtype=np.int64)
        return np.asarray([np.nan if v is None else float(v) for v in values], np.float32)


def split_labels(ds: StoreDataset) -> SplitLabels:
    """Read only the label/id columns of the shards behind ``ds`` (same row order)."""
    out = SplitLabels([], [], [])
    for prepared in ds.datasets:
        for path in prepared.shards(ds.split):
            schema = pq.read_schema(path)
            cols = ["sample_id", "dataset", "meta"] + [
                c for c in schema.names if c.startswith(LABEL_PREFIX)]
            table = pq.read_table(path, columns=[c for c in cols if c in schema.names])
            n = table.num_rows
            out.sample_id += table.column("sample_id").to_pylist()
            dsname = prepared.name
            out.dataset += [dsname] * n
            out.meta += (table.column("meta").to_pylist() if "meta" in table.column_names
                         else ["{}"] * n)
            start = len(out.sample_id) - n
            for c in table.column_names:
                if not c.startswith(LABEL_PREFIX):
                    continue
                key = f"{dsname}.{c[len(LABEL_PREFIX):]}"
                vals = out.labels.setdefault(key, [None] * start)
                vals += table.column(c).to_pylist()
            for vals in out.labels.values():
                if len(vals) < len(out.sample_id):
                    vals += [None] * (len(out.sample_id) - len(vals))
    return out


class ClimbData(L.LightningDataModule):
    """Train/val/test loaders over a prepared store for the configured regime."""

    def __init__(self, cfg: dict[str, Any], tasks: list[TaskSpec], inputs: list[str],
                 train_indices: list[int] | None = None, val_indices: list[int] | None = None):
        super().__init__()
        d = cfg["data"]
        self.cfg = cfg
        self.tasks = tasks
        self.inputs = inputs
        names = d["datasets"]
        self.datasets = {
            split: StoreDataset(d["store"], names, split=d[f"{split}_split"], inputs=inputs)
            for split in ("train", "val", "test")
        }
        if len(self.datasets["train"]) == 0:
            raise ClimbError(f"{d['store']}: no rows in split {d['train_split']!r} for "
                             f"datasets {names or 'all'}")
        self.train_indices = train_indices
        if val_indices is not None:  # few-shot: only its k-shot validation samples
            self.datasets["val"] = Subset(self.datasets["val"], list(val_indices))
        self.collate = Collator(tasks, inputs=inputs)

    @property
    def train_dataset(self):
        ds = self.datasets["train"]
        return Subset(ds, self.train_indices) if self.train_indices is not None else ds

    def _world(self) -> tuple[int, int]:
        trainer = getattr(self, "trainer", None)
        if trainer is None:
            return 0, 1
        return int(trainer.global_rank), int(trainer.world_size)

    def per_device_batch(self, batch_size: int | None = None) -> int:
        _rank, world = self._world()
        bs = int(batch_size or self.cfg["data"]["batch_size"])
        if bs % world:
            raise ClimbError(f"data.batch_size={bs} is not divisible by the {world} processes")
        return bs // world

    def _loader(self, dataset, sampler=None, shuffle=False,
                batch_size=None) -> DataLoader | ThreadedLoader:
        workers = int(self.cfg["data"]["num_workers"])
        gen = torch.Generator().manual_seed(int(self.cfg["seed"]))
        threads = int(self.cfg["data"].get("threads") or 0)
        if threads:  # in-process: reader threads, the same batches as the DataLoader
            return ThreadedLoader(dataset, batch_size=self.per_device_batch(batch_size),
                                  sampler=sampler, shuffle=shuffle if sampler is None else False,
                                  collate_fn=self.collate, threads=threads, generator=gen,
                                  pin_memory=torch.cuda.is_available())
        return DataLoader(dataset, batch_size=self.per_device_batch(batch_size),
                          sampler=sampler, shuffle=shuffle if sampler is None else False,
                          collate_fn=self.collate, num_workers=workers,
                          persistent_workers=workers > 0, generator=gen,
                          pin_memory=torch.cuda.is_available())

    def train_dataloader(self) -> DataLoader:
        rank, world = self._world()
        seed = int(self.cfg["seed"])
        if self.cfg["regime"] == "multitask" and self.train_indices is None:
            ds = self.datasets["train"]
            mix = self.cfg["data"]["mixture"]
            sampler = MixtureSampler.for_dataset(
                ds, strategy=mix.get("strategy", "temperature"),
                temperature=float(mix.get("temperature", 1.0)), weights=mix.get("weights"),
                seed=seed, rank=rank, world_size=world)
            trainer = getattr(self, "trainer", None)
            if trainer is not None and trainer.global_step:  # resume the stream exactly
                sampler.set_step(trainer.global_step * self.per_device_batch() * world)
            return self._loader(ds, sampler=sampler)
        # DistributedSampler also for one process: Lightning calls set_epoch on it, so the
        # order of every epoch is a function of (seed, epoch) and a resumed run replays it.
        sampler = DistributedSampler(self.train_dataset, num_replicas=world, rank=rank,
                                     shuffle=True, seed=seed)
        return self._loader(self.train_dataset, sampler=sampler)

    def _eval_loader(self, split: str, distributed: bool = True) -> DataLoader | None:
        ds = self.datasets[split]
        if len(ds) == 0:
            return None
        rank, world = self._world()
        bs = self.cfg["data"]["eval_batch_size"] or self.cfg["data"]["batch_size"]
        sampler = (DistributedSampler(ds, world, rank, shuffle=False)
                   if distributed and world > 1 else None)
        return self._loader(ds, sampler=sampler, batch_size=bs)

    def val_dataloader(self):
        return self._eval_loader("val") or []

    def predict_loader(self, split: str) -> DataLoader | ThreadedLoader | None:
        """A single-process loader over a whole split (for predictions and metrics)."""
        ds = self.datasets[split]
        if len(ds) == 0:
            return None
        bs = int(self.cfg["data"]["eval_batch_size"] or self.cfg["data"]["batch_size"])
        workers = int(self.cfg["data"]["num_workers"])
        threads = int(self.cfg["data"].get("threads") or 0)
        if threads:
            return ThreadedLoader(ds, batch_size=bs, collate_fn=self.collate, threads=threads)
        return DataLoader(ds, batch_size=bs, shuffle=False, collate_fn=self.collate,
                          num_workers=workers)
