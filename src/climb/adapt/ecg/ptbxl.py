"""PTB-XL (v1.0.3): 21,799 10-s 12-lead ECGs from 18,869 patients.

Layout (the PhysioNet zip, extracted under the raw root, with or without its top folder)::

    ptbxl_database.csv   one row per ECG: ecg_id, patient_id, age, sex, site, device, scp_codes,
                         strat_fold, filename_lr, filename_hr, ... (dates/report never read)
    scp_statements.csv   the 71 SCP-ECG statements, with diagnostic flag and diagnostic_class
    records500/NNNNN/NNNNN_hr.{hea,dat}   500 Hz WFDB records  (config records="records500")
    records100/NNNNN/NNNNN_lr.{hea,dat}   100 Hz WFDB records  (config records="records100")

Tasks: ``superclass`` (the diagnostic_class of every diagnostic statement in scp_codes,
multilabel over NORM/MI/STTC/CD/HYP; a record without diagnostic statements is all-NaN) and
``climb7`` (every statement through harmonize/mappings/ptbxl.yaml into climb_ecg7). Split:
strat_fold 1-8 train, 9 val, 10 test (patient-stratified by the dataset authors). Age 300
(PTB-XL's code for > 89 years) buckets to "90+"; sex 0 = male, 1 = female.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from climb.adapt.base import Adapter, Item
from climb.adapt.ecg import ecg_windows
from climb.errors import LabelMappingError, RecordError
from climb.read.wfdb import read_wfdb
from climb.record import Record, age_bucket, normalize_sex

DATABASE = "ptbxl_database.csv"
STATEMENTS = "scp_statements.csv"
SEX = {0: "male", 1: "female"}


def fold_split(fold: int) -> str:
    """Official split of a strat_fold: 1-8 train, 9 val, 10 test."""
    return "test" if fold == 10 else "val" if fold == 9 else "train"


def find_root(raw_dir: Path) -> Path:
    """The folder holding ptbxl_database.csv: ``raw_dir`` or one of its direct subfolders."""
    raw_dir = Path(raw_dir)
    if (raw_dir / DATABASE).exists():
        return raw_dir
    found = sorted(p.parent for p in raw_dir.glob(f"*/{DATABASE}"))
    if not found:
        raise RecordError(raw_dir / DATABASE, "PTB-XL database table not found")
    return found[0]


class PtbxlAdapter(Adapter):
    name = "ptbxl"
    default_config = {"records": "records500", "fs": 500.0, "window_s": 10.0, "windows": "first"}

    def items(self, raw_dir: Path) -> list[Item]:
        root = find_root(raw_dir)
        prefix = root.relative_to(Path(raw_dir)).as_posix()
        db = pd.read_csv(root / DATABASE)
        statements = pd.read_csv(root / STATEMENTS, index_col=0)
        diagnostic = statements[statements["diagnostic"] == 1]["diagnostic_class"].to_dict()
        column = "filename_hr" if self.config["records"] == "records500" else "filename_lr"
        items = []
        for row in db.itertuples(index=False):
            codes = ast.literal_eval(row.scp_codes)
            source = f"{prefix}/{getattr(row, column)}" if prefix != "." else getattr(row, column)
            items.append(
                Item(
                    source=source,
                    key=f"{int(row.ecg_id):05d}",
                    info={
                        "patient_id": str(int(row.patient_id)),
                        "split": fold_split(int(row.strat_fold)),
                        "codes": sorted(codes),
                        "superclasses": sorted({diagnostic[c] for c in codes if c in diagnostic}),
                        "age_bucket": age_bucket(row.age),
                        "sex": SEX.get(int(row.sex)) if pd.notna(row.sex) else normalize_sex(None),
                        "site": None if pd.isna(row.site) else str(int(row.site)),
                        "device": None if pd.isna(row.device) else str(row.device).strip(),
                    },
                )
            )
        return items

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        signal = read_wfdb(Path(raw_dir) / item.source)
        header = f"{item.source}.hea"
        info = item.info
        try:
            climb7 = self.mapper("climb7").multilabel_from_positives(info["codes"])
            if info["superclasses"]:
                superclass = self.mapper("superclass").multilabel_from_positives(
                    info["superclasses"]
                )
            else:  # no diagnostic statement: the superclasses are unknown, not negative
                superclass = np.full(len(self.mapper("superclass").classes), np.nan, np.float32)
        except LabelMappingError as err:
            raise RecordError(header, str(err)) from None
        for start, ecg, signal_meta in ecg_windows(signal, header, self.config):
            suffix = "" if start == 0 else f"-w{int(start)}"
            yield Record(
                sample_id=f"{item.key}{suffix}",
                dataset=self.name,
                modality="ecg",
                patient_id=info["patient_id"],
                study_id=item.key,
                split=info["split"],
                inputs={"ecg": ecg},
                labels={"superclass": superclass, "climb7": climb7},
                meta={
                    "age_bucket": info["age_bucket"],
                    "sex": info["sex"],
                    "site": info["site"],
                    "device": info["device"],
                    "source_file": item.source,
                    **signal_meta,
                },
            ).validate()


ADAPTER = PtbxlAdapter
