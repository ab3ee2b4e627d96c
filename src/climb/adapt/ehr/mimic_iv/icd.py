"""ICD diagnosis codes of MIMIC-IV's ``hosp/diagnoses_icd``: chapters and the top-k code space.

MIMIC-IV mixes ICD-9-CM (admissions before Oct 2015) and ICD-10-CM codes (``icd_version``).
Codes are normalized (trimmed, upper case, no dot) and kept **per version**: ``ICD9:4019`` and
``ICD10:I10`` are distinct classes. No ICD-9 -> ICD-10 code map is applied: the CMS GEMs are
many-to-many and no well-kept Python library ships them, so a code-level crosswalk would be
climb's own guess. Chapters (:func:`icd_chapter`) do map ICD-9 ranges onto ICD-10-CM chapters,
a coarse grouping that is well defined.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

_ICD9_RANGES = (  # (last 3-digit code of the ICD-9-CM chapter, ICD-10-CM chapter)
    (139, "A00-B99"), (239, "C00-D49"), (278, "E00-E89"), (289, "D50-D89"),
    (319, "F01-F99"), (359, "G00-G99"), (379, "H00-H59"), (389, "H60-H95"),
    (459, "I00-I99"), (519, "J00-J99"), (579, "K00-K95"), (629, "N00-N99"),
    (679, "O00-O9A"), (709, "L00-L99"), (739, "M00-M99"), (759, "Q00-Q99"),
    (779, "P00-P96"), (799, "R00-R99"), (999, "S00-T88"),
)  # fmt: skip
_ICD10_LETTERS = {
    "A": "A00-B99", "B": "A00-B99", "C": "C00-D49", "E": "E00-E89", "F": "F01-F99",
    "G": "G00-G99", "I": "I00-I99", "J": "J00-J99", "K": "K00-K95", "L": "L00-L99",
    "M": "M00-M99", "N": "N00-N99", "O": "O00-O9A", "P": "P00-P96", "Q": "Q00-Q99",
    "R": "R00-R99", "S": "S00-T88", "T": "S00-T88", "U": "U00-U85", "V": "V00-Y99",
    "W": "V00-Y99", "X": "V00-Y99", "Y": "V00-Y99", "Z": "Z00-Z99",
}  # fmt: skip

#: DuckDB expression of the normalized class name of a diagnoses_icd row (see the module doc).
CODE_SQL = (
    "'ICD' || CAST(coalesce(icd_version, 10) AS VARCHAR) || ':' || "
    "upper(replace(trim(icd_code), '.', ''))"
)


def normalize_code(code: str, version: int | None) -> str:
    """``ICD<version>:<CODE>``: trimmed, upper case, dot removed (version 10 when missing)."""
    return f"ICD{int(version or 10)}:{str(code).strip().upper().replace('.', '')}"


def split_code(name: str) -> tuple[str, int]:
    """``ICD9:4019`` -> (``4019``, 9)."""
    version, code = name.split(":", 1)
    return code, int(version.removeprefix("ICD"))


def icd_chapter(code: str, version: int) -> str | None:
    """ICD-10-CM chapter (catalog class) of one diagnosis code; None when not recognized.

    ICD-9-CM codes map by chapter range (001-139 infectious ... 800-999 injury, E -> external
    causes, V -> factors influencing health status; 279 immunity -> D50-D89 as in ICD-10).
    """
    code = str(code).strip().upper().replace(".", "")
    if not code:
        return None
    if int(version) == 9:
        if code[0] == "V":
            return "Z00-Z99"
        if code[0] == "E":
            return "V00-Y99"
        if not code[:3].isdigit():
            return None
        number = int(code[:3])
        return next((chapter for last, chapter in _ICD9_RANGES if number <= last), None)
    letter = code[0]
    if letter in ("D", "H"):
        if not code[1:3].isdigit():
            return None
        number = int(code[1:3])
        if letter == "D":
            return "C00-D49" if number < 50 else "D50-D89"
        return "H00-H59" if number < 60 else "H60-H95"
    return _ICD10_LETTERS.get(letter)


def chapters_of(codes: Iterable[str]) -> list[str]:
    """Sorted distinct chapters of normalized codes (``ICD10:I10`` ...); unknown ones dropped."""
    out = set()
    for name in codes:
        chapter = icd_chapter(*split_code(name))
        if chapter is not None:
            out.add(chapter)
    return sorted(out)


def top_codes(counts: Counter[str], k: int) -> list[str]:
    """The ``k`` most frequent codes of ``counts`` (ties broken by code, for determinism)."""
    return [code for code, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:k]]


def top_icd_codes(
    codes_by_admission: dict[int, list[tuple[str, int]]], admissions: Iterable[int], k: int
) -> list[str]:
    """The ``k`` most frequent ``ICD<version>:<code>`` among ``admissions`` (each counted once
    per admission; ties broken by code). Pass the training admissions only."""
    counts: Counter[str] = Counter()
    for hadm in admissions:
        counts.update({normalize_code(c, v) for c, v in codes_by_admission.get(hadm, [])})
    return top_codes(counts, k)
