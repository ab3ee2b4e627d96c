"""Peak memory of the MIMIC-IV adapter's aggregation as labevents grows (out-of-core check).

    python benches/ehr_memory.py [--rows 2000000] [--scales 1,10] [--memory-limit 1GB]

Writes a synthetic MIMIC-IV layout per scale (``rows x scale`` labevents rows, gzipped CSV with
the official columns; one admission per 200 lab rows, two admissions per patient; 8 of the lab
itemids in the default item set, the rest outside it; a third of the rows before admission or
after 48 h), then, in a child process, runs ``MimicIvAdapter.items()`` (the whole DuckDB pass
into the Parquet work cache) and streams every record (``records()``: iter_batches over the
cache), and reports the child's peak RSS (its ``resource.getrusage`` ru_maxrss), its wall
time, and the size of the gzipped labevents.

If memory grew with the table, 10x rows would need about 10x RSS; out of core it stays near the
DuckDB ``memory_limit`` plus the list of items (a small object per admission, which grows
with admissions, not with event rows).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

CHILD = """
import resource, sys
from climb.adapt.ehr.mimic_iv import MimicIvAdapter
def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
adapter = MimicIvAdapter(config={"work_dir": sys.argv[2], "memory_limit": sys.argv[3]})
adapter.ensure_cache(sys.argv[1])
after_pass = peak()
n = sum(1 for _ in adapter.records(sys.argv[1]))
print(n, after_pass, peak())
"""

LAB_ITEMS = [50912, 50971, 50983, 50902, 50882, 51006, 50931, 51222, 51000, 51001, 51002, 51003]


def write_layout(root: Path, rows: int) -> Path:
    """A synthetic MIMIC-IV hosp/ layout with ``rows`` labevents rows (DuckDB COPY, gzip)."""
    hosp = root / "hosp"
    hosp.mkdir(parents=True, exist_ok=True)
    n_adm = max(1, rows // 200)
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute(f"""
        COPY (SELECT 10000000 + i // 2 AS subject_id, 20000000 + i AS hadm_id,
                     TIMESTAMP '2150-01-01' + to_hours(i * 7) AS admittime,
                     TIMESTAMP '2150-01-01' + to_hours(i * 7 + 24 + i % 150) AS dischtime,
                     CASE WHEN i % 13 = 0 THEN TIMESTAMP '2150-01-01' + to_hours(i * 7 + 24
                          + i % 150) END AS deathtime,
                     'EW EMER.' AS admission_type,
                     CASE WHEN i % 13 = 0 THEN 1 ELSE 0 END AS hospital_expire_flag
              FROM range({n_adm}) t(i))
        TO '{hosp / "admissions.csv.gz"}' (HEADER, COMPRESSION gzip)""")
    con.execute(f"""
        COPY (SELECT 10000000 + i AS subject_id, CASE WHEN i % 2 = 0 THEN 'F' ELSE 'M' END
                     AS gender, 20 + i % 72 AS anchor_age, 2150 AS anchor_year,
                     '2011 - 2013' AS anchor_year_group, NULL AS dod
              FROM range({(n_adm + 1) // 2}) t(i))
        TO '{hosp / "patients.csv.gz"}' (HEADER, COMPRESSION gzip)""")
    con.execute(f"""
        COPY (SELECT 10000000 + i // 2 AS subject_id, 20000000 + i AS hadm_id, 1 AS seq_num,
                     list_extract(['I10', 'N179', 'A419', 'E119', '4019'], 1 + i % 5)
                         AS icd_code,
                     CASE WHEN i % 5 = 4 THEN 9 ELSE 10 END AS icd_version
              FROM range({n_adm}) t(i))
        TO '{hosp / "diagnoses_icd.csv.gz"}' (HEADER, COMPRESSION gzip)""")
    items = ", ".join(str(i) for i in LAB_ITEMS)
    con.execute(f"""
        COPY (SELECT i AS labevent_id, 10000000 + (i // 200) // 2 AS subject_id,
                     20000000 + i // 200 AS hadm_id, i // 3 AS specimen_id,
                     list_extract([{items}], 1 + i % {len(LAB_ITEMS)}) AS itemid,
                     NULL AS order_provider_id,
                     TIMESTAMP '2150-01-01' + to_hours((i // 200) * 7 - 6)
                         + to_minutes(i % 200 * 23) AS charttime,
                     TIMESTAMP '2150-01-01' + to_hours((i // 200) * 7) AS storetime,
                     CAST(round(hash(i) % 1000 / 100.0, 2) AS VARCHAR) AS value,
                     round(hash(i) % 1000 / 100.0, 2) AS valuenum, 'mg/dL' AS valueuom,
                     0.5 AS ref_range_lower, 1.2 AS ref_range_upper, NULL AS flag,
                     'ROUTINE' AS priority, NULL AS comments
              FROM range({rows}) t(i))
        TO '{hosp / "labevents.csv.gz"}' (HEADER, COMPRESSION gzip)""")
    con.close()
    return root


def run_child(raw: Path, cache: Path, memory_limit: str) -> tuple[float, float, float, int]:
    """(peak RSS MiB after the DuckDB pass, peak RSS MiB of the whole child, wall seconds,
    records) of one items() + records() run.

    The child reports its own ``getrusage(RUSAGE_SELF).ru_maxrss`` (KiB on Linux)."""
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(raw), str(cache), memory_limit],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    wall = time.perf_counter() - start
    n, pass_kib, peak_kib = out.stdout.strip().splitlines()[-1].split()
    return int(pass_kib) / 1024.0, int(peak_kib) / 1024.0, wall, int(n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="labevents rows at 1x")
    parser.add_argument("--scales", default="1,10")
    parser.add_argument("--memory-limit", default="256MB", help="DuckDB memory_limit")
    args = parser.parse_args()
    scales = [int(s) for s in args.scales.split(",")]
    print(f"DuckDB memory_limit {args.memory_limit}")
    print("| scale | labevents rows | gz MiB | records | peak RSS MiB, DuckDB pass | "
          "peak RSS MiB, whole run | wall s |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="climb-ehr-bench-") as tmp:
        for scale in scales:
            rows = args.rows * scale
            raw = write_layout(Path(tmp) / f"x{scale}", rows)
            size = (raw / "hosp" / "labevents.csv.gz").stat().st_size / 2**20
            at_pass, rss, wall, n = run_child(raw, Path(tmp) / f"cache{scale}",
                                              args.memory_limit)
            print(f"| {scale}x | {rows:,} | {size:.0f} | {n:,} | {at_pass:.0f} | {rss:.0f} | "
                  f"{wall:.1f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
