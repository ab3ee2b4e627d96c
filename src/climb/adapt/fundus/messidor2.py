"""Messidor-2 (Decencière et al. 2014; ADCIS): 874 diabetic-retinopathy examinations of two
macula-centred fundus photographs each, with the adjudicated grades of Krause et al. 2018.

Layout: the ADCIS download (https://www.adcis.net/en/third-party/messidor2/) and the grades
of the Kaggle dataset google-brain/messidor2-dr-grades (its messidor_readme.txt)::

    IMAGES/<image>                 20051020_43808_0100_PP.png (Messidor part), IM002385.JPG (Brest)
    messidor-2.csv                 left;right - one examination (two eyes) per row (ADCIS)
    messidor_data.csv              image_id,adjudicated_dr_grade,adjudicated_dme,
                                   adjudicated_gradable (Kaggle; image_id is the file name)

Task ``dr_grade``: ``adjudicated_dr_grade`` (ICDR 0-4) through
harmonize/mappings/messidor2.yaml into ``dr_grade5``. Images with ``adjudicated_gradable`` 0
have no grade and are left out (the catalog's 1,744 gradable images); a gradable image with a
blank or unknown grade is quarantined. The DME grade is not carried. Meta: laterality (the
``left`` / ``right`` column of messidor-2.csv), source file.

Split: none official. The two eyes of an examination are grouped: ``study_id`` =
``exam-<left image stem>``, and `prepare`'s seeded hash (``split_seed``, ``split_ratios``;
80/10/10) keeps each examination in one split. messidor-2.csv is required for that; an image
in no examination row is quarantined. ADCIS publishes no patient id beyond the examination.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from climb.adapt.base import Adapter, Item
from climb.adapt.imaging import map_label
from climb.adapt.photo import (
    PHOTO_CONFIG,
    find_file,
    index_images,
    photo_record,
    read_table,
)
from climb.errors import RecordError
from climb.record import Record

GRADES = "messidor_data.csv"
PAIRS = "messidor-2.csv"
IMAGES = "IMAGES"
COLUMNS = ("image_id", "adjudicated_dr_grade", "adjudicated_gradable")


def _stem(name: str) -> str:
    return Path(name.strip()).stem


def _number(text: str) -> str:
    """``"2.0"`` -> ``"2"`` (grades and flags may be written as floats); other text unchanged."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        return text
    return str(int(value)) if value.is_integer() else text


def read_examinations(path: Path, source: str) -> dict[str, tuple[str, str]]:
    """{image stem: (examination id, "left" | "right")} from ADCIS's ``messidor-2.csv``
    (semicolon separated ``left;right``; the first two columns if the header differs)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise RecordError(source, f"cannot read the examination list ({type(err).__name__})") \
            from None
    lines = [line.split(";") for line in text.splitlines() if line.strip()]
    if not lines or len(lines[0]) < 2:
        raise RecordError(source, "examination list is not 'left;right' rows")
    header = [c.strip().lower() for c in lines[0]]
    has_header = {"left", "right"} <= set(header)
    left, right = (header.index("left"), header.index("right")) if has_header else (0, 1)
    out: dict[str, tuple[str, str]] = {}
    for number, cells in enumerate(lines[1:] if has_header else lines, start=2):
        if len(cells) <= max(left, right) or not cells[left].strip() or not cells[right].strip():
            raise RecordError(source, f"line {number}: not a 'left;right' pair")
        exam = f"exam-{_stem(cells[left])}"
        out[_stem(cells[left])] = (exam, "left")
        out[_stem(cells[right])] = (exam, "right")
    return out


class Messidor2Adapter(Adapter):
    name = "messidor2"
    default_config = dict(PHOTO_CONFIG)

    def items(self, raw_dir: Path) -> list[Item]:
        raw_dir = Path(raw_dir)
        grades_path = find_file(raw_dir, [GRADES])
        pairs_path = find_file(raw_dir, [PAIRS])
        images_dir = find_file(raw_dir, [IMAGES])
        table = read_table(grades_path, COLUMNS, grades_path.relative_to(raw_dir).as_posix())
        exams = read_examinations(pairs_path, pairs_path.relative_to(raw_dir).as_posix())
        images = index_images(images_dir, raw_dir)
        folder = images_dir.relative_to(raw_dir).as_posix()
        items = []
        for row in table.itertuples(index=False):
            if _number(row.adjudicated_gradable) == "0":
                continue  # ungradable: no adjudicated grade (documented exclusion)
            stem = _stem(row.image_id)
            exam, side = exams.get(stem, ("", ""))
            items.append(Item(source=images.get(stem, f"{folder}/{row.image_id.strip()}"),
                              key=stem, info={"grade": _number(row.adjudicated_dr_grade),
                                              "exam": exam, "laterality": side}))
        return items

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        info = item.info
        if not info["grade"]:
            raise RecordError(item.source, "gradable image without an adjudicated_dr_grade")
        label = map_label(self.mapper("dr_grade"), info["grade"], item.source)
        if not info["exam"]:
            raise RecordError(item.source, f"image is in no examination row of {PAIRS}")
        yield photo_record(self, raw_dir, item, {"dr_grade": label}, study_id=info["exam"],
                           meta={"laterality": info["laterality"]})


ADAPTER = Messidor2Adapter
