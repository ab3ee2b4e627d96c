"""Pieces shared by the chest X-ray findings adapters: reading the publishers' label tables
(plain or gzipped CSV), the view filter, turning a label dict into the ``cxr14`` vector
(and ``FindingsTableAdapter.labels`` for items carrying a table row), decoding one
radiograph (through :func:`climb.adapt.imaging.decode_image`), and building one findings
Record."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from climb.adapt.base import Adapter
from climb.adapt.imaging import decode_image
from climb.errors import LabelMappingError, RecordError
from climb.harmonize import LabelMapper
from climb.read.dicom_image import read_dicom_header
from climb.record import Input, Record


def table_path(root: Path, name: str) -> Path:
    """``root/name`` or ``root/name.gz`` (PhysioNet ships the MIMIC tables gzipped)."""
    for candidate in (Path(root) / name, Path(root) / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise RecordError(Path(root) / name, "label table not found (plain or .gz)")


def read_table(path: Path, required: Iterable[str], source: str | None = None) -> pd.DataFrame:
    """A publisher's CSV as strings (blank cells stay ""), checked for ``required`` columns."""
    name = source or str(path)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as err:  # pandas/gzip raise many types on bad bytes
        raise RecordError(name, f"cannot read the CSV table ({type(err).__name__})") from None
    table.columns = [str(c).strip() for c in table.columns]
    missing = sorted(set(required) - set(table.columns))
    if missing:
        raise RecordError(name, f"missing columns {missing}")
    return table


def wanted_view(view: str | None, views: Iterable[str] | None) -> bool:
    """True when ``views`` (config ``views``: None keeps every image) holds ``view``."""
    return views is None or (view or "") in {str(v).upper() for v in views}


def findings_vector(mapper: LabelMapper, values: Mapping[str, Any], source: str) -> np.ndarray:
    """The harmonized float32 vector of {native finding: 1 | 0 | -1 | blank}; a value or a
    finding the mapping does not know quarantines the image (RecordError)."""
    try:
        return mapper.multilabel_from_values(values)
    except LabelMappingError as err:
        raise RecordError(source, str(err)) from None


class FindingsTableAdapter(Adapter):
    """An adapter whose items carry their native findings in ``item.info["labels"]`` (a
    {finding: value} row of the publisher's label table)."""

    def labels(self, item: Any) -> dict[str, np.ndarray]:
        """The harmonized labels of one item, from the tables alone (no pixels)."""
        return {"findings": findings_vector(self.mapper("findings"), item.info["labels"],
                                            item.source)}


def refuse_burned_in_annotation(path: Path, source: str) -> None:
    """RecordError when a DICOM declares BurnedInAnnotation "YES": its pixels may carry
    identifying text that no header scrubbing removes. Reads the header only; the message
    never quotes a header value."""
    try:
        header = read_dicom_header(path, ["BurnedInAnnotation"])
    except RecordError as err:  # the reader names the absolute path; name the source
        raise RecordError(source, err.problem) from None
    if (header["BurnedInAnnotation"] or "").upper() == "YES":
        raise RecordError(source, "DICOM declares burned-in annotation (identifying text may "
                                  "be in the pixels); config burned_in_annotation: keep "
                                  "prepares it anyway")


def decode_radiograph(path: Path, source: str, config: Mapping[str, Any]) -> Input:
    """One JPEG/PNG or single-frame DICOM radiograph -> ``uint8`` ``size`` x ``size`` (mode
    "L") image Input through :func:`climb.adapt.imaging.decode_image` (DICOM: modality LUT,
    the file's VOI LUT or first window, else min-max, MONOCHROME1 inverted). Errors name
    ``source``."""
    return decode_image(path, source, config, resample="lanczos")


def findings_record(adapter: Any, raw_dir: Path, item: Any, patient_id: str,
                    study_id: str | None = None,
                    meta_keys: tuple[str, ...] = ("view",)) -> Record:
    """The validated ``chest_xray`` Record of one findings item: ``adapter.labels(item)``, the
    decoded radiograph, ``item.info["split"]``, and meta ``meta_keys`` (from ``item.info``)
    plus ``source_file``."""
    info = item.info
    labels = adapter.labels(item)
    image = decode_radiograph(Path(raw_dir) / item.source, item.source, adapter.config)
    return Record(
        sample_id=item.key,
        dataset=adapter.name,
        modality="chest_xray",
        patient_id=patient_id,
        study_id=study_id,
        split=info["split"],
        inputs={"image": image},
        labels=labels,
        meta={**{key: info[key] for key in meta_keys}, "source_file": item.source},
    ).validate()
