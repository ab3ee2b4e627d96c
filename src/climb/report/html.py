"""Assemble the report: index.html (self-contained but for PNGs beside it) and report.md."""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass
from pathlib import Path

from climb.report import plots
from climb.report.runs import RunInfo
from climb.report.subsets import FIGURE as SUBSET_FIGURE
from climb.report.subsets import modality_subset_plot, modality_subset_table
from climb.report.tables import (
    Table,
    delta_table,
    drpo_table,
    fewshot_table,
    fusion_table,
    modality_drop_table,
    overview_table,
    robustness_table,
    shift_table,
    subgroup_table,
)

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2rem auto;
       max-width: 1180px; color: #1d2329; line-height: 1.45; padding: 0 1rem; }
h1 { font-size: 1.7rem; margin-bottom: .2rem; }
h2 { font-size: 1.25rem; border-bottom: 2px solid #d8dee4; padding-bottom: .25rem;
     margin-top: 2.2rem; }
.sub { color: #57606a; margin-top: 0; }
table { border-collapse: collapse; font-size: .82rem; margin: .6rem 0; width: 100%; }
th, td { border: 1px solid #d0d7de; padding: .28rem .5rem; text-align: left;
         vertical-align: top; }
th { background: #f3f5f7; }
tr:nth-child(even) td { background: #fafbfc; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.note { color: #57606a; font-size: .85rem; }
.empty { color: #8c6d1f; background: #fff8e1; border: 1px solid #f0d98c; padding: .5rem .8rem;
         border-radius: 4px; }
img { max-width: 100%; border: 1px solid #d8dee4; border-radius: 4px; margin: .4rem 0; }
.worst td { background: #fdecea !important; }
nav a { margin-right: 1rem; }
"""


@dataclass
class Section:
    """One report section: a table and optionally a figure."""

    anchor: str
    title: str
    intro: str
    table: Table
    figure: str | None = None  # PNG file name beside index.html


def build_sections(
    runs: list[RunInfo], out: Path, split: str, n_resamples: int, seed: int
) -> list[Section]:
    """Compute every table and draw every figure into ``out``."""
    delta = delta_table(runs, split, n_resamples, seed)
    fewshot = fewshot_table(runs)
    fusion = fusion_table(runs)
    robust = robustness_table(runs)
    figures = {
        "delta": plots.delta_plot(delta.records, out / "delta.png"),
        "fewshot": plots.fewshot_plot(fewshot.records, out / "fewshot.png"),
        "fusion": plots.fusion_plot(fusion.records, out / "fusion.png"),
        "robustness": plots.robustness_plot(robust.records, out / "robustness.png"),
    }

    def name(key: str) -> str | None:
        return figures[key].name if figures[key] else None

    return [
        Section(
            "runs",
            "Runs",
            f"Headline metric of each task on the {split} split with 95% bootstrap CIs "
            "over patients (over samples where the test set holds a single patient: see the "
            "CI unit column).",
            overview_table(runs),
        ),
        Section(
            "delta",
            "Multitask vs single-task",
            "Per dataset and task, the multitask run minus the single-task run.",
            delta,
            name("delta"),
        ),
        *_drpo_sections(runs, split, n_resamples, seed),
        Section(
            "fewshot", "Few-shot curves", "Metric vs shots per class (k).", fewshot, name("fewshot")
        ),
        Section(
            "fusion",
            "Fusion comparison",
            "Headline metric per fusion method.",
            fusion,
            name("fusion"),
        ),
        *_subset_sections(runs, out),
        Section(
            "robustness",
            "Robustness",
            "Metric vs corruption severity (0 = clean).",
            robust,
            name("robustness"),
        ),
        Section(
            "modality-drop",
            "Modality drop",
            "Metric with each input masked out.",
            modality_drop_table(runs),
        ),
        Section(
            "subgroups",
            "Subgroups",
            "Headline metric with 95% bootstrap CIs per site, sex, age bucket and dataset; "
            "the worst group only among groups large enough to rank.",
            subgroup_table(runs),
        ),
        Section(
            "shift",
            "Cross-dataset shift",
            "Each run's model on other datasets that share its harmonized labels, against "
            "its in-distribution test set.",
            shift_table(runs),
        ),
    ]


def _drpo_sections(runs: list[RunInfo], split: str, n_resamples: int, seed: int
                   ) -> list[Section]:
    """The DRPO on/off section, only when the runs include such a pair."""
    table = drpo_table(runs, split, n_resamples, seed)
    if not table.rows:
        return []
    return [Section("drpo", "Multitask: DRPO on vs off",
                    "Per task, the multitask run with DRPO domain reweighting minus the same "
                    "run without it.", table)]


def _subset_sections(runs: list[RunInfo], out: Path) -> list[Section]:
    """The modality-combination section, only when the runs include a modality-subset study."""
    table = modality_subset_table(runs)
    if not table.rows:
        return []
    figure = modality_subset_plot(table.records, out / SUBSET_FIGURE)
    return [Section("modality-subsets", "Modality combinations",
                    "Headline metric with its 95% bootstrap CI for the model trained on each "
                    "non-empty subset of its inputs (climb train --modality-subsets).", table,
                    figure.name if figure else None)]


def _looks_numeric(cell: str) -> bool:
    head = cell.split(" ")[0].lstrip("<-").strip()
    return bool(head) and head.replace(".", "", 1).isdigit()


def table_html(table: Table) -> str:
    if not table.rows:
        return f'<p class="empty">{html.escape(table.note or "no data")}</p>'
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.columns)
    body = []
    for row in table.rows:
        cls = ' class="worst"' if table.title == "Subgroups" and row[-1] else ""
        cells = "".join(
            f'<td class="num">{html.escape(c)}</td>'
            if _looks_numeric(c)
            else f"<td>{html.escape(c)}</td>"
            for c in row
        )
        body.append(f"<tr{cls}>{cells}</tr>")
    note = f'<p class="note">{html.escape(table.note)}</p>' if table.note else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{note}"


def render_html(sections: list[Section], runs: list[RunInfo], split: str) -> str:
    nav = " ".join(f'<a href="#{s.anchor}">{html.escape(s.title)}</a>' for s in sections)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>climb report</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>climb evaluation report</h1>",
        f'<p class="sub">{len(runs)} run(s): {html.escape(", ".join(r.name for r in runs))} '
        f"&middot; split {html.escape(split)} &middot; generated "
        f"{dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}</p>",
        f"<nav>{nav}</nav>",
    ]
    for s in sections:
        parts.append(f'<section id="{s.anchor}"><h2>{html.escape(s.title)}</h2>')
        parts.append(f"<p>{html.escape(s.intro)}</p>")
        if s.figure:
            parts.append(f'<img src="{html.escape(s.figure)}" alt="{html.escape(s.title)}">')
        parts.append(table_html(s.table))
        parts.append("</section>")
    notes = [f"{r.name}: {n}" for r in runs for n in r.notes]
    if notes:
        items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
        parts.append(f'<section id="notes"><h2>Notes</h2><ul class="note">{items}</ul></section>')
    parts.append("</body></html>")
    return "\n".join(parts)


def render_markdown(sections: list[Section], runs: list[RunInfo], split: str) -> str:
    lines = [
        "# climb evaluation report",
        "",
        f"Runs: {', '.join(r.name for r in runs)}; split: {split}.",
        "",
    ]
    for s in sections:
        lines += [f"## {s.title}", "", s.intro, ""]
        if s.figure:
            lines += [f"![{s.title}]({s.figure})", ""]
        lines += [s.table.to_markdown(), ""]
    return "\n".join(lines)


def write_report(
    runs: list[RunInfo],
    out: str | Path,
    split: str = "test",
    n_resamples: int = 1000,
    seed: int = 0,
    extra_sections: list[Section] | None = None,
) -> Path:
    """Write ``out/index.html``, ``out/report.md`` and the PNGs; return the HTML path.

    ``extra_sections`` (e.g. ``climb demo``'s imaging section, whose figure the caller drew
    into ``out``) are appended after the standard ones."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("delta.png", "fewshot.png", "fusion.png", "robustness.png", SUBSET_FIGURE):
        (out / stale).unlink(missing_ok=True)
    sections = build_sections(runs, out, split, n_resamples, seed) + list(extra_sections or [])
    (out / "report.md").write_text(render_markdown(sections, runs, split))
    index = out / "index.html"
    index.write_text(render_html(sections, runs, split))
    return index
