"""abide: ABIDE I functional connectomes (Di Martino et al. 2014), autism vs typical control,
from the Preprocessed Connectomes Project (PCP) release.

Layout (http://preprocessed-connectomes-project.org/abide/download.html, S3 bucket
fcp-indi/data/Projects/ABIDE_Initiative): ``Phenotypic_V1_0b_preprocessed1.csv`` (SUB_ID,
SITE_ID, FILE_ID, DX_GROUP 1 autism / 2 control, AGE_AT_SCAN, SEX 1 male / 2 female) and the
ROI time series ``Outputs/<pipeline>/<strategy>/rois_<atlas>/<FILE_ID>_rois_<atlas>.1D``
anywhere under the raw root (FILE_ID such as ``Pitt_0050003``; where the column is absent or
``no_filename``, ``<SITE_ID>_<SUB_ID 7 digits>``). A ``.1D`` file is whitespace-separated
text, one row per volume, one column per ROI, a ``#`` header line of ROI labels.
Config ``atlas`` (default ``cc200``) picks the files. Precomputed matrices are read instead
where a subject has no series: ``connectomes/<FILE_ID>[_<anything>].<ext>`` (any format of
:func:`climb.read.graph.read_matrix`). Subjects with neither are left out.

The connectivity matrix is computed here, with numpy: Pearson correlation between the ROI
time series (``np.corrcoef`` over volumes), as BrainGB does; an ROI whose series is
constant (no signal) gets correlation 0 with every ROI (noted in ``meta.notes``). Then the
graph as every connectome adapter (:mod:`climb.adapt.graph._common`: dense, ``x`` = rows).

Split: none official; deterministic 70/10/20 subject-level split stratified by site and
diagnosis (``split_seed``; ``stratify: diagnosis`` for diagnosis only). Meta: site, sex,
decade age bucket.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from climb.adapt.base import Item
from climb.adapt.graph._common import ConnectomeAdapter, read_table, stratified_split
from climb.errors import RecordError
from climb.record import normalize_sex
from climb.split import SplitConfig

PHENOTYPIC = "Phenotypic_V1_0b_preprocessed1.csv"
DX = {"1": "asd", "2": "control"}
SEX = {"1": "male", "2": "female"}


def read_1d(path: Path) -> np.ndarray:
    """float64 [volumes, ROIs] of an AFNI ``.1D`` ROI time-series file, checked."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            series = np.loadtxt(path, comments="#", ndmin=2, dtype=np.float64)
    except ValueError:
        raise RecordError(path, "not a numeric table (rows of equal length)") from None
    except (OSError, UnicodeDecodeError) as err:
        raise RecordError(path, f"cannot read ({type(err).__name__})") from None
    if series.shape[0] < 3 or series.shape[1] < 2:
        raise RecordError(path, f"{series.shape[0]} volumes x {series.shape[1]} ROIs: too few")
    if not np.isfinite(series).all():
        raise RecordError(path, "non-finite values in the time series")
    return series


def correlation_matrix(series: np.ndarray) -> tuple[np.ndarray, int]:
    """Pearson correlation [ROIs, ROIs] of time series [volumes, ROIs]; constant ROIs get 0
    (diagonal included). Returns the matrix and the number of constant ROIs."""
    flat = series.std(axis=0) == 0
    with np.errstate(invalid="ignore", divide="ignore"):
        matrix = np.corrcoef(series, rowvar=False)
    matrix[flat, :] = 0.0
    matrix[:, flat] = 0.0
    return np.clip(matrix, -1.0, 1.0), int(flat.sum())


class AbideAdapter(ConnectomeAdapter):
    name = "abide"
    table = PHENOTYPIC
    subject_columns = ("SUB_ID",)
    task = "asd"
    site_column = "SITE_ID"
    age_column = "AGE_AT_SCAN"
    default_config: ClassVar[dict[str, Any]] = {
        **ConnectomeAdapter.default_config,
        "atlas": "cc200",
        "stratify": "site",
    }

    def label_of(self, row: dict[str, str]) -> str | None:
        return DX.get(str(row.get("DX_GROUP", "")).strip())

    def sex_of(self, row: dict[str, str]) -> str | None:
        return normalize_sex(SEX.get(str(row.get("SEX", "")).strip()))

    @staticmethod
    def file_id(row: dict[str, str]) -> str:
        file_id = str(row.get("FILE_ID") or "").strip()
        if file_id and file_id != "no_filename":
            return file_id
        sub = str(row["SUB_ID"]).strip()
        return f"{str(row['SITE_ID']).strip()}_{sub.zfill(7) if sub.isdigit() else sub}"

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        rows = read_table(raw_dir / PHENOTYPIC, ("SUB_ID", "SITE_ID", "DX_GROUP")).to_dict(
            "records"
        )
        atlas = str(self.config["atlas"])
        if not re.fullmatch(r"[A-Za-z0-9]+", atlas):
            raise ValueError(f"atlas must be a plain name such as cc200, got {atlas!r}")
        suffix = f"_rois_{atlas}.1D"
        files = {p.name[: -len(suffix)]: p for p in sorted(raw_dir.rglob(f"*{suffix}"))}
        if (raw_dir / self.matrix_dir).is_dir():  # precomputed matrices, where no series
            matrices = self.matrix_files(raw_dir, {self.file_id(row) for row in rows})
            for file_id, paths in matrices.items():
                files.setdefault(file_id, paths[0])
        chosen = []
        for row in rows:
            label = self.label_of(row)
            path = files.get(self.file_id(row))
            subject = str(row["SUB_ID"]).strip()
            if label is None or path is None or not subject:
                continue
            chosen.append((subject, label, row, path))
        config = SplitConfig.from_config(self.config)
        strata = [
            (lab, str(row["SITE_ID"]).strip() if self.config["stratify"] == "site" else "")
            for _, lab, row, _ in chosen
        ]
        splits = stratified_split([c[0] for c in chosen], strata, config.ratios, config.seed)
        return [
            Item(
                source=path.relative_to(raw_dir).as_posix(),
                key=self.file_id(row),
                info={
                    "subject": subject,
                    "label": label,
                    "split": splits[subject],
                    "sex": self.sex_of(row),
                    "site": str(row["SITE_ID"]).strip(),
                    "age": row.get("AGE_AT_SCAN"),
                },
            )
            for subject, label, row, path in chosen
        ]

    def read(self, raw_dir: Path, item: Item) -> tuple[np.ndarray, str | None]:
        if not item.source.endswith(".1D"):
            return super().read(raw_dir, item)
        matrix, flat = correlation_matrix(read_1d(Path(raw_dir) / item.source))
        note = f"{flat} constant ROI time series (correlation set to 0)" if flat else None
        return matrix, note


ADAPTER = AbideAdapter
