"""BUSI, Breast Ultrasound Images (Al-Dhabyani et al. 2020): 780 images of 600 women.

Layout (the publisher's release "Dataset_BUSI_with_GT",
https://scholar.cu.edu.eg/?q=afahmy/pages/dataset, and its Kaggle copy
aryashah2k/breast-ultrasound-images-dataset; Al-Dhabyani et al., Data in Brief 28:104863,
2020)::

    Dataset_BUSI_with_GT/<class>/<class> (<n>).png          class in benign, malignant, normal
    Dataset_BUSI_with_GT/<class>/<class> (<n>)_mask.png     ground-truth lesion mask
    Dataset_BUSI_with_GT/<class>/<class> (<n>)_mask_<k>.png further masks of the same image

Tasks: ``diagnosis`` from the class folder (the catalog's native classes; another folder
quarantines its images) and ``lesion_segmentation``: the union of the image's masks, fitted
like the image (uint8 0/1, nearest-neighbour); an image without a mask file, or whose mask
size differs from its own, is quarantined. BUSI publishes neither patient ids nor a split, so
the split is left to `prepare`: a seeded hash of each image (``split_seed``,
``split_ratios``; 80/10/10 by default). Several images of one woman may straddle splits;
nothing in the release allows grouping them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from climb.adapt.base import Item
from climb.adapt.imaging import (
    ClassImageAdapter,
    decode_mask,
    find_root,
    image_files,
    image_shape,
    relative,
)
from climb.errors import RecordError
from climb.record import Record

FOLDER = "Dataset_BUSI_with_GT"
MASK = re.compile(r"^(?P<image>.+)_mask(_\d+)?$")


def sample_id(stem: str) -> str:
    """The image's name without spaces or parentheses: ``benign (12)`` -> ``benign-12``."""
    return re.sub(r"\s*\((\d+)\)$", r"-\1", stem).replace(" ", "_")


class BusiAdapter(ClassImageAdapter):
    name = "busi"

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        root = find_root(raw_dir, FOLDER) / FOLDER
        items = []
        for class_dir in sorted(p for p in root.iterdir() if p.is_dir()):
            files = image_files(class_dir)
            masks: dict[str, list[str]] = {}
            for path in files:
                match = MASK.match(path.stem)
                if match:
                    masks.setdefault(match["image"], []).append(relative(path, raw_dir))
            for path in files:
                if MASK.match(path.stem):
                    continue
                items.append(Item(
                    source=relative(path, raw_dir),
                    key=sample_id(path.stem),
                    info={"label": class_dir.name, "masks": sorted(masks.get(path.stem, []))},
                ))
        return items

    def item_files(self, raw_dir: Path, item: Item) -> list[Path]:
        """The image and its masks (what `prepare` fingerprints for freshness)."""
        return [Path(raw_dir) / s for s in (item.source, *item.info["masks"])]

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        raw_dir = Path(raw_dir)
        label = self.class_label(item)
        masks = item.info["masks"]
        if not masks:
            raise RecordError(item.source, "image has no <name>_mask.png lesion mask")
        image = self.decode(raw_dir, item)
        shape = image_shape(raw_dir / item.source, item.source)
        mask = decode_mask([raw_dir / m for m in masks], masks, self.config, shape)
        yield self.image_record(item, image, {"diagnosis": label, "lesion_segmentation": mask})


ADAPTER = BusiAdapter
