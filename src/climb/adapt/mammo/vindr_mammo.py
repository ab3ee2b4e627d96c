"""VinDr-Mammo 1.0.0: 20,000 full-field digital mammograms of 5,000 four-view exams.

Layout (PhysioNet project page https://physionet.org/content/vindr-mammo/1.0.0/ and Nguyen
et al. 2023, Sci Data 10:277, "Data Records"), with or without the download's top folders::

    breast-level_annotations.csv  one row per image: study_id, series_id, image_id,
                                  laterality (L/R), view_position (CC/MLO), height, width,
                                  breast_birads ("BI-RADS 1".."BI-RADS 5"), breast_density
                                  ("DENSITY A".."DENSITY D"), split (training/test)
    finding_annotations.csv       one row per finding (boxes, finding_categories); not read
    metadata.csv                  DICOM tag dump; not read
    images/<study_id>/<image_id>.dicom   16-bit DICOM, mostly MONOCHROME1

Task ``birads``: ``breast_birads`` (the assessment of the image's breast, both views carry it)
through harmonize/mappings/vindr_mammo.yaml into the ``birads`` vocabulary; a label missing
from the table quarantines the image. Split: the official ``split`` column (exam-level:
training -> train, test -> test); validation is carved from training by a seeded hash of the
``study_id`` (config ``val_fraction``, default 0.1; ``val_seed``), so an exam never straddles
splits. Only exam ids are published (no patient id): records carry ``study_id``.
Meta: view and laterality from the CSV (never from the DICOM header), the source file.
Pixels: modality LUT, the file's VOI LUT/window, MONOCHROME1 inverted, see
:func:`climb.adapt.imaging.decode_image`; ``fit`` defaults to "pad" so the whole breast stays.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from climb.adapt.base import Adapter, Item
from climb.adapt.imaging import IMAGE_CONFIG, carve_val, decode_image, find_root
from climb.errors import LabelMappingError, RecordError
from climb.record import Record

BREAST_LEVEL = "breast-level_annotations.csv"
SPLITS = {"training": "train", "test": "test"}
VIEWS = {"CC", "MLO"}
LATERALITY = {"L": "left", "R": "right"}


class VindrMammoAdapter(Adapter):
    name = "vindr_mammo"
    default_config = {**IMAGE_CONFIG, "fit": "pad", "val_fraction": 0.1, "val_seed": 0}

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        root = find_root(raw_dir, BREAST_LEVEL)
        table = pd.read_csv(root / BREAST_LEVEL, dtype=str, keep_default_na=False)
        missing = {"study_id", "image_id", "laterality", "view_position", "breast_birads",
                   "split"} - set(table.columns)
        if missing:
            raise RecordError(root / BREAST_LEVEL, f"missing columns {sorted(missing)}")
        prefix = root.relative_to(raw_dir)
        items = []
        for row in table.itertuples(index=False):
            study, image = row.study_id.strip(), row.image_id.strip()
            official = SPLITS.get(row.split.strip().lower())
            items.append(
                Item(
                    source=(prefix / "images" / study / f"{image}.dicom").as_posix(),
                    key=image,
                    info={
                        "study_id": study,
                        "birads": row.breast_birads.strip(),
                        "split": official and carve_val(
                            official, study, float(self.config["val_fraction"]),
                            int(self.config["val_seed"]),
                        ),
                        "laterality": row.laterality.strip().upper(),
                        "view": row.view_position.strip().upper(),
                    },
                )
            )
        return items

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        info = item.info
        if info["split"] is None:
            raise RecordError(item.source, f"{BREAST_LEVEL} split is not training/test")
        if info["view"] not in VIEWS or info["laterality"] not in LATERALITY:
            raise RecordError(item.source, f"{BREAST_LEVEL} view/laterality is not CC/MLO, L/R")
        try:
            birads = self.mapper("birads").multiclass(info["birads"] or None)
        except LabelMappingError as err:
            raise RecordError(item.source, str(err)) from None
        image = decode_image(Path(raw_dir) / item.source, item.source, self.config)
        yield Record(
            sample_id=item.key,
            dataset=self.name,
            modality="mammography",
            study_id=info["study_id"],
            split=info["split"],
            inputs={"image": image},
            labels={"birads": birads},
            meta={
                "view": info["view"],
                "laterality": LATERALITY[info["laterality"]],
                "source_file": item.source,
            },
        ).validate()


ADAPTER = VindrMammoAdapter
