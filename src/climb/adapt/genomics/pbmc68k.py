"""Zheng68K (Zheng et al. 2017): fresh 68k PBMCs of donor A, one record per annotated cell.

Layout (the two catalog sources, under the raw root)::

    fresh_68k_pbmc_donor_a_filtered_gene_bc_matrices.tar.gz, extracted:
        filtered_matrices_mex/hg19/{matrix.mtx, genes.tsv, barcodes.tsv}   (10x MEX)
    68k_pbmc_barcodes_annotation.tsv    TSNE.1, TSNE.2, barcodes, celltype

Task ``cell_type`` (11 classes) from the annotation's ``celltype``; matrix cells without an
annotation are not records (no label). Split: one donor, so no patient-level split exists;
a deterministic **cell-level** split stratified by cell type (per class, cells ordered by a
seeded hash of their barcode: first 80 % train, next 10 % val, rest test; config
``split_seed``, ``split_ratios``). Every record has the patient id ``donor_A`` (the catalog
declares ``split.single_subject``), so bootstrap intervals resample cells.

Input ``expression``: float32 ``log1p(counts / cell total * target_sum)`` (CP10k, the total
over all genes, before selection) of the selected genes, in the matrix's gene order. Gene
selection (config ``genes``): ``hvg`` (default) = the ``n_genes`` (2000) genes of largest
variance of that value over the **training cells only**, so val/test never inform it; ``all``
= every gene, refused above ``max_genes``. :func:`selected_genes` returns the chosen gene ids
(the same for every record; not repeated in each record's attrs).

Work items are runs of ``cells_per_item`` annotated cells. Each worker process reads the
matrix and selects the genes once (cached), then cuts its items' rows from it.

**AnnData input** (config ``layout: h5ad``; default ``mex``): one ``.h5ad`` under the raw
root (config ``h5ad_file``, else the first in path order; e.g. scanpy's
``10x_pbmc68k_reduced.h5ad``, real Zheng68K cells with ``bulk_labels``), read by
:func:`climb.read.single_cell.read_h5ad` (h5py, AnnData's on-disk format). Matrix: ``X``,
``layers/<layer>`` (config ``layer``) or ``raw/X`` (config ``use_raw``). Labels: obs column
``label_column`` (default ``bulk_labels``); cells with a missing label are not records; a
label outside the catalog classes is a ``LabelMappingError``. Values (config ``normalize``):
``log1p_cp10k`` normalises counts as above (refused for a matrix with negative values),
``none`` stores the matrix's values as they are, ``auto`` (default) does the first when every
stored value is a non-negative integer (counts) and the second otherwise; the record's
``units`` say which. Split: when the obs column ``donor_column`` (default ``donor``) exists,
each cell's patient id is its donor and the split is the seeded hash of the donor
(:func:`climb.split.hashed_split`, so no donor straddles splits); else the seeded stratified
cell-level split above with patient id ``donor_A``. Genes are chosen on the training cells
either way.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from climb.adapt.base import Adapter, Item
from climb.errors import RecordError
from climb.read.single_cell import (
    find_mex,
    h5ad_obs,
    log1p_normalize,
    read_10x_mex,
    read_h5ad,
    top_variable_genes,
)
from climb.record import Input, Record
from climb.split import SplitConfig, hash_unit, hashed_split

ANNOTATION = "68k_pbmc_barcodes_annotation.tsv"
DONOR = "donor_A"


def stratified_cell_splits(barcodes: list[str], labels: list[str], seed: int,
                           ratios: tuple[float, float, float]) -> list[str]:
    """Per class, cells ordered by a seeded hash of their barcode: the first ``ratios[0]``
    train, the next ``ratios[1]`` val, the rest test (a class of one cell goes to train)."""
    splits = ["train"] * len(barcodes)
    by_class: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_class.setdefault(label, []).append(i)
    for members in by_class.values():
        members.sort(key=lambda i: (hash_unit(barcodes[i], seed), barcodes[i]))
        n = len(members)
        n_train = max(1, round(ratios[0] * n))
        n_val = round(ratios[1] * n) if n - n_train > 1 else 0
        for rank, i in enumerate(members):
            splits[i] = ("train" if rank < n_train else
                         "val" if rank < n_train + n_val else "test")
    return splits


def read_annotation(path: Path) -> pd.DataFrame:
    """The annotation table's ``barcodes`` and ``celltype`` columns (rows in file order)."""
    try:
        table = pd.read_csv(path, sep="\t", dtype=str)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        raise RecordError(path, "unreadable annotation table") from None
    missing = {"barcodes", "celltype"} - set(table.columns)
    if missing:
        raise RecordError(path, f"no {sorted(missing)} column")
    table = table.dropna(subset=["barcodes", "celltype"])
    if table["barcodes"].duplicated().any():
        raise RecordError(path, "a barcode is annotated twice")
    return table[["barcodes", "celltype"]].reset_index(drop=True)


