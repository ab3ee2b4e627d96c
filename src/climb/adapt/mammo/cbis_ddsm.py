"""CBIS-DDSM, the Curated Breast Imaging Subset of DDSM (Lee et al. 2017): 3,103 scanned-film
mammograms of 1,566 patients with mass and calcification annotations.

Layout (TCIA collection page https://www.cancerimagingarchive.net/collection/cbis-ddsm/ and
its wiki "CBIS-DDSM", Lee et al., Sci Data 4:170177, 2017)::

    mass_case_description_{train,test}_set.csv   one row per abnormality: patient_id
    calc_case_description_{train,test}_set.csv   (P_00001), left or right breast (LEFT/RIGHT),
        image view (CC/MLO), abnormality id, assessment (BI-RADS 0-5), pathology (BENIGN,
        BENIGN_WITHOUT_CALLBACK, MALIGNANT), image file path, cropped image file path, ROI mask
        file path, ... (density, shape/margins or calc type/distribution, subtlety: not read)
    CBIS-DDSM/<Mass|Calc>-<Training|Test>_P_NNNNN_<LEFT|RIGHT>_<CC|MLO>/...   full mammograms

The ``image file path`` column names ``<folder>/<StudyUID>/<SeriesUID>/000000.dcm`` (the NBIA
Data Retriever's "classic" layout); the retriever's default "descriptive" layout puts the same
file at ``<folder>/<date>-DDSM-<n>/1.000000-full mammogram images-<n>/1-1.dcm``. The CSV path
is used when it exists, otherwise the one DICOM file inside ``<folder>/`` (cropped images and
ROI masks live in the separate ``<folder>_<abnormality id>/`` folders, so the full image's
folder holds exactly one file; zero or several is an error).

One record per full mammogram (``<folder>`` is the sample id; the mass and calcification sets
are separate scans of a case and stay separate records). An image with several abnormalities
takes the highest ``assessment`` (task ``birads``, through harmonize/mappings/cbis_ddsm.yaml)
and the most severe ``pathology`` (MALIGNANT > BENIGN > BENIGN_WITHOUT_CALLBACK; task
``pathology``, native classes). Split: the official train/test CSVs; validation is carved from
train by a seeded hash of ``patient_id`` (config ``val_fraction``, default 0.1;
``val_seed``). Patients found in both official sets are reported by `prepare`, never moved.
Meta: view and laterality from the CSV, the source file.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from climb.adapt.base import Adapter, Item
from climb.adapt.imaging import IMAGE_CONFIG, carve_val, decode_image, find_root, relative
from climb.errors import LabelMappingError, RecordError
from climb.record import Record

TABLES = {
    "mass_case_description_train_set.csv": "train",
    "calc_case_description_train_set.csv": "train",
    "mass_case_description_test_set.csv": "test",
    "calc_case_description_test_set.csv": "test",
}
COLUMNS = ("patient_id", "left or right breast", "image view", "assessment", "pathology",
           "image file path")
SEVERITY = {"BENIGN_WITHOUT_CALLBACK": 0, "BENIGN": 1, "MALIGNANT": 2}
LATERALITY = {"LEFT": "left", "RIGHT": "right"}
VIEWS = {"CC", "MLO"}


def _most_severe(values: list[str]) -> str:
    """The most severe pathology (unknown spellings sort first, so the mapper rejects them)."""
    return max(values, key=lambda v: (SEVERITY.get(v, 3), v))


def _image_root(raw_dir: Path, folders: list[str]) -> Path:
    """The folder holding the image folders (``CBIS-DDSM/`` wherever the retriever put it)."""
    for folder in folders[:20]:
        try:
            return find_root(raw_dir, folder, depth=4)
        except RecordError:
            continue
    return raw_dir / "CBIS-DDSM"  # none downloaded: every item is quarantined as missing


class CbisDdsmAdapter(Adapter):
    name = "cbis_ddsm"
    default_config = {**IMAGE_CONFIG, "fit": "pad", "val_fraction": 0.1, "val_seed": 0}

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        csv_root = find_root(raw_dir, "mass_case_description_train_set.csv")
        images: dict[str, dict] = {}
        for table_name, split in TABLES.items():
            path = csv_root / table_name
            if not path.is_file():
                raise RecordError(path, "case-description table not found")
            table = pd.read_csv(path, dtype=str, keep_default_na=False)
            missing = set(COLUMNS) - set(table.columns)
            if missing:
                raise RecordError(path, f"missing columns {sorted(missing)}")
            for row in table.to_dict("records"):
                csv_path = row["image file path"].strip().replace("\\", "/")
                folder = csv_path.split("/", 1)[0]
                entry = images.setdefault(folder, {
                    "csv_path": csv_path, "split": split, "table": table_name,
                    "patient_id": row["patient_id"].strip(),
                    "laterality": row["left or right breast"].strip().upper(),
                    "view": row["image view"].strip().upper(),
                    "assessments": [], "pathologies": [],
                })
                entry["assessments"].append(row["assessment"].strip())
                entry["pathologies"].append(row["pathology"].strip().upper())
        if not images:
            return []
        image_root = _image_root(raw_dir, sorted(images))
        fraction, seed = float(self.config["val_fraction"]), int(self.config["val_seed"])
        items = []
        for folder, entry in sorted(images.items()):
            items.append(Item(
                source=relative(image_root / folder, raw_dir),
                key=folder,
                info={**entry, "split": carve_val(entry["split"], entry["patient_id"], fraction,
                                                  seed)},
            ))
        return items

    def _dicom(self, raw_dir: Path, item: Item) -> tuple[Path, str]:
        folder = Path(raw_dir) / item.source
        classic = folder.parent / item.info["csv_path"]
        if classic.is_file():
            return classic, relative(classic, raw_dir)
        found = sorted(folder.rglob("*.dcm")) if folder.is_dir() else []
        if len(found) != 1:
            problem = "no full-mammogram DICOM" if not found else "several DICOM files"
            raise RecordError(item.source, f"{problem} in the image folder")
        return found[0], relative(found[0], raw_dir)

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        info = item.info
        if info["view"] not in VIEWS or info["laterality"] not in LATERALITY:
            raise RecordError(item.source, f"{info['table']} view/laterality is not CC/MLO, "
                                           "LEFT/RIGHT")
        try:
            assessments = [int(a) for a in info["assessments"]]
        except ValueError:
            problem = f"{info['table']} assessment is not an integer"
            raise RecordError(item.source, problem) from None
        try:
            birads = self.mapper("birads").multiclass(str(max(assessments)))
            pathology = self.mapper("pathology").multiclass(_most_severe(info["pathologies"]))
        except LabelMappingError as err:
            raise RecordError(item.source, str(err)) from None
        path, source = self._dicom(raw_dir, item)
        image = decode_image(path, source, self.config)
        yield Record(
            sample_id=item.key,
            dataset=self.name,
            modality="mammography",
            patient_id=info["patient_id"],
            split=info["split"],
            inputs={"image": image},
            labels={"birads": birads, "pathology": pathology},
            meta={
                "view": info["view"],
                "laterality": LATERALITY[info["laterality"]],
                "source_file": source,
            },
        ).validate()


ADAPTER = CbisDdsmAdapter
