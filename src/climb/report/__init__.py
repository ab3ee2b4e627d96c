"""Reports over run directories: tables, PNG plots, one HTML page and report.md.

Entry point: :func:`climb.report.html.write_report`; the CLI is ``climb report``. The report
computes no metric itself: numbers come from metrics.json / robustness.json, or from
climb.evaluate (paired bootstrap deltas, runs without a full metrics.json).
"""
