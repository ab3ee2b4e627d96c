"""Evaluation: metrics, patient-level bootstrap CIs, subgroups and robustness of a run.

Entry points: :func:`climb.evaluate.run.evaluate_run` (RUN -> metrics.json document),
:func:`climb.evaluate.run.paired_bootstrap` (two runs, one test set),
:func:`climb.evaluate.robustness.robustness_sweep` and ``corruptions_for``; the CLI is
``climb evaluate`` (:mod:`climb.evaluate.commands`).
"""