def _is_counts(matrix) -> bool:
    """Every stored value a non-negative integer."""
    data = matrix.data
    return bool(data.size == 0 or (data.min() >= 0 and np.array_equal(data, np.round(data))))


def _h5ad_labels(path: Path, config: dict[str, Any]) -> pd.DataFrame:
    """Labelled cells of an .h5ad: ``row`` (obs position), ``barcodes``, ``celltype`` and
    ``donor`` (None without a donor column), in obs order."""
    label, donor = config["label_column"], config["donor_column"]
    obs = h5ad_obs(path, [c for c in (label, donor) if c])
    if label not in obs.columns:
        raise RecordError(path, f"no obs column {label!r} (config label_column)")
    if obs.index.duplicated().any():
        raise RecordError(path, "an obs name (cell barcode) appears twice")
    labels = obs[label].astype(object)
    keep = labels.notna().to_numpy()
    donors = (obs[donor].astype(object).to_numpy() if donor and donor in obs.columns
              else np.full(len(obs), None, dtype=object))
    if donor and donor in obs.columns and pd.isna(donors[keep]).any():
        raise RecordError(path, f"obs column {donor!r} is missing for a labelled cell")
    return pd.DataFrame({"row": np.flatnonzero(keep),
                         "barcodes": obs.index.to_numpy(dtype=object)[keep],
                         "celltype": labels.to_numpy()[keep].astype(str),
                         "donor": donors[keep]})


