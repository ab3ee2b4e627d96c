"""PAD-UFES-20 (Pacheco et al. 2020, Data in Brief 32:106221): 2,298 smartphone clinical images
of 1,641 skin lesions of 1,373 patients.

Layout (the Mendeley Data record doi:10.17632/zr7vgbcyr2.1 and the paper's data
description)::

    metadata.csv                 patient_id,lesion_id,smoke,...,age,...,gender,...,region,
                                 diameter_1,diameter_2,diagnostic,itch,...,img_id,biopsed
    images/imgs_part_1.zip       PAT_<patient>_<lesion>_<n>.png, also imgs_part_2/3.zip
    imgs_part_1/imgs_part_1/...  the same images once unzipped

Images are found by ``img_id`` (the file name) in unpacked folders, or inside the
``imgs_part_*.zip`` archives when they were left packed (read in place).

Task ``diagnosis``: ``diagnostic`` (ACK, BCC, MEL, NEV, SCC, SEK; Bowen's disease is
counted as SCC by the publisher) through harmonize/mappings/pad_ufes_20.yaml into
``dermatology5``; a code missing from the table quarantines the image. Meta: sex
(``gender``), age bucket (``age``), source file; the other clinical fields (habits, family
history, region, lesion diameters, symptoms) are not carried.

Split: none official; `prepare`'s seeded hash of ``patient_id`` (``split_seed``,
``split_ratios``; 80/10/10): every lesion and image of a patient in one split.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from climb.adapt.base import Adapter, Item
from climb.adapt.imaging import map_label
from climb.adapt.photo import (
    PHOTO_CONFIG,
    find_table,
    index_images,
    index_zip_images,
    photo_record,
)
from climb.errors import RecordError
from climb.record import Record, age_bucket, normalize_sex

TABLE = "metadata.csv"
COLUMNS = ("patient_id", "lesion_id", "age", "gender", "diagnostic", "img_id")


class PadUfes20Adapter(Adapter):
    name = "pad_ufes_20"
    default_config = dict(PHOTO_CONFIG)

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        table_path, table = find_table(raw_dir, [TABLE], COLUMNS)
        root = table_path.parent
        images: dict[str, str] = {}
        for archive in sorted(root.rglob("imgs_part_*.zip")):
            images.update(index_zip_images(archive, raw_dir, (".png",)))
        images.update(index_images(root, raw_dir, (".png",)))  # unpacked files win
        items = []
        for row in table.itertuples(index=False):
            name = row.img_id.strip()
            stem = Path(name).stem
            where = images.get(stem, (root / "images" / name).relative_to(raw_dir).as_posix())
            items.append(Item(source=where, key=stem, info={
                "patient_id": row.patient_id.strip(), "lesion_id": row.lesion_id.strip(),
                "age": row.age.strip(), "sex": row.gender.strip(),
                "diagnostic": row.diagnostic.strip(),
            }))
        return items

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        info = item.info
        label = map_label(self.mapper("diagnosis"), info["diagnostic"], item.source)
        if not info["patient_id"]:
            raise RecordError(item.source, "row has no patient_id (the split group)")
        meta = {"sex": normalize_sex(info["sex"]), "age_bucket": age_bucket(info["age"])}
        yield photo_record(self, raw_dir, item, {"diagnosis": label},
                           patient_id=info["patient_id"],
                           study_id=f"{info['patient_id']}_{info['lesion_id']}", meta=meta)


ADAPTER = PadUfes20Adapter
