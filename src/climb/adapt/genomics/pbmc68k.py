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
from climb.read.single_cell import find_mex, log1p_normalize, read_10x_mex, top_variable_genes
from climb.record import Input, Record
from climb.split import hash_unit

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


@functools.lru_cache(maxsize=1)
def _prepared(matrix: str, annotation: str, config_json: str,
              fingerprint: tuple[int, ...]) -> dict[str, Any]:
    """Normalised expression of the selected genes for every annotated cell (cached per
    process: the matrix is read once however many items a worker decodes; ``fingerprint``,
    the files' sizes and modification times, makes a changed file miss the cache)."""
    config = json.loads(config_json)
    table = read_annotation(Path(annotation))
    data = read_10x_mex(matrix)
    column = {b: i for i, b in enumerate(data.barcodes)}
    rows = np.array([column.get(b, -1) for b in table["barcodes"]], dtype=np.int64)
    splits = stratified_cell_splits(table["barcodes"].tolist(), table["celltype"].tolist(),
                                    int(config["split_seed"]),
                                    tuple(float(r) for r in config["split_ratios"]))
    values = log1p_normalize(data.counts[np.clip(rows, 0, None)],
                             float(config["target_sum"]))
    if config["genes"] == "hvg":
        train = np.flatnonzero((np.array(splits) == "train") & (rows >= 0))
        if not train.size:
            raise RecordError(annotation, "no annotated training cell found in the matrix")
        genes = top_variable_genes(values[train], int(config["n_genes"]))
    elif config["genes"] == "all":
        if len(data.gene_ids) > int(config["max_genes"]):
            raise RecordError(matrix, f"{len(data.gene_ids)} genes, more than max_genes "
                                      f"({config['max_genes']}); use genes=hvg")
        genes = np.arange(len(data.gene_ids))
    else:
        raise ValueError(f"genes must be 'hvg' or 'all', not {config['genes']!r}")
    return {"values": values[:, genes].tocsr(), "rows": rows, "splits": splits,
            "barcodes": table["barcodes"].tolist(), "labels": table["celltype"].tolist(),
            "gene_ids": [data.gene_ids[g] for g in genes]}


class PBMC68kAdapter(Adapter):
    name = "pbmc68k"
    default_config = {"genes": "hvg", "n_genes": 2000, "max_genes": 40000, "target_sum": 1e4,
                      "split_seed": 0, "split_ratios": [0.8, 0.1, 0.1], "cells_per_item": 512}

    def _paths(self, raw_dir: Path) -> tuple[Path, Path]:
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
        keys = ("genes", "n_genes", "max_genes", "target_sum", "split_seed", "split_ratios")
        config = json.dumps({k: self.config[k] for k in keys}, sort_keys=True)
        stats = [p.stat() for p in (matrix, annotation)]
        fingerprint = tuple(v for st in stats for v in (st.st_size, st.st_mtime_ns))
        return _prepared(str(matrix), str(annotation), config, fingerprint)

    def selected_genes(self, raw_dir: Path) -> list[str]:
        """Gene ids of the stored expression vector, in order."""
        return self._state(Path(raw_dir))["gene_ids"]

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        matrix, annotation = self._paths(raw_dir)
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
                patient_id=DONOR,
                split=state["splits"][i],
                inputs={"expression": Input(data=np.ascontiguousarray(block[offset]),
                                            units="log1p(CP10k)")},
                labels={"cell_type": mapper.multiclass(state["labels"][i])},
                meta={"source_file": item.source},
            ).validate()


ADAPTER = PBMC68kAdapter
