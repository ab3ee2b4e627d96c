"""ppi: protein-protein interaction graphs of 24 human tissues (Zitnik & Leskovec 2017) as
released with GraphSAGE (Hamilton et al. 2017); node-level multilabel (121 gene-ontology sets).

Layouts (both read by :func:`climb.read.graph.read_ppi`, found under the raw root or its
``ppi/`` folder):

- GraphSAGE, http://snap.stanford.edu/graphsage/ppi.zip (the catalog source): ``ppi-G.json``
  (networkx node-link; every node flagged ``val`` / ``test``), ``ppi-feats.npy`` (50
  features), ``ppi-id_map.json``, ``ppi-class_map.json`` (121 0/1 labels per node). The files
  carry no graph ids, so the official 20/2/2 graph split is kept at the granularity they
  give: three records, ``ppi_train`` / ``ppi_val`` / ``ppi_test``, each the disjoint union
  of its split's tissue graphs (node flags -> split).
- PyG / DGL (``{train,valid,test}_graph.json``, ``_feats.npy``, ``_labels.npy``,
  ``_graph_id.npy``, what ``torch_geometric.datasets.PPI`` downloads): one record per graph
  id, ``ppi_g01`` ... ``ppi_g24``, in its official split.

Each record's ``graph`` input holds ``x`` float32 [N, 50], ``edge_index`` (both directions,
no self-loops) and the node labels ``y`` float32 [N, 121] (PyG's node-level ``y``). The
record-level ``go_function`` label is left missing (NaN): the store's label columns hold one
vector per record, so node-level labels travel in the graph (``batch["inputs"]["graph"].y``).
Proteins, not patients: no patient ids.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from climb.adapt.base import Adapter, Item
from climb.errors import RecordError
from climb.read.graph import read_ppi
from climb.record import Input, Record


def find_ppi(raw_dir: Path) -> Path:
    """The folder holding the PPI files: ``raw_dir`` or ``raw_dir/ppi``."""
    for folder in (raw_dir, raw_dir / "ppi"):
        if (folder / "ppi-G.json").is_file() or (folder / "train_graph.json").is_file():
            return folder
    raise RecordError(raw_dir / "ppi", "no ppi-G.json (GraphSAGE) or train_graph.json (PyG)")


class PPIAdapter(Adapter):
    name = "ppi"

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        folder = find_ppi(raw_dir)
        main = "ppi-G.json" if (folder / "ppi-G.json").is_file() else "train_graph.json"
        return [Item(source=(folder / main).relative_to(raw_dir).as_posix(), key="ppi")]

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        raw_dir = Path(raw_dir)
        graphs = read_ppi((raw_dir / item.source).parent)
        n_classes = len(self.mapper("go_function").classes)
        for graph in graphs:
            if graph.y.shape[1] != n_classes:
                raise RecordError(
                    item.source, f"{graph.y.shape[1]} labels per node, expected {n_classes}"
                )
            key = f"ppi_{graph.split}" if graph.graph_id is None else f"ppi_g{graph.graph_id:02d}"
            dropped = {k: v for k, v in graph.dropped.items() if v}
            meta = {"n_nodes": int(graph.x.shape[0]), "source_file": item.source}
            if dropped:
                meta["notes"] = "left out: " + ", ".join(f"{v} {k}" for k, v in dropped.items())
            data = {**graph.as_dict(), "num_nodes": np.array([graph.x.shape[0]], np.int64)}
            yield Record(
                sample_id=key,
                dataset=self.name,
                modality="protein_graph",
                split=graph.split,
                inputs={"graph": Input(data=data, encoding="graph")},
                labels={},
                meta=meta,
            ).validate()


ADAPTER = PPIAdapter
