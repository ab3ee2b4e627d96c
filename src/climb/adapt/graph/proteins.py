"""proteins: PROTEINS of TUDataset (Borgwardt et al. 2005; Morris et al. 2020), graph
classification.

Layout (https://www.chrsmrrs.com/graphkerneldatasets/PROTEINS.zip, format documented at
https://chrsmrrs.github.io/datasets/docs/format/): ``PROTEINS/PROTEINS_A.txt`` (edges, both
directions, 1-based node ids), ``PROTEINS_graph_indicator.txt``, ``PROTEINS_graph_labels.txt``
(1 / 2), ``PROTEINS_node_labels.txt`` (secondary-structure element type, 0..2) and
``PROTEINS_node_attributes.txt`` (one value per node); read by
:func:`climb.read.graph.read_tu`. The folder may also be the raw root itself.

Node features ``x`` as PyG's ``TUDataset``: one-hot node labels (over the dataset's label
range), with ``use_node_attr: true`` the node attributes before them (PyG's order). A
dataset without node labels (or attributes asked for) stores graphs without ``x``.
Graph label: the native label ("1" / "2", the catalog classes).

Split: none is published (the literature uses 10-fold cross-validation); a deterministic
graph-level stratified k-fold (``folds`` 10, ``split_seed`` 0: graphs of each label ordered by
a seeded hash of their index and dealt round-robin), fold ``test_fold`` (0) test, fold
``val_fold`` (1) val, the rest train. Graphs are proteins: no patients.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from climb.adapt.base import Adapter, Item
from climb.adapt.graph._common import stratified_folds
from climb.errors import RecordError
from climb.read.graph import one_hot, read_tu
from climb.record import Input, Record


def find_tu(raw_dir: Path, name: str) -> Path:
    """The folder holding ``<name>_A.txt``: ``raw_dir/<name>`` or ``raw_dir``."""
    for folder in (raw_dir / name, raw_dir):
        if (folder / f"{name}_A.txt").is_file():
            return folder
    raise RecordError(raw_dir / name / f"{name}_A.txt", "TU dataset file not found")


class ProteinsAdapter(Adapter):
    name = "proteins"
    tu_name: ClassVar[str] = "PROTEINS"
    task: ClassVar[str] = "enzyme"
    default_config: ClassVar[dict[str, Any]] = {
        "use_node_attr": False,
        "folds": 10,
        "test_fold": 0,
        "val_fold": 1,
        "split_seed": 0,
    }

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        folder = find_tu(raw_dir, self.tu_name)
        source = (folder / f"{self.tu_name}_A.txt").relative_to(raw_dir).as_posix()
        return [Item(source=source, key=self.tu_name)]  # one item: the files hold all graphs

    def node_features(self, data) -> np.ndarray | None:
        """PyG ``TUDataset``'s ``x``: [node attributes,] one-hot node labels."""
        blocks = []
        if self.config["use_node_attr"]:
            if data.node_attributes is None:
                return None
            blocks.append(data.node_attributes)
        if data.node_labels is not None:
            blocks.append(one_hot(data.node_labels))
        return np.concatenate(blocks, axis=1).astype(np.float32) if blocks else None

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        raw_dir = Path(raw_dir)
        folder = (raw_dir / item.source).parent
        data = read_tu(folder, self.tu_name)
        x = self.node_features(data)
        keys = [f"{self.tu_name}_{g + 1:04d}" for g in range(data.num_graphs)]
        folds = stratified_folds(
            keys,
            data.graph_labels.tolist(),
            int(self.config["folds"]),
            int(self.config["split_seed"]),
        )
        split_of = {int(self.config["test_fold"]): "test", int(self.config["val_fold"]): "val"}
        mapper = self.mapper(self.task)
        for g, graph in data.graphs(x):
            yield Record(
                sample_id=keys[g],
                dataset=self.name,
                modality="molecular_graph",
                split=split_of.get(folds[keys[g]], "train"),
                inputs={"graph": Input(data=graph, encoding="graph")},
                labels={self.task: mapper.multiclass(str(int(data.graph_labels[g])))},
                meta={"n_nodes": int(graph["num_nodes"][0]), "source_file": item.source},
            ).validate()


ADAPTER = ProteinsAdapter
