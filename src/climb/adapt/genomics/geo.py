"""GEO: curated Gene Expression Omnibus series, one record per sample.

Layout: ``<GSE>_series_matrix.txt.gz`` (the NCBI download
``https://ftp.ncbi.nlm.nih.gov/geo/series/<GSEnnn>/<GSE>/matrix/<GSE>_series_matrix.txt.gz``),
read by :func:`climb.read.table.read_series_matrix`. Each series needs an entry in the
adapter config ``series``::

    {"GSE12345": {"label": "disease state",       # characteristics key, or a !Sample_ field
                  "patient": "patient id"}}        # optional characteristics key

The class comes from that field through the mapping table (harmonize/mappings/geo.yaml);
the patient is the given characteristic where present, else the sample (GSM) itself. A
series matrix without a config entry is quarantined (RecordError), not guessed.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from climb.adapt.base import Adapter, Item
from climb.adapt.genomics.expression_atlas import years
from climb.errors import RecordError
from climb.read.table import read_series_matrix
from climb.record import Input, Record, age_bucket, normalize_sex

SUFFIXES = ("_series_matrix.txt.gz", "_series_matrix.txt")


def sample_field(matrix, characteristics: list[dict[str, str]], field: str) -> list[str | None]:
    """Per-sample values of a characteristics key or of a single ``!Sample_<field>`` line."""
    key = field.lower()
    if any(key in c for c in characteristics):
        return [c.get(key) for c in characteristics]
    if field in matrix.samples:
        return list(matrix.samples[field])
    return [None] * len(characteristics)


class GeoAdapter(Adapter):
    name = "geo"
    default_config = {"series": {}, "task": "case_control"}

    def items(self, raw_dir: Path) -> list[Item]:
        items = []
        for path in sorted(Path(raw_dir).rglob("*_series_matrix.txt*")):
            name = path.name
            suffix = next((s for s in SUFFIXES if name.endswith(s)), None)
            if suffix is None:
                continue
            series = name[: -len(suffix)]
            rel = path.relative_to(raw_dir).as_posix()
            items.append(Item(source=rel, key=series))
        if not items:
            raise RecordError(raw_dir, "no <GSE>_series_matrix.txt[.gz] files")
        return items

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        path = Path(raw_dir) / item.source
        spec = self.config["series"].get(item.key)
        if spec is None:
            raise RecordError(
                path,
                f"series {item.key} has no entry in the adapter config "
                "'series' (which characteristic is the label?)",
            )
        sm = read_series_matrix(path)
        chars = sm.characteristics()
        labels = sample_field(sm, chars, spec["label"])
        if all(v is None for v in labels):
            raise RecordError(path, f"no sample field or characteristic {spec['label']!r}")
        if spec.get("patient"):
            patients = sample_field(sm, chars, spec["patient"])
        else:
            patients = [None] * len(labels)
        sexes = sample_field(sm, chars, spec.get("sex", "sex"))
        if all(s is None for s in sexes):
            sexes = sample_field(sm, chars, "gender")
        ages = sample_field(sm, chars, spec.get("age", "age"))
        platform = sm.samples.get("platform_id", [None] * len(labels))
        task = self.config["task"]
        mapper = self.mapper(task)
        for j, gsm in enumerate(sm.matrix.samples):
            patient = patients[j] or gsm
            yield Record(
                sample_id=gsm,
                dataset=self.name,
                modality="gene_expression",
                patient_id=f"{item.key}-{patient}",
                study_id=item.key,
                inputs={
                    "expression": Input(
                        data=np.ascontiguousarray(sm.matrix.values[:, j]),
                        units=spec.get("units", "series matrix VALUE"),
                    )
                },
                labels={task: mapper.multiclass(labels[j])},
                meta={
                    "site": item.key,
                    "device": platform[j],
                    "sex": normalize_sex(sexes[j]),
                    "age_bucket": age_bucket(years(ages[j])),
                    "source_file": item.source,
                },
            ).validate()


ADAPTER = GeoAdapter