def _cell_splits(table: pd.DataFrame, config: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(splits, patient ids): donor-hashed when the table has donors, else stratified by cell
    with the single donor ``donor_A``."""
    seed = int(config["split_seed"])
    ratios = tuple(float(r) for r in config["split_ratios"])
    if "donor" in table and table["donor"].notna().all() and len(table):
        split_config = SplitConfig(seed=seed, ratios=ratios)  # type: ignore[arg-type]
        donors = [str(d) for d in table["donor"]]
        return [hashed_split(d, split_config) for d in donors], donors
    splits = stratified_cell_splits(table["barcodes"].tolist(), table["celltype"].tolist(),
                                    seed, ratios)  # type: ignore[arg-type]
    return splits, [DONOR] * len(table)


@functools.lru_cache(maxsize=1)
def _prepared(matrix: str, annotation: str, config_json: str,
              fingerprint: tuple[int, ...]) -> dict[str, Any]:
    """Normalised expression of the selected genes for every annotated cell (cached per
    process: the matrix is read once however many items a worker decodes; ``fingerprint``,
    the files' sizes and modification times, makes a changed file miss the cache).
    ``annotation`` is empty for an .h5ad (its labels are in obs)."""
    config = json.loads(config_json)
    units = "log1p(CP10k)"
    if annotation:
        table = read_annotation(Path(annotation))
        data = read_10x_mex(matrix)
        column = {b: i for i, b in enumerate(data.barcodes)}
        rows = np.array([column.get(b, -1) for b in table["barcodes"]], dtype=np.int64)
        values = log1p_normalize(data.counts[np.clip(rows, 0, None)],
                                 float(config["target_sum"]))
        gene_ids = data.gene_ids
    else:
        table = _h5ad_labels(Path(matrix), config)
        data = read_h5ad(matrix, layer=config["layer"], use_raw=bool(config["use_raw"]))
        rows = table["row"].to_numpy(dtype=np.int64)
        cells = data.matrix[rows]
        mode = config["normalize"]
        if mode == "auto":
            mode = "log1p_cp10k" if _is_counts(cells) else "none"
        if mode == "log1p_cp10k":
            if cells.nnz and cells.data.min() < 0:
                raise RecordError(matrix, "negative values cannot be normalised as counts "
                                          "(use normalize=none)")
            values = log1p_normalize(cells, float(config["target_sum"]))
        elif mode == "none":
            values, units = cells, "as stored (" + ("raw/X" if config["use_raw"] else
                                                    f"layers/{config['layer']}"
                                                    if config["layer"] else "X") + ")"
        else:
            raise ValueError(f"normalize must be auto, log1p_cp10k or none, not {mode!r}")
        gene_ids = [str(g) for g in data.var.index]
    splits, patients = _cell_splits(table, config)
    if config["genes"] == "hvg":
        train = np.flatnonzero((np.array(splits) == "train") & (rows >= 0))
        if not train.size:
            raise RecordError(annotation, "no annotated training cell found in the matrix")
        genes = top_variable_genes(values[train], int(config["n_genes"]))
    elif config["genes"] == "all":
        if len(gene_ids) > int(config["max_genes"]):
            raise RecordError(matrix, f"{len(gene_ids)} genes, more than max_genes "
                                      f"({config['max_genes']}); use genes=hvg")
        genes = np.arange(len(gene_ids))
    else:
        raise ValueError(f"genes must be 'hvg' or 'all', not {config['genes']!r}")
    return {"values": values[:, genes].tocsr(), "rows": rows, "splits": splits,
            "patients": patients, "units": units,
            "barcodes": table["barcodes"].tolist(), "labels": table["celltype"].tolist(),
            "gene_ids": [gene_ids[g] for g in genes]}


class PBMC68kAdapter(Adapter):
    name = "pbmc68k"
    default_config = {"genes": "hvg", "n_genes": 2000, "max_genes": 40000, "target_sum": 1e4,
                      "split_seed": 0, "split_ratios": [0.8, 0.1, 0.1], "cells_per_item": 512,
                      "layout": "mex", "h5ad_file": None, "label_column": "bulk_labels",
                      "layer": None, "use_raw": False, "normalize": "auto",
                      "donor_column": "donor"}

    def _paths(self, raw_dir: Path) -> tuple[Path, Path | None]:
        """(matrix, annotation): the MEX matrix and annotation table, or (.h5ad, None)."""
        layout = self.config["layout"]
        if layout == "h5ad":
            name = self.config["h5ad_file"]
            if name:
                path = raw_dir / str(name)
                if not path.is_file():
                    raise RecordError(path, "missing (config h5ad_file)")
                return path, None
            found = sorted(p for p in raw_dir.rglob("*.h5ad") if p.is_file())
            if not found:
                raise RecordError(raw_dir, "no .h5ad file (layout h5ad)")
            return found[0], None
        if layout != "mex":
            raise ValueError(f"layout must be 'mex' or 'h5ad', not {layout!r}")
        annotation = next(iter(sorted(raw_dir.rglob(ANNOTATION))), None)
        if annotation is None:
            raise RecordError(raw_dir / ANNOTATION, "missing (the cell-type annotation)")
        matrix = find_mex(raw_dir)
        if matrix is None:
            raise RecordError(raw_dir, "no matrix.mtx (10x MEX folder, e.g. "
                                       "filtered_matrices_mex/hg19/)")
        return matrix, annotation

    def _state(self, raw_dir: Path) -> dict[str, Any]:
        matrix, annotation = self._paths(raw_dir)
        keys = ("genes", "n_genes", "max_genes", "target_sum", "split_seed", "split_ratios",
                "label_column", "layer", "use_raw", "normalize", "donor_column")
        config = json.dumps({k: self.config[k] for k in keys}, sort_keys=True)
        stats = [p.stat() for p in (matrix, annotation) if p is not None]
        fingerprint = tuple(v for st in stats for v in (st.st_size, st.st_mtime_ns))
        return _prepared(str(matrix), str(annotation or ""), config, fingerprint)

    def selected_genes(self, raw_dir: Path) -> list[str]:
        """Gene ids of the stored expression vector, in order."""
        return self._state(Path(raw_dir))["gene_ids"]

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        matrix, annotation = self._paths(raw_dir)
        if annotation is None:
            n = len(_h5ad_labels(matrix, self.config))
            if not n:
                raise RecordError(matrix, "no labelled cells")
        else:
            n = len(read_annotation(annotation))
            if not n:
                raise RecordError(annotation, "no annotated cells")
        step = int(self.config["cells_per_item"])
        rel = matrix.relative_to(raw_dir).as_posix()
        return [Item(source=rel, key=f"cells_{start:06d}",
                     info={"start": start, "stop": min(start + step, n)})
                for start in range(0, n, step)]

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        state = self._state(Path(raw_dir))
        start, stop = item.info["start"], item.info["stop"]
        missing = int((state["rows"][start:stop] < 0).sum())
        if missing:
            raise RecordError(item.source, f"{missing} annotated cells of rows {start}-{stop} "
                                           "are not in the matrix's barcodes")
        mapper = self.mapper("cell_type")
        block = state["values"][start:stop].toarray().astype(np.float32)
        for offset, i in enumerate(range(start, stop)):
            yield Record(
                sample_id=state["barcodes"][i],
                dataset=self.name,
                modality="scrna_seq",
                patient_id=state["patients"][i],
                split=state["splits"][i],
                inputs={"expression": Input(data=np.ascontiguousarray(block[offset]),
                                            units=state["units"])},
                labels={"cell_type": mapper.multiclass(state["labels"][i])},
                meta={"source_file": item.source},
            ).validate()


ADAPTER = PBMC68kAdapter
