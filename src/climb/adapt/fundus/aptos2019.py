"""APTOS 2019 Blindness Detection (Asia Pacific Tele-Ophthalmology Society, Kaggle 2019):
3,662 labelled colour fundus photographs graded for diabetic retinopathy.

Layout (the competition's data page,
https://www.kaggle.com/competitions/aptos2019-blindness-detection/data)::

    train.csv                    id_code,diagnosis     (diagnosis: ICDR grade 0-4)
    train_images/<id_code>.png
    test.csv, test_images/       1,928 images without public labels (not used)

Task ``dr_grade``: ``diagnosis`` through harmonize/mappings/aptos2019.yaml into ``dr_grade5``
(one to one); a value missing from the table quarantines the image. Meta: source file.

Split: only train.csv is labelled and no patient or eye id is published, so the split is
`prepare`'s seeded hash of each image (``split_seed``, ``split_ratios``; 80/10/10, not
stratified). Images of one patient (the set holds near-duplicates) may straddle splits;
nothing in the release allows grouping them.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from climb.adapt.base import Adapter, Item
from climb.adapt.imaging import map_label
from climb.adapt.photo import PHOTO_CONFIG, find_table, photo_record
from climb.record import Record

TABLE = "train.csv"
IMAGES = "train_images"


class Aptos2019Adapter(Adapter):
    name = "aptos2019"
    default_config = dict(PHOTO_CONFIG)

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        table_path, table = find_table(raw_dir, [TABLE], ("id_code", "diagnosis"))
        folder = (table_path.parent / IMAGES).relative_to(raw_dir).as_posix()
        return [Item(source=f"{folder}/{code.strip()}.png", key=code.strip(),
                     info={"grade": grade.strip()})
                for code, grade in zip(table["id_code"], table["diagnosis"], strict=True)]

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        label = map_label(self.mapper("dr_grade"), item.info["grade"], item.source)
        yield photo_record(self, raw_dir, item, {"dr_grade": label})


ADAPTER = Aptos2019Adapter
