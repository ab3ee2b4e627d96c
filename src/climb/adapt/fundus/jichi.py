"""Jichi Medical University DR set (Takahashi et al. 2017, PLoS ONE 12(6):e0179790): 9,939
posterior-pole fundus photographs of 2,740 patients (Nidek AFC-230), graded by the modified
Davis scale.

Layout (the figshare record "Davis Grading of One and Concatenated Figures",
https://figshare.com/articles/figure/Davis_Grading_of_One_and_Concatenated_Figures/4879853)::

    list.csv                 Image,Davis_grading_of_concatenated_figures,Davis_grading_of_one_figure
    <folder>/<patient>_<n>_<L|R>.jpg     e.g. 1_1_R.jpg, 4_7_L.jpg

The images are found by the ``Image`` file name anywhere below list.csv's folder (the
download unpacks them into one folder beside it).

Task ``dr_grade``: ``Davis_grading_of_one_figure`` (ndr, sdr, ppdr, pdr: the grade of the
single photograph, which is what the image shows; the concatenated-figures grade uses the
patient's other photographs too) through harmonize/mappings/jichi.yaml into ``dr_grade5``
(coarse: sdr -> mild NPDR, ppdr -> severe NPDR; see the table); a grade missing from the table
quarantines the image. Meta: laterality (the file name's L / R), source file.

Split: none official (the paper held out 5% of images). The file name's first number is the
patient (2,740 patients in the paper), so ``patient_id`` = that number and `prepare`'s seeded
hash (``split_seed``, ``split_ratios``; 80/10/10) keeps a patient's photographs together; a
file name that does not follow ``<patient>_<n>_<L|R>`` is quarantined.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from climb.adapt.base import Adapter, Item
from climb.adapt.imaging import map_label
from climb.adapt.photo import (
    PHOTO_CONFIG,
    find_table,
    index_images,
    photo_record,
)
from climb.errors import RecordError
from climb.record import Record

TABLE = "list.csv"
COLUMNS = ("Image", "Davis_grading_of_one_figure")
NAME = re.compile(r"^(?P<patient>\d+)_(?P<number>\d+)_(?P<side>[LR])$")
SIDES = {"L": "left", "R": "right"}


class JichiAdapter(Adapter):
    name = "jichi"
    default_config = dict(PHOTO_CONFIG)

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        table_path, table = find_table(raw_dir, [TABLE], COLUMNS)
        images = index_images(table_path.parent, raw_dir, (".jpg", ".jpeg"))
        folder = table_path.parent.relative_to(raw_dir).as_posix()
        items = []
        for name, grade in zip(table["Image"], table["Davis_grading_of_one_figure"], strict=True):
            stem = Path(name.strip()).stem
            fallback = name.strip() if folder == "." else f"{folder}/{name.strip()}"
            items.append(
                Item(source=images.get(stem, fallback), key=stem, info={"grade": grade.strip()})
            )
        return items

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        match = NAME.match(item.key)
        if match is None:
            raise RecordError(item.source, "file name is not <patient>_<n>_<L|R>.jpg")
        label = map_label(self.mapper("dr_grade"), item.info["grade"], item.source)
        yield photo_record(self, raw_dir, item, {"dr_grade": label}, patient_id=match["patient"],
                           meta={"laterality": SIDES[match["side"]]})


ADAPTER = JichiAdapter
