"""Exports of a prepared store for other trainers: QA JSONL (QoQ-Med, LLaVA), label tables."""

from climb.export.qa import FORMATS, export_qa
from climb.export.table import TABLE_FORMATS, export_table, label_table

__all__ = ["FORMATS", "TABLE_FORMATS", "export_qa", "export_table", "label_table"]
