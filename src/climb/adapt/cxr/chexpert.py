"""CheXpert v1.0 (Stanford AIMI): 224,316 chest radiographs of 65,240 patients with 14
observations labelled from the reports (1 positive, 0 negative, -1 uncertain, blank).

Layout (Irvin et al. 2019, AAAI 33:590, "Dataset"; the competition page
https://stanfordmlgroup.github.io/competitions/chexpert/ and the download's README), the
full or the downsampled ("CheXpert-v1.0-small") release::

    CheXpert-v1.0/train.csv   Path, Sex, Age, Frontal/Lateral, AP/PA, 14 observation columns
    CheXpert-v1.0/valid.csv   the same columns; 234 images of 200 patients labelled by
                              radiologist consensus (values 1.0 / 0.0 only)
    CheXpert-v1.0/{train,valid}/patient00001/study1/view1_frontal.jpg

``Path`` begins with the release folder ("CheXpert-v1.0/train/..."); it is resolved below the
folder holding train.csv whatever that folder is called. The patient id is the
``patientNNNNN`` component of ``Path``, the study id ``patientNNNNN/studyN``.

Task ``findings`` (multilabel, ``cxr14``) through harmonize/mappings/chexpert.yaml: -1
(uncertain) follows ``uncertain_policy`` (NaN by default, config ``ones`` / ``zeros`` for the
paper's U-Ones / U-Zeros), blank (not mentioned) is NaN, never negative.

Split (decided here; the official 668-study test set is held by Stanford AIMI and not part of
the download): ``valid.csv`` is the validation split (config ``valid_split: val``, default), and
a test split is carved from train.csv by a seeded hash of the patient id (``carve_fraction``,
default 0.1; ``carve_seed``), so a patient never straddles train and test and val keeps the
radiologist-labelled images. ``valid_split: test`` uses valid.csv as the test split instead and
carves val from train the same way. The paper and the download disagree on nothing read here.

Meta: ``view`` = AP/PA (AP, PA, LL, RL) or LATERAL for a lateral image without one;
``sex`` (normalized), ``age_bucket`` (decade of Age, never the exact age), ``source_file``.
Config ``views`` (e.g. ``[PA, AP]``) keeps only those views.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from climb.adapt.base import Item
from climb.adapt.cxr._common import (
    FindingsTableAdapter,
    findings_record,
    read_table,
    wanted_view,
)
from climb.adapt.imaging import IMAGE_CONFIG, find_root, relative
from climb.errors import RecordError
from climb.record import Record, age_bucket, normalize_sex
from climb.split import hash_unit

TABLES = {"train": "train.csv", "valid": "valid.csv"}
COLUMNS = ["Path", "Sex", "Age", "Frontal/Lateral", "AP/PA"]


def carved_split(patient: str, fraction: float, seed: int, carved: str) -> str:
    """``carved`` ("test" or "val") for the training patients whose seeded hash falls below
    ``fraction``, else "train"."""
    return carved if hash_unit(f"{carved}:{patient}", seed) < fraction else "train"


def view_of(frontal_lateral: str, ap_pa: str) -> str | None:
    """AP/PA when given, LATERAL for a lateral image without it, else None."""
    if ap_pa.strip():
        return ap_pa.strip().upper()
    return "LATERAL" if frontal_lateral.strip().lower() == "lateral" else None


class ChexpertAdapter(FindingsTableAdapter):
    name = "chexpert"
    default_config = {**IMAGE_CONFIG, "valid_split": "val", "carve_fraction": 0.1,
                      "carve_seed": 0, "views": None}

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        valid_split = str(self.config["valid_split"])
        if valid_split not in ("val", "test"):
            raise RecordError(raw_dir, f"valid_split {valid_split!r} is not val or test")
        carved = "test" if valid_split == "val" else "val"
        root = find_root(raw_dir, TABLES["train"])
        findings = self.entry.task("findings").classes
        prefix = "" if root == raw_dir else relative(root, raw_dir) + "/"
        items = []
        for part, name in TABLES.items():
            path = root / name
            if not path.is_file():
                raise RecordError(relative(path, raw_dir), "label table not found")
            table = read_table(path, [*COLUMNS, *findings], relative(path, raw_dir))
            columns = [table[c].tolist() for c in [*COLUMNS, *findings]]
            for image, sex, age, frontal, ap_pa, *values in zip(*columns, strict=True):
                parts = PurePosixPath(image.strip()).parts
                if len(parts) < 4 or not parts[-3].startswith("patient"):
                    raise RecordError(relative(path, raw_dir),
                                      "a Path is not <release>/<split>/patientN/studyN/<view>.jpg")
                view = view_of(frontal, ap_pa)
                if not wanted_view(view, self.config["views"]):
                    continue
                patient, study = parts[-3], parts[-2]
                if part == "valid":
                    split = valid_split
                else:
                    split = carved_split(patient, float(self.config["carve_fraction"]),
                                         int(self.config["carve_seed"]), carved)
                items.append(Item(
                    source=prefix + "/".join(parts[1:]),
                    key="_".join([patient, study, PurePosixPath(parts[-1]).stem]),
                    info={"patient_id": patient, "study_id": f"{patient}/{study}",
                          "split": split, "view": view, "sex": normalize_sex(sex),
                          "age_bucket": age_bucket(age.strip() or None),
                          "labels": dict(zip(findings, values, strict=True))},
                ))
        return items

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        info = item.info
        yield findings_record(self, raw_dir, item, info["patient_id"], info["study_id"],
                              meta_keys=("view", "sex", "age_bucket"))


ADAPTER = ChexpertAdapter
