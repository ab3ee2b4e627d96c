"""abcd: ABCD Study resting-state functional connectomes, sex classification (as BrainGB).

ABCD data are restricted (NIMH Data Archive, Data Use Certification) and no ROI x ROI matrix
release is public, so the layout read here is ASSUMED, not checked against a download:

- a subject table ``participants.csv`` (or ``.tsv``) with the NDA subject GUID in
  ``subjectkey`` (NDA's column name, e.g. ``NDAR_INV0A1B2C3D``) or ``participant_id`` (the
  ABCD-BIDS Community Collection's ``sub-NDARINV...``), ``sex`` as NDA codes it (``M`` / ``F``;
  anything else is left out) and optionally ``site`` (``site_id_l`` in the NDA tables) and
  ``interview_age`` (months, NDA's field; turned into a decade bucket of years);
- one ROI x ROI connectivity matrix per scan in ``connectomes/``, named ``<subject>.<ext>`` or
  ``<subject>_<anything>.<ext>`` (e.g. a session), ext ``.npy``, ``.npz``, ``.mat``, ``.csv``,
  ``.tsv`` or ``.txt`` (read by :func:`climb.read.graph.read_matrix`; BrainGB used the
  HCP-MMP1 parcellation, 360 ROIs, Pearson correlations of the resting-state series).

Graph as every connectome adapter (dense, ``x`` = matrix rows; see
:mod:`climb.adapt.graph._common`). Split: none official; deterministic subject-level 70/10/20
split stratified by sex, every scan of a subject in one split.
"""

from __future__ import annotations

from climb.adapt.graph._common import ConnectomeAdapter
from climb.record import normalize_sex


class AbcdAdapter(ConnectomeAdapter):
    name = "abcd"
    table = "participants.csv"
    subject_columns = ("subjectkey", "participant_id")
    task = "sex"
    site_column = "site"

    def _subjects(self, raw_dir):
        if not (raw_dir / self.table).is_file() and (raw_dir / "participants.tsv").is_file():
            self.table = "participants.tsv"
        return super()._subjects(raw_dir)

    def label_of(self, row: dict[str, str]) -> str | None:
        return normalize_sex(row.get("sex"))

    def sex_of(self, row: dict[str, str]) -> str | None:
        return normalize_sex(row.get("sex"))

    def age_of(self, row: dict[str, str]) -> float | None:
        try:
            return float(row["interview_age"]) / 12.0
        except (KeyError, TypeError, ValueError):
            return None


ADAPTER = AbcdAdapter
