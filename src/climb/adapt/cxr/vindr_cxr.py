"""VinDr-CXR 1.0.0: 18,000 posteroanterior chest radiographs (DICOM) from two Vietnamese
hospitals, 22 local findings + 6 global diagnoses per image.

Layout (PhysioNet project page https://physionet.org/content/vindr-cxr/1.0.0/ and Nguyen et
al. 2022, Sci Data 9:429, "Data Records"), with or without the download's top folder::

    annotations/image_labels_train.csv  image_id, rad_id, 28 label columns (0/1); three rows
                                        per image, one per radiologist (rad_id R1..R17)
    annotations/image_labels_test.csv   image_id, 28 label columns: one consensus row per
                                        image (five radiologists)
    annotations/annotations_{train,test}.csv   boxes of the local findings; not read
    train/<image_id>.dicom, test/<image_id>.dicom   MONOCHROME1/2, 12-16 bit

Task ``findings`` (multilabel, ``cxr14``) through harmonize/mappings/vindr_cxr.yaml. Training
images: a label is positive when at least ``consensus_votes`` (default 2, a majority of the
three) of its radiologists mark it, else 0; a test image's consensus row is used as is. Labels
without a CheXpert counterpart (Calcification, Emphysema, Enlarged PA, ILD, Mediastinal shift,
Pulmonary fibrosis, Other lesion, COPD, Tuberculosis, Other diseases) are dropped (null in the
mapping); several labels mapping to one class combine by maximum; Support Devices, which VinDr
does not label, is NaN. A value other than 0/1 fails the table (RecordError naming it); a
label column the mapping lacks quarantines the images.

Split: the official train/test folders; val is carved from train by a seeded hash of the image
id (config ``val_fraction``, default 0.1; ``val_seed``). VinDr publishes no patient id (the
DICOM patient tags were removed by the publisher), so the image id stands in as
``patient_id``; images of one patient may straddle splits and nothing allows grouping them.
Pixels: :func:`climb.adapt.cxr._common.decode_radiograph` (the imaging core's
``read_dicom_image``: modality LUT, VOI LUT/window, MONOCHROME1 inverted). Nothing is read from
the DICOM header besides the pixel module and BurnedInAnnotation: an image declaring "YES" may
show identifying text in its pixels and is quarantined (config ``burned_in_annotation: keep``
prepares it). Meta is ``source_file`` only. The page and the paper agree on what is read here;
the page wins on file names.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from climb.adapt.base import Item
from climb.adapt.cxr._common import (
    FindingsTableAdapter,
    decode_radiograph,
    read_table,
    refuse_burned_in_annotation,
)
from climb.adapt.imaging import IMAGE_CONFIG, carve_val, find_root, relative
from climb.errors import RecordError
from climb.record import Record

TABLES = {"train": "annotations/image_labels_train.csv",
          "test": "annotations/image_labels_test.csv"}
NOT_LABELS = {"image_id", "rad_id"}


class VindrCxrAdapter(FindingsTableAdapter):
    name = "vindr_cxr"
    default_config = {**IMAGE_CONFIG, "consensus_votes": 2, "val_fraction": 0.1, "val_seed": 0,
                      "burned_in_annotation": "quarantine"}

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        root = find_root(raw_dir, TABLES["train"])
        votes = int(self.config["consensus_votes"])
        fraction, seed = float(self.config["val_fraction"]), int(self.config["val_seed"])
        items = []
        for split, name in TABLES.items():
            path = root / name
            source = relative(path, raw_dir)
            if not path.is_file():
                raise RecordError(source, "label table not found")
            table = read_table(path, ["image_id"], source)
            labels = [c for c in table.columns if c not in NOT_LABELS]
            try:
                marks = table[labels].apply(lambda col: col.str.strip().astype(float))
            except ValueError:
                raise RecordError(source, "a label value is not a number") from None
            if not marks.isin([0.0, 1.0]).all().all():
                raise RecordError(source, "a label value is not 0 or 1")
            marks["image_id"] = table["image_id"].str.strip()
            grouped = marks.groupby("image_id", sort=True)
            positive = grouped[labels].sum() >= (votes if split == "train" else 1)
            readers = grouped.size()
            for image, row in positive.iterrows():
                items.append(Item(
                    source=relative(root / split / f"{image}.dicom", raw_dir),
                    key=str(image),
                    info={"split": carve_val(split, str(image), fraction, seed),
                          "readers": int(readers[image]),
                          "labels": {c: float(v) for c, v in row.items()}},
                ))
        return items

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        labels = self.labels(item)
        path = Path(raw_dir) / item.source
        if path.is_file() and self.config["burned_in_annotation"] != "keep":
            refuse_burned_in_annotation(path, item.source)
        image = decode_radiograph(path, item.source, self.config)
        yield Record(
            sample_id=item.key,
            dataset=self.name,
            modality="chest_xray",
            patient_id=item.key,
            split=item.info["split"],
            inputs={"image": image},
            labels=labels,
            meta={"source_file": item.source},
        ).validate()


ADAPTER = VindrCxrAdapter
