"""demo_mouse_connectomes: mouse DTI structural connectomes, one graph per animal (bundled).

Layout (graspologic's mouse data): ``participants.csv`` (participant_id, genotype, sex),
``edgelists/<participant_id>_ses-1_dti.edgelist[.gz]`` ("u v weight": streamline counts
between the 332 regions, each undirected edge listed once), ``features/<runno>.csv`` (CIVM
label statistics per atlas ROI: voxels, volume_mm3, adc, dwi, e1, e2, e3, fa, rd; ROI 0 is
the exterior), ``atlas.csv`` and ``blocks.csv`` (nodes 0-165 one hemisphere, 166-331 the
other).

Node ``i`` is atlas ROI ``i + 1`` for i < 166 and ROI ``1001 + (i - 166)`` otherwise: the
within-hemisphere order is confirmed by the data (node strength vs. ROI volume correlate,
r ~ 0.7, against ~0 for a shuffled order); the hemisphere pairing follows blocks.csv's order.
Node features (``x``): volume_mm3, adc, dwi, e1, e2, e3, fa, rd, with the diffusivities
(adc, e1-e3, rd) converted from mm^2/s to um^2/ms (x 1000) so all are O(0.1-1000).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from climb.adapt.base import Adapter, Item
from climb.errors import RecordError
from climb.read.graph import read_edgelist, to_undirected
from climb.record import Input, Record, normalize_sex

N_NODES = 332
HALF = 166
NODE_FEATURES = ["volume_mm3", "adc", "dwi", "e1", "e2", "e3", "fa", "rd"]
DIFFUSIVITIES = {"adc", "e1", "e2", "e3", "rd"}


def node_rois(n_nodes: int = N_NODES) -> list[int]:
    """Atlas ROI label of each graph node."""
    half = n_nodes // 2
    return [i + 1 if i < half else 1001 + (i - half) for i in range(n_nodes)]


def read_node_features(path: Path) -> np.ndarray:
    """float32 [332, 8] node features from a CIVM label-statistics CSV."""
    if not path.exists():
        raise RecordError(path, "node feature file not found")
    try:
        frame = pd.read_csv(path, skiprows=2)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise RecordError(path, f"bad label-statistics table: {err}") from None
    missing = [c for c in ["ROI", *NODE_FEATURES] if c not in frame.columns]
    if missing:
        raise RecordError(path, f"missing columns {missing}")
    frame = frame.set_index("ROI")
    rois = node_rois()
    absent = [r for r in rois if r not in frame.index]
    if absent:
        raise RecordError(path, f"no statistics for ROIs {absent[:5]}...")
    table = frame.loc[rois, NODE_FEATURES].astype(np.float64)
    for col in DIFFUSIVITIES:
        table[col] *= 1000.0
    values = table.to_numpy(dtype=np.float32)
    if not np.isfinite(values).all():
        raise RecordError(path, "non-finite node feature")
    return values


def edgelist_path(raw_dir: Path, participant: str) -> Path:
    base = Path(raw_dir) / "edgelists" / f"{participant}_ses-1_dti.edgelist"
    gz = base.with_name(base.name + ".gz")
    return gz if gz.exists() else base


class MouseConnectomesAdapter(Adapter):
    name = "demo_mouse_connectomes"

    def items(self, raw_dir: Path) -> list[Item]:
        table = Path(raw_dir) / "participants.csv"
        if not table.exists():
            raise RecordError(table, "participants table not found")
        frame = pd.read_csv(table, dtype=str)
        missing = {"participant_id", "genotype", "sex"} - set(frame.columns)
        if missing:
            raise RecordError(table, f"missing columns {sorted(missing)}")
        items = []
        for row in frame.itertuples(index=False):
            pid = row.participant_id
            source = edgelist_path(raw_dir, pid).relative_to(raw_dir).as_posix()
            info = {"genotype": row.genotype, "sex": row.sex}
            items.append(Item(source=source, key=pid, info=info))
        return items

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        raw_dir = Path(raw_dir)
        edges = read_edgelist(raw_dir / item.source)
        if edges.max_node() >= N_NODES:
            raise RecordError(item.source, f"node id {edges.max_node()} >= {N_NODES}")
        edges = to_undirected(edges)
        x = read_node_features(raw_dir / "features" / f"{item.key.removeprefix('sub-')}.csv")
        graph = {"x": x, "edge_index": edges.edge_index, "edge_weight": edges.edge_weight}
        yield Record(
            sample_id=item.key,
            dataset=self.name,
            modality="brain_network",
            patient_id=item.key,
            inputs={"graph": Input(data=graph, encoding="graph", channels=list(NODE_FEATURES))},
            labels={"genotype": self.mapper("genotype").multiclass(item.info["genotype"])},
            meta={
                "sex": normalize_sex(item.info["sex"]),
                "genotype": item.info["genotype"],
                "n_nodes": N_NODES,
                "source_file": item.source,
            },
        ).validate()


ADAPTER = MouseConnectomesAdapter
