"""Patient-level bootstrap confidence intervals and paired bootstrap comparisons.

Resampling works on *weights*: one resample draws the patients with replacement and gives
each sample the number of times its patient was drawn, so a patient with many samples moves
in or out of a resample as a whole (samples of one patient are correlated; resampling them
one by one would make intervals too narrow). Weights go straight into the vectorized metric
functions of :mod:`climb.evaluate.metrics`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0
# Resample rows evaluated at once; bounds memory to about CHUNK_ELEMENTS float64 per array.
CHUNK_ELEMENTS = 4_000_000
# Rejected resamples (estimand undefined) redrawn at most this many times ``n_resamples``.
MAX_REDRAW_FACTOR = 9


def resample_weights(
    groups: np.ndarray, n_resamples: int, seed: int = DEFAULT_SEED, chunk: int | None = None
) -> Iterator[np.ndarray]:
    """Yield bootstrap weight blocks ``[b, N]`` (float64 counts), ``n_resamples`` rows in all.

    ``groups`` holds one unit id per sample (patient ids for a patient-level bootstrap, the
    sample ids themselves for a sample-level one). The stream is deterministic given ``seed``.
    """
    _, inverse = np.unique(np.asarray(groups).astype(str), return_inverse=True)
    n_units = int(inverse.max()) + 1 if len(inverse) else 0
    rng = np.random.default_rng(seed)
    if chunk is None:
        chunk = max(1, CHUNK_ELEMENTS // max(1, len(inverse)))
    done = 0
    while done < n_resamples:
        b = min(chunk, n_resamples - done)
        counts = rng.multinomial(n_units, np.full(n_units, 1.0 / n_units), size=b)
        yield counts[:, inverse].astype(np.float64)
        done += b


def bootstrap_distribution(
    statistic: Callable[[np.ndarray], dict[str, np.ndarray]],
    groups: np.ndarray,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> dict[str, np.ndarray]:
    """Run ``statistic(W) -> {name: [b] or [b, C]}`` over all resample blocks and stack the rows."""
    return bootstrap_with_redraws(statistic, groups, n_resamples, seed)[0]


def bootstrap_with_redraws(
    statistic: Callable[[np.ndarray], dict[str, np.ndarray]],
    groups: np.ndarray,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    accept: Callable[[np.ndarray], np.ndarray] | None = None,
    max_redraws: int | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, int | bool]]:
    """Like :func:`bootstrap_distribution`, keeping only resamples where ``accept(W)`` holds.

    ``accept`` maps a weight block ``[b, N]`` to a boolean ``[b]``; a rejected resample is
    redrawn from the same stream (a cluster bootstrap conditioned on the estimand being
    defined, e.g. every class of the fixed class set having positives and negatives). At most
    ``max_redraws`` (default ``MAX_REDRAW_FACTOR * n_resamples``) resamples are redrawn; when
    that bound is hit the distribution holds fewer than ``n_resamples`` rows and the returned
    info says ``complete: False``. Info: ``{drawn, redrawn, kept, complete}``.
    """
    _, inverse = np.unique(np.asarray(groups).astype(str), return_inverse=True)
    n_units = int(inverse.max()) + 1 if len(inverse) else 0
    rng = np.random.default_rng(seed)
    chunk = max(1, CHUNK_ELEMENTS // max(1, len(inverse)))
    limit = n_resamples + (MAX_REDRAW_FACTOR * n_resamples if max_redraws is None else max_redraws)
    parts: dict[str, list[np.ndarray]] = {}
    kept = drawn = redrawn = 0
    while kept < n_resamples and drawn < limit and n_units > 0:
        b = min(chunk, n_resamples - kept, limit - drawn)
        counts = rng.multinomial(n_units, np.full(n_units, 1.0 / n_units), size=b)
        W = counts[:, inverse].astype(np.float64)
        drawn += b
        if accept is not None:
            ok = np.asarray(accept(W), dtype=bool)
            redrawn += int(b - ok.sum())
            W = W[ok]
        if len(W) == 0:
            continue
        for name, values in statistic(W).items():
            parts.setdefault(name, []).append(values)
        kept += len(W)
    info = {"drawn": drawn, "redrawn": redrawn, "kept": kept, "complete": kept >= n_resamples}
    return {name: np.concatenate(v, axis=0) for name, v in parts.items()}, info


def percentile_ci(samples: np.ndarray, level: float = 0.95) -> tuple[float | None, float | None]:
    """Percentile interval of the defined (non-NaN) bootstrap values; (None, None) if none."""
    values = np.asarray(samples, dtype=np.float64)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return None, None
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(values, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def two_sided_p(diffs: np.ndarray) -> float | None:
    """Two-sided bootstrap p-value for "the difference is 0".

    ``p = min(1, 2 * min(P(d <= 0), P(d >= 0)))`` over the defined bootstrap differences
    ``d``: twice the share of resamples on the far side of zero from the bulk. It is the
    smallest two-sided level at which the percentile interval excludes 0.
    """
    d = np.asarray(diffs, dtype=np.float64)
    d = d[~np.isnan(d)]
    if d.size == 0:
        return None
    return float(min(1.0, 2.0 * min(np.mean(d <= 0), np.mean(d >= 0))))


def summarize(point: float, samples: np.ndarray, level: float = 0.95) -> dict:
    """``{value, ci: [lo, hi], n_boot}`` for one metric (NaN point -> value None)."""
    lo, hi = percentile_ci(samples, level)
    value = None if point is None or np.isnan(point) else float(point)
    n_boot = int(np.sum(~np.isnan(np.asarray(samples, dtype=np.float64))))
    return {"value": value, "ci": [lo, hi], "n_boot": n_boot}
