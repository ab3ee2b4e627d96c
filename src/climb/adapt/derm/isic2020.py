"""SIIM-ISIC 2020 melanoma challenge (Rotemberg et al. 2021, Sci Data 8:34): 33,126 labelled
dermoscopic images of 2,056 patients.

Layout (the challenge page https://challenge2020.isic-archive.com/ and its data files)::

    ISIC_2020_Training_GroundTruth_v2.csv   image_name,patient_id,lesion_id,sex,age_approx,
                                            anatom_site_general_challenge,diagnosis,
                                            benign_malignant,target
    ISIC_2020_Training_JPEG.zip             train/ISIC_<7 digits>.jpg

The v1 table ``ISIC_2020_Training_GroundTruth.csv`` (no ``lesion_id``) is read when v2 is
absent; v2 wins when both are there. Images are found by ``image_name`` below the table's
folder (unpacked), or inside ``ISIC_2020_Training_JPEG.zip`` when it was left packed. The
10,982 test images have no public labels and are not used.

Tasks: ``malignancy`` = ``benign_malignant`` (benign / malignant), checked against ``target``
(0 / 1; a disagreement quarantines the image); ``diagnosis`` = ``diagnosis`` through
harmonize/mappings/isic2020.yaml into ``dermatology5`` (``unknown`` and the rare classes map
to null: label -1); a value missing from the table quarantines the image. Meta: sex, age
bucket of ``age_approx``, source file (the anatomic site is not a whitelisted field).

Split: no labelled test set is public, so the split is `prepare`'s seeded hash of
``patient_id`` (``split_seed``, ``split_ratios``; 80/10/10): no patient in two splits. The
duplicate pairs the organisers list (``ISIC_2020_Training_Duplicates.csv``) are not removed.
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

TABLES = ("ISIC_2020_Training_GroundTruth_v2.csv", "ISIC_2020_Training_GroundTruth.csv")
IMAGE_ZIP = "ISIC_2020_Training_JPEG.zip"
COLUMNS = ("image_name", "patient_id", "sex", "age_approx", "diagnosis", "benign_malignant",
           "target")
TARGET = {"benign": "0", "malignant": "1"}


class Isic2020Adapter(Adapter):
    name = "isic2020"
    default_config = dict(PHOTO_CONFIG)

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        table_path, table = find_table(raw_dir, TABLES, COLUMNS)
        root = table_path.parent
        images = index_images(root, raw_dir, (".jpg", ".jpeg"))
        if (root / IMAGE_ZIP).is_file():  # left packed; unpacked files win
            images = {**index_zip_images(root / IMAGE_ZIP, raw_dir, (".jpg",)), **images}
        fallback = (root / "train").relative_to(raw_dir).as_posix()
        items = []
        for row in table.itertuples(index=False):
            name = row.image_name.strip()
            items.append(Item(source=images.get(name, f"{fallback}/{name}.jpg"), key=name, info={
                "patient_id": row.patient_id.strip(), "sex": row.sex.strip(),
                "age": row.age_approx.strip(), "diagnosis": row.diagnosis.strip(),
                "benign_malignant": row.benign_malignant.strip(), "target": row.target.strip(),
            }))
        return items

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        info = item.info
        verdict = info["benign_malignant"]
        if verdict not in TARGET:
            raise RecordError(item.source, "benign_malignant is neither benign nor malignant")
        if info["target"] not in (TARGET[verdict], TARGET[verdict] + ".0"):
            raise RecordError(item.source, "target disagrees with benign_malignant")
        labels = {
            "malignancy": map_label(self.mapper("malignancy"), verdict, item.source),
            "diagnosis": map_label(self.mapper("diagnosis"), info["diagnosis"], item.source),
        }
        if not info["patient_id"]:
            raise RecordError(item.source, "row has no patient_id (the split group)")
        meta = {"sex": normalize_sex(info["sex"]), "age_bucket": age_bucket(info["age"])}
        yield photo_record(self, raw_dir, item, labels, patient_id=info["patient_id"], meta=meta)


ADAPTER = Isic2020Adapter
