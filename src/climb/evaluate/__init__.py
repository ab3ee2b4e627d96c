"""Evaluation: metrics, patient-level bootstrap CIs, subgroups and robustness of a run.

Entry points: :func:`climb.evaluate.run.evaluate_run` (RUN -> metrics.json document),
:func:`climb.evaluate.run.paired_bootstrap` (two runs, one test set),
:func:`climb.evaluate.robustness.robustness_sweep` and ``corruptions_for``; the CLI is
``climb evaluate`` (:mod:`climb.evaluate.commands`); cross-dataset shift is
:func:`climb.evaluate.shift.shift_evaluate`.
"""

# Subgroups smaller than this (samples) are reported but never named the worst group (here,
# not in groups.py, so that the CLI can show the default without importing scikit-learn).
DEFAULT_MIN_GROUP_SIZE = 30
