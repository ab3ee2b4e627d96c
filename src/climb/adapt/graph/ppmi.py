"""ppmi: Parkinson's Progression Markers Initiative structural (DTI) brain networks,
Parkinson's disease vs healthy control (as BrainGB).

PPMI data are restricted (LONI IDA, PPMI Data Use Agreement) and PPMI publishes DTI images,
not connectivity matrices, so the layout read here is ASSUMED, not checked against a download:

- ``Participant_Status.csv`` (PPMI's study-data table): ``PATNO`` and ``COHORT`` (1
  Parkinson's disease, 2 healthy control; 3 SWEDD and 4 prodromal are not in the task and are
  left out); optionally ``Demographics.csv`` with ``PATNO`` and ``SEX`` (0 female, 1 male);
- one ROI x ROI structural connectivity matrix per scan in ``connectomes/``, named
  ``<PATNO>.<ext>`` or ``<PATNO>_<visit or anything>.<ext>`` (ext ``.mat``, ``.npy``,
  ``.npz``, ``.csv``, ``.tsv``, ``.txt``; read by :func:`climb.read.graph.read_matrix`; a
  ``.mat`` with several 2-D variables needs config ``matrix_key``). BrainGB's PPMI networks
  are 84 x 84 (Desikan-Killiany + subcortical) tractography matrices.

Graph as every connectome adapter (dense, ``x`` = matrix rows; see
:mod:`climb.adapt.graph._common`). Split: none official; deterministic subject-level 70/10/20
split stratified by cohort, every scan of a subject (several visits) in one split.
"""

from __future__ import annotations

from pathlib import Path

from climb.adapt.graph._common import ConnectomeAdapter, read_table

COHORT = {"1": "pd", "2": "control"}
SEX = {"0": "female", "1": "male"}


class PpmiAdapter(ConnectomeAdapter):
    name = "ppmi"
    table = "Participant_Status.csv"
    subject_columns = ("PATNO",)
    task = "parkinsons"

    def _subjects(self, raw_dir: Path):
        column, rows = super()._subjects(raw_dir)
        demographics = Path(raw_dir) / "Demographics.csv"
        if demographics.is_file():
            frame = read_table(demographics, ("PATNO", "SEX"))
            sex = {
                str(p).strip(): str(s).strip() for p, s in zip(frame.PATNO, frame.SEX, strict=True)
            }
            for row in rows:
                row["SEX"] = sex.get(str(row[column]).strip(), "")
        return column, rows

    def label_of(self, row: dict[str, str]) -> str | None:
        return COHORT.get(str(row.get("COHORT", "")).strip())

    def sex_of(self, row: dict[str, str]) -> str | None:
        return SEX.get(str(row.get("SEX", "")).strip())


ADAPTER = PpmiAdapter
