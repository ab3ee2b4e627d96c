"""A conservative check for protected health information (PHI) in free text.

Text inputs of sources that their publisher did not de-identify (instruction data written
from article figures, clinician-written questions, exam vignettes) pass through
:func:`check_text` before a record is made. A hit raises :class:`climb.errors.RecordError`
naming the source, the *kind* of PHI and the *field*; the text itself is never copied into a
message, a log or the manifest, so `prepare` quarantines the record with a PHI-free reason.

What counts as a hit (HIPAA Safe Harbor elements that a pattern can recognise reliably):

- ``date``: a full date (``03/14/2019``, ``2019-03-14``, ``14.03.2019``) or a month name
  with a day (``March 14``, ``14 March 2019``); a year alone, a month alone and ranges such
  as ``120/80`` are not dates;
- ``phone number``: ``(555) 123-4567``, ``555-123-4567``, ``555.123.4567``;
- ``SSN``: ``123-45-6789``;
- ``email address``;
- ``URL``: any ``http(s)://`` or ``www.`` address (one may carry a name);
- ``record number``: an MRN-like id after its keyword (``MRN: 1234567``, ``medical record
  number 12345``, ``patient ID 4471``, ``account #99812``).

De-identification placeholders are fine and are removed before matching: MIMIC-III's
``[**...**]`` (whose content is already shifted), MIMIC-IV's ``___`` and Open-i's ``XXXX``.

Why regular expressions and not a library: Microsoft Presidio needs a spaCy language model
(hundreds of MB fetched at run time) and a recogniser registry for what amounts to these same
patterns plus named-entity guesses that are too noisy on clinical vocabulary to quarantine
on; scrubadub replaces rather than detects and is no longer actively released. The patterns
here are few, auditable and tested, and the check must run inside every pool worker.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from climb.errors import RecordError

_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_MONTH_NUM = r"(?:0?[1-9]|1[0-2])"
_UNIT_AFTER = r"(?!\s*(?:mg|mcg|ml|mL|mm|cm|kg|g\b|%|years?|yrs?|days?|weeks?|hours?|hrs?))"

#: kind -> pattern; month names are case-sensitive ("may" is a verb), the rest not.
PATTERNS: dict[str, re.Pattern[str]] = {
    "date": re.compile(
        rf"(?<![\d/.-]){_MONTH_NUM}([/-]){_DAY}\1(?:\d{{4}}|\d{{2}})(?![\d/-])"  # 3/14/2019
        rf"|(?<![\d/.-]){_DAY}([/.-]){_MONTH_NUM}\2(?:19|20)\d{{2}}(?![\d/.-])"  # 14.03.2019
        rf"|(?<![\d/.-])(?:19|20)\d{{2}}([/.-]){_MONTH_NUM}\3{_DAY}(?![\d/.-])"  # 2019-03-14
        rf"|\b{_MONTH}\.?\s+{_DAY}(?:st|nd|rd|th)?\b{_UNIT_AFTER}"  # March 14
        rf"|\b{_DAY}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}\b"  # 14 March
    ),
    "SSN": re.compile(r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])"),
    "phone number": re.compile(
        r"\(\d{3}\)\s?\d{3}[-.\s]\d{4}(?!\d)|(?<![\d-])\d{3}([-.])\d{3}\1\d{4}(?![\d-])"
    ),
    "email address": re.compile(r"\b[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+\b"),
    "URL": re.compile(r"\bhttps?://\S+|\bwww\.[A-Za-z0-9-]+\.\S+", re.IGNORECASE),
    "record number": re.compile(
        r"\b(?:MRN|MR\s?#|medical\s+record\s+(?:number|no\.?|#)|record\s+(?:number|no\.?|#)"
        r"|patient\s+(?:id|identifier|number|no\.?|#)|account\s+(?:number|no\.?|#)|acct\.?)"
        r"\s*(?:is\s+)?[:#.]?\s*[A-Z0-9-]*\d{3,}",
        re.IGNORECASE,
    ),
}

#: De-identification placeholders (removed before matching).
PLACEHOLDERS = re.compile(r"\[\*\*.*?\*\*\]|_{2,}|X{2,}", re.DOTALL)


def phi_kinds(text: str) -> list[str]:
    """The kinds of PHI found in ``text`` (sorted, each once; [] when clean)."""
    if not text:
        return []
    scrubbed = PLACEHOLDERS.sub(" ", text)
    return sorted(kind for kind, pattern in PATTERNS.items() if pattern.search(scrubbed))


def phi_findings(fields: Mapping[str, str | None]) -> dict[str, list[str]]:
    """``{field: [kinds]}`` for the fields of one record that hold PHI (clean ones absent)."""
    found = {}
    for name, text in fields.items():
        kinds = phi_kinds(text or "")
        if kinds:
            found[name] = kinds
    return found


def check_text(source: str, fields: Mapping[str, str | None]) -> None:
    """Raise ``RecordError(source, ...)`` naming the PHI kinds and fields found in ``fields``
    (``{field name: text}``); the text is never part of the message."""
    found = phi_findings(fields)
    if found:
        where = "; ".join(f"{', '.join(kinds)} in field {name!r}" for name, kinds in found.items())
        raise RecordError(source, f"possible protected health information ({where})")
