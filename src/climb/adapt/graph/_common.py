"""Shared pieces of the graph adapters: deterministic stratified splits and folds, and the
connectome adapter (one ROI x ROI matrix per scan, a subject table with the labels).

A connectivity matrix becomes a graph with :func:`climb.read.graph.matrix_to_graph` under the
adapter config ``threshold`` / ``top_k`` (default: none, every non-zero off-diagonal entry is
an edge, its value in ``edge_attr`` [E, 1]) and, with ``node_features: profile`` (default),
``x`` = the matrix rows (each ROI's connection profile, as BrainGB's default node features);
``node_features: none`` stores no ``x``.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from climb.adapt.base import Adapter, Item
from climb.errors import RecordError
from climb.read.graph import MATRIX_SUFFIXES, matrix_to_graph, read_matrix
from climb.record import Input, Record, age_bucket
from climb.split import SplitConfig, hash_unit


def stratified_split(
    keys: Sequence[str],
    strata: Sequence[Hashable],
    ratios: Sequence[float] = (0.7, 0.1, 0.2),
    seed: int = 0,
) -> dict[str, str]:
    """{key: train/val/test}: within each stratum, keys ordered by a seeded hash and cut at
    the ratios (rounded; the first of a stratum goes to train), so every stratum is spread
    over the splits in proportion and the assignment depends on the keys only."""
    groups: dict[Hashable, list[str]] = {}
    for key, stratum in zip(keys, strata, strict=True):
        groups.setdefault(stratum, []).append(key)
    out: dict[str, str] = {}
    for members in groups.values():
        ordered = sorted(set(members), key=lambda k: (hash_unit(k, seed), k))
        n = len(ordered)
        n_train = max(1, round(n * ratios[0]))
        n_val = round(n * (ratios[0] + ratios[1])) - n_train
        for i, key in enumerate(ordered):
            out[key] = "train" if i < n_train else "val" if i < n_train + max(n_val, 0) else "test"
    return out


def stratified_folds(
    keys: Sequence[str], strata: Sequence[Hashable], folds: int = 10, seed: int = 0
) -> dict[str, int]:
    """{key: fold}: within each stratum, keys ordered by a seeded hash are dealt round-robin
    into ``folds`` folds (a deterministic stratified k-fold)."""
    groups: dict[Hashable, list[str]] = {}
    for key, stratum in zip(keys, strata, strict=True):
        groups.setdefault(stratum, []).append(key)
    out: dict[str, int] = {}
    for members in groups.values():
        for i, key in enumerate(sorted(members, key=lambda k: (hash_unit(k, seed), k))):
            out[key] = i % folds
    return out


def read_table(path: Path, required: Iterable[str]) -> pd.DataFrame:
    """A CSV/TSV subject table as strings, with the ``required`` columns."""
    if not path.is_file():
        raise RecordError(path, "subject table not found")
    try:
        frame = pd.read_csv(
            path, dtype=str, sep="\t" if path.suffix == ".tsv" else ",", keep_default_na=False
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise RecordError(path, f"bad subject table ({type(err).__name__})") from None
    frame.columns = [c.strip() for c in frame.columns]
    missing = sorted(set(required) - set(frame.columns))
    if missing:
        raise RecordError(path, f"missing columns {missing}")
    return frame


def connectome_graph(matrix: np.ndarray, config: dict[str, Any]) -> dict[str, np.ndarray]:
    """The stored graph of a connectivity matrix under the adapter ``config``."""
    graph = matrix_to_graph(matrix, threshold=config.get("threshold"), top_k=config.get("top_k"))
    features = config.get("node_features", "profile")
    if features == "profile":
        graph["x"] = matrix.astype(np.float32)
    elif features != "none":
        raise ValueError(f"node_features must be 'profile' or 'none', got {features!r}")
    graph["num_nodes"] = np.array([matrix.shape[0]], dtype=np.int64)
    return graph


class ConnectomeAdapter(Adapter):
    """One record per connectivity-matrix file ``<matrix_dir>/<subject>[_<suffix>].<ext>``
    (ext one of :data:`climb.read.graph.MATRIX_SUFFIXES`), labels and metadata from a subject
    table. Subclasses set the table and column names and :meth:`label_of` / :meth:`sex_of`.
    Split: :func:`stratified_split` of the subjects by label (``split_seed``,
    ``split_ratios``, default 70/10/20 as the catalog says), every scan of a subject in the
    subject's split."""

    table: ClassVar[str]
    subject_columns: ClassVar[tuple[str, ...]]  # the first one present is used
    task: ClassVar[str]
    site_column: ClassVar[str | None] = None
    age_column: ClassVar[str | None] = None
    sex_column: ClassVar[str | None] = None
    matrix_dir: ClassVar[str] = "connectomes"
    modality: ClassVar[str] = "brain_network"
    default_config: ClassVar[dict[str, Any]] = {
        "threshold": None,
        "top_k": None,
        "node_features": "profile",
        "matrix_key": None,
        "split_seed": 0,
        "split_ratios": (0.7, 0.1, 0.2),
    }

    def label_of(self, row: dict[str, str]) -> str | None:
        """The task's class name of a table row (None: not in the task)."""
        raise NotImplementedError

    def sex_of(self, row: dict[str, str]) -> str | None:
        return None

    def age_of(self, row: dict[str, str]) -> Any:
        """Age in years (for the decade bucket only), or None."""
        return row.get(self.age_column) if self.age_column else None

    def _subjects(self, raw_dir: Path) -> tuple[str, list[dict[str, str]]]:
        path = raw_dir / self.table
        frame = read_table(path, ())
        column = next((c for c in self.subject_columns if c in frame.columns), None)
        if column is None:
            raise RecordError(path, f"no subject column (one of {list(self.subject_columns)})")
        return column, frame.to_dict("records")

    def matrix_files(self, raw_dir: Path, subjects: set[str]) -> dict[str, list[Path]]:
        """{subject: matrix files}, by file name ``<subject>`` or ``<subject>_<suffix>``
        (the longest subject that matches; subject ids may hold ``_``, as NDA GUIDs do)."""
        root = raw_dir / self.matrix_dir
        if not root.is_dir():
            raise RecordError(root, "matrix folder not found")
        found: dict[str, list[Path]] = {}
        for path in sorted(root.rglob("*")):
            if not (path.is_file() and path.suffix.lower() in MATRIX_SUFFIXES):
                continue
            parts = path.stem.split("_")
            prefixes = ("_".join(parts[:i]) for i in range(len(parts), 0, -1))
            subject = next((p for p in prefixes if p in subjects), None)
            if subject is not None:
                found.setdefault(subject, []).append(path)
        return found

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        column, rows = self._subjects(raw_dir)
        files = self.matrix_files(raw_dir, {str(r[column]).strip() for r in rows})
        chosen = []
        for row in rows:
            subject = str(row[column]).strip()
            label = self.label_of(row)
            if not subject or label is None or subject not in files:
                continue
            chosen.append((subject, label, row))
        config = SplitConfig.from_config(self.config)
        splits = stratified_split(
            [s for s, _, _ in chosen], [lab for _, lab, _ in chosen], config.ratios, config.seed
        )
        items = []
        for subject, label, row in chosen:
            for path in files[subject]:
                info = {
                    "subject": subject,
                    "label": label,
                    "split": splits[subject],
                    "sex": self.sex_of(row),
                    "site": row.get(self.site_column) if self.site_column else None,
                    "age": self.age_of(row),
                }
                source = path.relative_to(raw_dir).as_posix()
                items.append(Item(source=source, key=path.stem, info=info))
        return items

    def read(self, raw_dir: Path, item: Item) -> tuple[np.ndarray, str | None]:
        """The item's matrix and a processing note (None)."""
        return read_matrix(raw_dir / item.source, key=self.config.get("matrix_key")), None

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        matrix, note = self.read(Path(raw_dir), item)
        graph = connectome_graph(matrix, self.config)
        meta: dict[str, Any] = {
            "n_nodes": int(matrix.shape[0]),
            "source_file": item.source,
            "sex": item.info.get("sex"),
        }
        if item.info.get("site"):
            meta["site"] = item.info["site"]
        if item.info.get("age"):
            meta["age_bucket"] = age_bucket(item.info["age"])
        if note:
            meta["notes"] = note
        channels = None if "x" not in graph else [f"roi_{i}" for i in range(matrix.shape[0])]
        yield Record(
            sample_id=item.key,
            dataset=self.name,
            modality=self.modality,
            patient_id=item.info["subject"],
            split=item.info["split"],
            inputs={"graph": Input(data=graph, encoding="graph", channels=channels)},
            labels={self.task: self.mapper(self.task).multiclass(item.info["label"])},
            meta=meta,
        ).validate()
