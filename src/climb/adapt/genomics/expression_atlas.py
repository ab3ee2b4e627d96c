"""EMBL-EBI Expression Atlas experiments, one record per sequencing run (assay).

Layout of one experiment download (``https://www.ebi.ac.uk/gxa/experiments-content/<ACC>/
resources/...``, also on the Atlas FTP ``.../atlas/experiments/<ACC>/``):

- ``<ACC>-raw-counts.tsv`` (or ``<ACC>-tpms.tsv`` with one column per run): ``Gene ID``,
  ``Gene Name``, then one numeric column per run;
- ``<ACC>-experiment-design.tsv``: ``Run``, ``Sample Characteristic[<name>]``,
  ``Sample Characteristic Ontology Term[<name>]``, ``Factor Value[<name>]``,
  ``Factor Value Ontology Term[<name>]``, ``Analysed``.

The adapter config ``experiments`` says, per accession, which factor is the label and
(optionally) which characteristic identifies the individual::

    {"E-GEOD-50760": {"label": "disease", "patient": "individual"}}

Runs with ``Analysed`` = "No" are skipped; classes go through harmonize/mappings/
expression_atlas.yaml. An experiment without a config entry is quarantined, not guessed.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from climb.adapt.base import Adapter, Item
from climb.errors import RecordError
from climb.read.table import read_expression_matrix
from climb.record import Input, Record, age_bucket, normalize_sex

MATRIX_SUFFIXES = ("-raw-counts.tsv", "-tpms.tsv")
DESIGN_SUFFIX = "-experiment-design.tsv"


def years(value: str | None) -> float | None:
    """Age in years from "45", "45 year", "45 years" (other units -> None)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    words = str(value).split()
    if not words:
        return None
    if len(words) > 1 and not words[1].lower().startswith("year"):
        return None
    try:
        return float(words[0])
    except ValueError:
        return None


def design_column(design: pd.DataFrame, name: str) -> str | None:
    """The ``Factor Value[name]`` or ``Sample Characteristic[name]`` column of a design."""
    for kind in ("Factor Value", "Sample Characteristic"):
        col = f"{kind}[{name}]"
        if col in design.columns:
            return col
    return None


class ExpressionAtlasAdapter(Adapter):
    name = "expression_atlas"
    default_config = {"experiments": {}, "task": "case_control"}

    def items(self, raw_dir: Path) -> list[Item]:
        items = []
        for design in sorted(Path(raw_dir).rglob(f"*{DESIGN_SUFFIX}")):
            acc = design.name[: -len(DESIGN_SUFFIX)]
            matrix = next(
                (
                    design.with_name(acc + s)
                    for s in MATRIX_SUFFIXES
                    if design.with_name(acc + s).exists()
                ),
                None,
            )
            if matrix is None:
                raise RecordError(design, f"no {acc}-raw-counts.tsv or {acc}-tpms.tsv beside it")
            rel = matrix.relative_to(raw_dir).as_posix()
            items.append(
                Item(source=rel, key=acc, info={"design": design.relative_to(raw_dir).as_posix()})
            )
        if not items:
            raise RecordError(raw_dir, f"no <accession>{DESIGN_SUFFIX} files")
        return items

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        raw_dir = Path(raw_dir)
        spec = self.config["experiments"].get(item.key)
        design_path = raw_dir / item.info["design"]
        if spec is None:
            raise RecordError(
                design_path,
                f"experiment {item.key} has no entry in the adapter "
                "config 'experiments' (which factor is the label?)",
            )
        try:
            design = pd.read_csv(design_path, sep="\t", dtype=str)
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
            raise RecordError(design_path, f"bad experiment design table: {err}") from None
        if "Run" not in design.columns:
            raise RecordError(design_path, "no 'Run' column")
        label_col = design_column(design, spec["label"])
        if label_col is None:
            raise RecordError(design_path, f"no factor or characteristic {spec['label']!r}")
        patient_col = design_column(design, spec["patient"]) if spec.get("patient") else None
        sex_col = design_column(design, "sex")
        age_col = design_column(design, "age")
        if "Analysed" in design.columns:
            design = design[design["Analysed"].str.lower() != "no"]
        matrix = read_expression_matrix(raw_dir / item.source)
        missing = sorted(set(design["Run"]) - set(matrix.samples))
        if missing:
            raise RecordError(raw_dir / item.source, f"runs {missing[:3]} of the design missing")
        task = self.config["task"]
        mapper = self.mapper(task)
        for row in design.itertuples(index=False):
            row = dict(zip(design.columns, row, strict=True))
            run = row["Run"]
            patient = row[patient_col] if patient_col and pd.notna(row[patient_col]) else run
            yield Record(
                sample_id=f"{item.key}-{run}",
                dataset=self.name,
                modality="gene_expression",
                patient_id=f"{item.key}-{patient}",
                study_id=item.key,
                inputs={
                    "expression": Input(
                        data=np.ascontiguousarray(matrix.column(run)),
                        units="raw counts" if item.source.endswith("-raw-counts.tsv") else "TPM",
                    )
                },
                labels={task: mapper.multiclass(row[label_col])},
                meta={
                    "site": item.key,
                    "sex": normalize_sex(row[sex_col]) if sex_col else None,
                    "age_bucket": age_bucket(years(row[age_col])) if age_col else None,
                    "source_file": item.source,
                },
            ).validate()


ADAPTER = ExpressionAtlasAdapter
