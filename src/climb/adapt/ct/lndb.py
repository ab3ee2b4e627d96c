"""LNDb: a lung nodule database on CT (Pedrosa et al. 2019, arXiv 1911.08434; challenge page
https://lndb.grand-challenge.org/Data/, data on Zenodo).

Layout (the challenge Data page; column names from the challenge's own scripts,
``readNoduleList.py`` / ``calcFleischner.py``)::

    data0/ ... data5/LNDb-XXXX.mhd + .raw    chest CT (MetaImage, HU)
    trainNodules.csv      one row per radiologist finding
    trainNodules_gt.csv   the findings merged across radiologists: LNDbID, RadID,
                          RadFindingID, FindingID, x, y, z, AgrLevel, Nodule (1: nodule
                          >= 3 mm, 0: non-nodule or < 3 mm), Volume (mm3), Text (texture
                          rating 1 ground glass .. 5 solid, averaged over radiologists)
    trainFolds.csv        the official 4-fold cross-validation: columns Fold0..Fold3 list
                          LNDbIDs (shorter columns padded with empty cells)
    masks/LNDb-XXXX_radY.mhd   nodule masks per radiologist

One record per scan, ``inputs["volume"]`` (see :mod:`climb.adapt.ct`, HU). Task
``nodule_texture`` (catalog, multilabel [ground_glass, part_solid, solid]): for every
finding of the scan with Nodule = 1, its texture class as the challenge's
``calcNodTexClass`` bins ``Text`` (< 7/3 ground glass, 7/3 .. < 11/3 part solid, >= 11/3
solid; the script's scalar branch puts exactly 11/3 in part solid, its array branch, used on
the CSV, in solid: the array branch wins); a class is 1 when any nodule has it, else 0, so
a scan without nodules is all 0. Task ``nodule_segmentation``: the union of the scan's
radiologist masks (``masks/LNDb-XXXX_rad*.mhd``, any voxel > 0; the masks hold the nodules
>= 3 mm) on the stored volume's grid (:func:`climb.adapt.ct.label_map`), ``uint8`` 0/1;
None where the scan has no mask file.

Split: the official folds of trainFolds.csv; ``test_fold`` (default 3) is "test",
``val_fold`` (default 2) "val", the other two folds "train". Scans outside trainFolds.csv
(the challenge's test scans, whose annotations were not released) are not listed. One scan
per patient (the paper), so the LNDbID is the patient.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from climb.adapt.base import Adapter, Item
from climb.adapt.ct import VOLUME_CONFIG, label_map, read_metaimage_source, volume_input
from climb.adapt.imaging import find_root, relative
from climb.errors import RecordError
from climb.read.volume import Volume
from climb.record import Record

NODULES = "trainNodules_gt.csv"
FOLDS = "trainFolds.csv"
#: calcNodTexClass's thresholds on the averaged texture rating.
TEXTURE_THRESHOLDS = (7 / 3, 11 / 3)
TEXTURES = ("ground_glass", "part_solid", "solid")


def texture_class(rating: float) -> str:
    """The texture class of an averaged LNDb texture rating (calcNodTexClass, array branch)."""
    if not math.isfinite(rating):
        raise ValueError("Text is not a number")
    low, high = TEXTURE_THRESHOLDS
    return TEXTURES[0] if rating < low else TEXTURES[1] if rating < high else TEXTURES[2]


def scan_name(lndb_id: int) -> str:
    """``LNDb-0001`` for LNDbID 1 (the file stem of the scan)."""
    return f"LNDb-{lndb_id:04d}"


def read_folds(path: Path) -> dict[int, int]:
    """{LNDbID: fold} from trainFolds.csv (columns Fold0..Fold3)."""
    table = pd.read_csv(path)
    folds: dict[int, int] = {}
    for column in table.columns:
        if not str(column).startswith("Fold"):
            continue
        fold = int(str(column)[4:])
        for value in table[column].dropna():
            folds[int(value)] = fold
    return folds


class LNDbAdapter(Adapter):
    name = "lndb"
    default_config = {**VOLUME_CONFIG, "val_fold": 2, "test_fold": 3}

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        root = find_root(raw_dir, NODULES)
        folds = read_folds(root / FOLDS)
        nodules = pd.read_csv(root / NODULES)
        scans = {p.stem: p for p in sorted(root.glob("data*/LNDb-*.mhd"))}
        items = []
        for lndb_id in sorted(folds):
            rows = nodules[(nodules["LNDbID"] == lndb_id) & (nodules["Nodule"] >= 0.5)]
            name = scan_name(lndb_id)
            path = scans.get(name, root / f"{name}.mhd")
            items.append(
                Item(
                    source=relative(path, raw_dir),
                    key=name,
                    info={
                        "fold": folds[lndb_id],
                        "texts": rows["Text"].astype(float).tolist(),
                        "masks": [
                            relative(m, raw_dir)
                            for m in sorted(root.glob(f"masks/{name}_rad*.mhd"))
                        ],
                    },
                )
            )
        return items

    def split(self, fold: int) -> str:
        """The split of an official fold."""
        if fold == int(self.config["test_fold"]):
            return "test"
        return "val" if fold == int(self.config["val_fold"]) else "train"

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        try:
            present = {texture_class(t) for t in item.info["texts"]}
        except ValueError as err:
            raise RecordError(item.source, f"{NODULES} {err}") from None
        volume = read_metaimage_source(raw_dir, item.source)
        yield Record(
            sample_id=item.key,
            dataset=self.name,
            modality=self.entry.modality,
            patient_id=item.key,
            split=self.split(int(item.info["fold"])),
            inputs={"volume": volume_input(volume, item.source, self.config)},
            labels={
                "nodule_texture": self.mapper("nodule_texture").multilabel_from_positives(
                    sorted(present)
                ),
                "nodule_segmentation": self._masks(raw_dir, item, volume),
            },
            meta={"source_file": item.source},
        ).validate()

    def _masks(self, raw_dir: Path, item: Item, volume: Volume) -> np.ndarray | None:
        """The union of the radiologists' masks on the stored grid, or None without any."""
        union = None
        for source in item.info["masks"]:
            mask = read_metaimage_source(raw_dir, source)
            if mask.array.shape != volume.array.shape:
                raise RecordError(source, "mask grid differs from its scan's")
            union = mask.array > 0 if union is None else union | (mask.array > 0)
        if union is None:
            return None
        labels = Volume(array=union.astype(np.uint8), axes="DHW", spacing=volume.spacing)
        return label_map(labels, item.info["masks"][0], self.config)


ADAPTER = LNDbAdapter
