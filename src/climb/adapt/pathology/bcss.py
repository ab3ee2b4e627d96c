"""BCSS, Breast Cancer Semantic Segmentation (Amgad et al. 2019, Bioinformatics 35(18):3461):
151 H&E regions of interest (ROIs) from 151 TCGA-BRCA slides with crowdsourced, pathologist
reviewed tissue masks.

Layout (the README of https://github.com/PathologyDataScience/BCSS, whose Google Drive
folder holds)::

    rgbs_colorNormalized/<roi>.png    RGB ROI, colour-normalized
    masks/<roi>.png                   one 8-bit ground-truth code per pixel, same size
    meta/gt_codes.tsv                 label<TAB>GT_code (0 outside_roi, 1 tumor, 2 stroma,
                                      3 lymphocytic_infiltrate, 4 necrosis_or_debris, ...)
        <roi> = TCGA-<TSS>-<participant>-DX1_xmin<x>_ymin<y>_MPP-0.2500

Tasks: ``tissue_segmentation`` = the ROI's mask (its codes, ``uint8``), fitted like the image
(same size and fit, nearest-neighbour); ``tissue`` = the dominant tissue of the ROI: the
most frequent code of the full-resolution mask other than 0 (outside_roi) and the
``exclude`` code, as a class when it is one of the catalog's four (tumor, stroma,
lymphocytic_infiltrate, necrosis_or_debris), else -1. A code is named through gt_codes.tsv
when it is there (codes 1-4 must carry those names), else the paper's codes above are
assumed. CLIMB tiles the ROIs into 5,264 patches; climb keeps one record per ROI (the
image standardized to ``size``). A mask missing or of another size quarantines the ROI.
Meta: site (the TCGA tissue source site code), source file.

Split: none official (the paper held out the slides of six institutions; not reproduced).
``patient_id`` = the TCGA participant barcode (``TCGA-XX-XXXX``, the file name's prefix), and
`prepare`'s seeded hash (``split_seed``, ``split_ratios``; 80/10/10) keeps a patient's ROIs
in one split.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from climb.adapt.base import Adapter, Item
from climb.adapt.imaging import fit_mask, image_shape, map_label
from climb.adapt.photo import PHOTO_CONFIG, decode_photo, find_file, read_table
from climb.errors import RecordError
from climb.read.image import read_pixels
from climb.record import Record

IMAGES = "rgbs_colorNormalized"
MASKS = "masks"
CODES = "meta/gt_codes.tsv"
ROI = re.compile(r"^(?P<patient>TCGA-(?P<site>[A-Z0-9]{2})-[A-Z0-9]{4})-")
#: the paper's first codes (gt_codes.tsv, when present, must agree for 1-4)
DEFAULT_CODES = {0: "outside_roi", 1: "tumor", 2: "stroma", 3: "lymphocytic_infiltrate",
                 4: "necrosis_or_debris", 7: "exclude"}
NOT_TISSUE = ("outside_roi", "exclude")


def read_codes(path: Path | None, source: str) -> dict[int, str]:
    """{GT_code: label} from gt_codes.tsv (the paper's codes when there is no file)."""
    if path is None:
        return dict(DEFAULT_CODES)
    table = read_table(path, ("label", "GT_code"), source)
    try:
        codes = {int(c): str(label).strip() for label, c in zip(table["label"], table["GT_code"],
                                                                 strict=True)}
    except ValueError:
        raise RecordError(source, "GT_code is not an integer") from None
    for code in (1, 2, 3, 4):
        if codes.get(code) != DEFAULT_CODES[code]:
            raise RecordError(source, f"code {code} is not {DEFAULT_CODES[code]}")
    return codes


def dominant_code(mask: np.ndarray, codes: Mapping[int, str]) -> int | None:
    """The most frequent tissue code of ``mask`` (ties: the lower code); None if none."""
    counts = np.bincount(mask.ravel(), minlength=256)
    for code, label in codes.items():
        if label in NOT_TISSUE:
            counts[code] = 0
    return int(np.argmax(counts)) if counts.any() else None


class BcssAdapter(Adapter):
    name = "bcss"
    default_config = dict(PHOTO_CONFIG)

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        images_dir = find_file(raw_dir, [IMAGES])
        root = images_dir.parent
        codes_path = root / CODES
        codes = read_codes(codes_path if codes_path.is_file() else None,
                           (root / CODES).relative_to(raw_dir).as_posix())
        items = []
        for path in sorted(images_dir.iterdir()):
            if path.suffix.lower() != ".png":
                continue
            mask = (root / MASKS / path.name).relative_to(raw_dir).as_posix()
            items.append(Item(source=path.relative_to(raw_dir).as_posix(), key=path.stem,
                              info={"mask": mask, "codes": codes}))
        return items

    def item_files(self, raw_dir: Path, item: Item) -> list[Path]:
        """The ROI image and its mask (what `prepare` fingerprints for freshness)."""
        return [Path(raw_dir) / item.source, Path(raw_dir) / item.info["mask"]]

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        raw_dir = Path(raw_dir)
        match = ROI.match(item.key)
        if match is None:
            raise RecordError(item.source, "file name does not start with a TCGA-XX-XXXX barcode")
        mask_source = item.info["mask"]
        if not (raw_dir / mask_source).is_file():
            raise RecordError(item.source, "ROI has no mask in masks/")
        try:
            mask = read_pixels(raw_dir / mask_source).array
        except RecordError as err:
            raise RecordError(mask_source, err.problem) from None
        if mask.dtype != np.uint8 or mask.ndim != 2:
            raise RecordError(mask_source, "mask is not one 8-bit code per pixel")
        image = decode_photo(raw_dir, item.source, self.config)
        if mask.shape != image_shape(raw_dir / item.source, item.source):
            raise RecordError(mask_source, "mask size differs from its ROI's")
        codes = item.info["codes"]
        unknown = sorted(set(np.unique(mask).tolist()) - set(codes))
        if unknown:
            raise RecordError(mask_source, f"mask codes {unknown} are not in gt_codes.tsv")
        dominant = dominant_code(mask, codes)
        label = -1
        if dominant is not None and 1 <= dominant <= 4:
            label = map_label(self.mapper("tissue"), codes[dominant], item.source)
        yield Record(
            sample_id=item.key,
            dataset=self.name,
            modality=self.entry.modality,
            inputs={"image": image},
            labels={"tissue": label,
                    "tissue_segmentation": fit_mask(
                        mask, int(self.config["size"]), str(self.config["fit"]), mask_source)},
            patient_id=match["patient"],
            meta={"source_file": item.source, "site": match["site"]},
        ).validate()


ADAPTER = BcssAdapter
