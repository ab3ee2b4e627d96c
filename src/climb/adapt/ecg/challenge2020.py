"""Shared logic of the PhysioNet/CinC Challenge 2020/2021 12-lead ECG layout.

Each record is a WFDB header ``NAME.hea`` plus a MATLAB v4 signal file ``NAME.mat``; labels and
demographics are header comments::

    #Age: 74            (a number, or NaN)
    #Sex: Male          (Male / Female / Unknown)
    #Dx: 164889003,59118001   (SNOMED-CT codes, comma-separated)

The tarballs extract to one folder per source (``WFDB_CPSC2018/``, ``WFDB_Ga/``,
``WFDB_ChapmanShaoxing/``; the 2021 PhysioNet copy nests them as ``training/<source>/gN/``);
:meth:`ChallengeAdapter.items` walks every ``*.hea`` below the raw root, so any of these
layouts works. The task ``climb7`` maps every Dx code through the dataset's mapping table into
climb_ecg7: a code the table does not list is a RecordError for that record (quarantined),
never a silent "Other". There is no official split and no patient id beyond the record (one
recording per patient), so ``split`` is None and ``patient_id`` is the record name.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

from climb.adapt.base import Adapter, Item
from climb.adapt.ecg import ecg_windows
from climb.errors import LabelMappingError, RecordError
from climb.read.wfdb import read_wfdb
from climb.record import Record, age_bucket, normalize_sex


def parse_comments(lines: Iterable[str]) -> dict[str, str]:
    """``{"age": ..., "sex": ..., "dx": ...}`` from Challenge header comment lines."""
    out: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.lstrip("#").strip().partition(":")
        if sep:
            out[key.strip().lower()] = value.strip()
    return out


def header_comments(header: Path) -> list[str]:
    """The ``#`` lines of a WFDB header (text only; no samples are read)."""
    try:
        text = header.read_text(encoding="latin-1")
    except OSError as err:
        raise RecordError(header, f"cannot read header: {err}") from None
    return [line.strip() for line in text.splitlines() if line.strip().startswith("#")]


def dx_codes(value: str | None) -> list[str]:
    """SNOMED-CT codes of a ``#Dx:`` value (empty when absent)."""
    if not value:
        return []
    return [code.strip() for code in value.split(",") if code.strip()]


class ChallengeAdapter(Adapter):
    """Base class of the Challenge-layout ECG adapters (subclasses set ``name`` and ``site``)."""

    site: ClassVar[str]
    default_config: ClassVar[dict[str, Any]] = {"fs": 500.0, "window_s": 10.0, "windows": "first"}

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        headers = sorted(raw_dir.rglob("*.hea"))
        if not headers:
            raise RecordError(raw_dir, f"no WFDB headers (*.hea) found for {self.name}")
        items = []
        for header in headers:
            fields = parse_comments(header_comments(header))
            source = header.relative_to(raw_dir).with_suffix("").as_posix()
            items.append(
                Item(
                    source=source,
                    key=header.stem,
                    info={
                        "codes": dx_codes(fields.get("dx")),
                        "age_bucket": age_bucket(fields.get("age")),
                        "sex": normalize_sex(fields.get("sex")),
                    },
                )
            )
        return items

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        header = f"{item.source}.hea"
        codes = item.info["codes"]
        if not codes:
            raise RecordError(header, "no '#Dx:' SNOMED-CT codes in the header")
        try:
            climb7 = self.mapper("climb7").multilabel_from_positives(codes)
        except LabelMappingError as err:
            raise RecordError(header, str(err)) from None
        signal = read_wfdb(Path(raw_dir) / item.source)
        for start, ecg, signal_meta in ecg_windows(signal, header, self.config):
            suffix = "" if start == 0 else f"-w{int(start)}"
            yield Record(
                sample_id=f"{item.key}{suffix}",
                dataset=self.name,
                modality="ecg",
                patient_id=item.key,
                study_id=item.key,
                split=None,
                inputs={"ecg": ecg},
                labels={"climb7": climb7},
                meta={
                    "site": self.site,
                    "age_bucket": item.info["age_bucket"],
                    "sex": item.info["sex"],
                    "source_file": item.source,
                    **signal_meta,
                },
            ).validate()
