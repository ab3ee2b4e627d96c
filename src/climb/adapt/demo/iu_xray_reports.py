"""demo_iu_xray_reports: Indiana University chest X-ray reports (Open-i), text only (bundled).

Layout: ``NLMCXR_reports.tgz`` holding ``ecgen-radiology/<n>.xml``, one report per file, with
``<AbstractText Label="FINDINGS|IMPRESSION|INDICATION|COMPARISON">`` and ``<MeSH>`` terms
(``<major>`` / ``<automatic>``, "Heading/qualifier/..."). The input ``text`` is findings +
impression (the reports are already de-identified; their ``XXXX`` placeholders are kept).
The multilabel task ``findings`` comes from the MeSH headings through the mapping table:
mentioned classes are 1, the rest 0; a report indexed only as "No Indexing" is unknown (NaN).
Reports with neither findings nor impression have no input and are skipped.
"""

from __future__ import annotations

import tarfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from climb.adapt.base import Adapter, Item
from climb.errors import RecordError
from climb.record import Input, Record

ARCHIVE = "NLMCXR_reports.tgz"
NO_INDEXING = "no indexing"


def mesh_heading(term: str) -> str:
    """``"Pulmonary Atelectasis/base/left"`` -> ``"pulmonary atelectasis"``."""
    return " ".join(term.split("/")[0].split()).lower()


def parse_report(xml_bytes: bytes) -> dict:
    """uId, findings, impression, indication and MeSH headings of one report XML."""
    root = ET.fromstring(xml_bytes)
    uid = root.find("uId")
    if uid is None or not uid.get("id"):
        raise ValueError("no <uId id=...>")
    sections = {
        (a.get("Label") or "").upper(): " ".join((a.text or "").split())
        for a in root.iter("AbstractText")
    }
    headings = sorted(
        {mesh_heading(el.text or "") for mesh in root.iter("MeSH") for el in mesh} - {""}
    )
    return {
        "uid": uid.get("id"),
        "findings": sections.get("FINDINGS", ""),
        "impression": sections.get("IMPRESSION", ""),
        "headings": headings,
    }


def report_text(findings: str, impression: str) -> str:
    parts = []
    if findings:
        parts.append(f"FINDINGS: {findings}")
    if impression:
        parts.append(f"IMPRESSION: {impression}")
    return "\n".join(parts)


class IuXrayReportsAdapter(Adapter):
    name = "demo_iu_xray_reports"

    def items(self, raw_dir: Path) -> list[Item]:
        """One item per report; the archive is small, so the parsed report rides in the item."""
        archive = Path(raw_dir) / ARCHIVE
        items = []
        try:
            with tarfile.open(archive, "r:gz") as tar:
                for member in tar:
                    if not (member.isfile() and member.name.endswith(".xml")):
                        continue
                    source = f"{ARCHIVE}/{member.name}"
                    try:
                        info = parse_report(tar.extractfile(member).read())
                    except (ET.ParseError, ValueError) as err:
                        # load() raises it, so prepare quarantines this report only
                        items.append(Item(source, member.name, {"error": str(err)}))
                        continue
                    if not (info["findings"] or info["impression"]):
                        continue
                    items.append(Item(source=source, key=info["uid"], info=info))
        except (OSError, tarfile.TarError, EOFError) as err:
            raise RecordError(archive, f"cannot read report archive: {err}") from None
        return items

    def labels(self, headings: list[str]) -> np.ndarray:
        mapper = self.mapper("findings")
        if headings == [NO_INDEXING]:
            return np.full(len(mapper.classes), np.nan, dtype=np.float32)
        return mapper.multilabel_from_positives(headings)

    def load(self, raw_dir: Path, item: Item) -> Iterable[Record]:
        if "error" in item.info:
            raise RecordError(item.source, f"bad report XML: {item.info['error']}")
        info = item.info
        yield Record(
            sample_id=info["uid"],
            dataset=self.name,
            modality="text",
            patient_id=f"iu-{info['uid']}",
            study_id=info["uid"],
            inputs={
                "text": Input(
                    data=report_text(info["findings"], info["impression"]), encoding="text"
                )
            },
            labels={"findings": self.labels(info["headings"])},
            meta={"source_file": item.source},
        ).validate()


ADAPTER = IuXrayReportsAdapter
