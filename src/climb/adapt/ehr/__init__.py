"""EHR dataset adapters: MIMIC-IV (hosp/icu module CSVs -> one tabular record per admission).

EHR tables are far larger than memory (MIMIC-IV labevents: >100 million rows), so adapters
here aggregate with out-of-core engines (DuckDB over the gzipped CSVs) in ``items()`` and
never load an event table whole.
"""
