"""HAM10000 (Tschandl et al. 2018, Sci Data 5:180161): 10,015 dermatoscopic images of 7,470
pigmented lesions.

Layout (the Harvard Dataverse record doi:10.7910/DVN/DBW86T, whose bulk download is
``dataverse_files.zip``; the Kaggle mirror kmader/skin-cancer-mnist-ham10000 holds the same
files unpacked)::

    HAM10000_metadata.csv (or .tab)    lesion_id,image_id,dx,dx_type,age,sex,localization[,dataset]
    HAM10000_images_part_1.zip         ISIC_<7 digits>.jpg (600 x 450), packed on Dataverse
    HAM10000_images_part_2.zip
    HAM10000_images_part_1/ ...        the same images unpacked (Kaggle mirror, or unzipped)

Dataverse serves the metadata table in its archival form ``HAM10000_metadata.tab`` (tab
separated, strings quoted) and the uploaded ``.csv`` as the original; both are read. Images
are found by ``image_id`` in folders or inside the packed zips (read in place). The
ISIC 2018 Task 3 test images added in later Dataverse versions are not used (the catalog
counts the 10,015 labelled images).

Task ``diagnosis``: the ``dx`` code through harmonize/mappings/ham10000.yaml into
``dermatology5`` (``df`` and ``vasc`` map to null: kept with label -1); a code missing from the
table quarantines the image. Meta: sex, age bucket (``age``), site (``dataset``: the source
collection, when the column exists), source file. ``localization`` and ``dx_type`` are not
carried.

Split: there is none official for the labelled set. Images of one lesion are near-duplicates,
so ``study_id`` = ``lesion_id`` and `prepare`'s seeded hash (``split_seed``,
``split_ratios``; 80/10/10) keeps every lesion in one split. The CLIMB reference code splits
HAM10000 per image with an unseeded shuffle; climb does not. No patient id is published, so
lesions of one patient may straddle splits.
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

TABLES = ("HAM10000_metadata.csv", "HAM10000_metadata.tab")
IMAGE_ZIPS = ("HAM10000_images_part_1.zip", "HAM10000_images_part_2.zip")
COLUMNS = ("lesion_id", "image_id", "dx", "age", "sex")


class Ham10000Adapter(Adapter):
    name = "ham10000"
    default_config = dict(PHOTO_CONFIG)

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        table_path, table = find_table(raw_dir, TABLES, COLUMNS)
        root = table_path.parent
        images = index_images(root, raw_dir, (".jpg", ".jpeg"))
        for name in IMAGE_ZIPS:  # packed parts (Dataverse); unpacked folders win
            if (root / name).is_file():
                images = {**index_zip_images(root / name, raw_dir, (".jpg",)), **images}
        site = table["dataset"] if "dataset" in table.columns else [""] * len(table)
        items = []
        for row, collection in zip(table.itertuples(index=False), site, strict=True):
            image_id = row.image_id.strip()
            where = images.get(image_id)
            if where is None:  # load() quarantines it as a missing file
                where = (root / IMAGE_ZIPS[0].removesuffix(".zip") / f"{image_id}.jpg")
                where = where.relative_to(raw_dir).as_posix()
            items.append(Item(source=where, key=image_id, info={
                "dx": row.dx.strip(), "lesion_id": row.lesion_id.strip(),
                "age": row.age.strip(), "sex": row.sex.strip(), "site": collection.strip(),
            }))
        return items

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        info = item.info
        label = map_label(self.mapper("diagnosis"), info["dx"], item.source)
        if not info["lesion_id"]:
            raise RecordError(item.source, "row has no lesion_id (the split group)")
        meta = {"sex": normalize_sex(info["sex"]), "age_bucket": age_bucket(info["age"]),
                "site": info["site"] or None}
        yield photo_record(self, raw_dir, item, {"diagnosis": label},
                           study_id=info["lesion_id"], meta=meta)


ADAPTER = Ham10000Adapter
