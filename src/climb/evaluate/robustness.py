"""Robustness: input corruptions at 5 severities, sweeps, modality drop, cross-site splits.

A corruption is ``fn(x, severity, rng) -> x'`` on one *batched* input (the batch format of
docs/interfaces.md: images ``[B, C, H, W]``, signals ``[B, C, T]``, volumes ``[B, D, H, W]``
or video ``[B, T, ...]``, tabular ``[B, F]``, text ``list[str]``, graphs a
``torch_geometric`` batch). Severity 0 returns the input unchanged; 1-5 get harsher. Torch
tensors come back as tensors of the same dtype/device, numpy arrays as numpy arrays; the
result depends only on the input, the severity and the random generator.

Summary numbers (see :func:`relative_robustness`, :func:`effective_robustness`):

* relative robustness = normalized area under the metric-vs-severity curve (severity 0 = the
  clean metric): ``RR = (1 / S) * integral_0^S m(s) / m(0) ds`` by the trapezoid rule; 1.0
  means no degradation at any severity, 0.5 means on average half the clean metric.
* effective robustness = the model's robustness minus the robustness a *baseline* (a
  late-fusion or unimodal model) has at the same clean metric (Taori et al. 2020). See
  :func:`effective_robustness` for how "at the same clean metric" is obtained.
"""

from __future__ import annotations

import copy
import inspect
import io
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from scipy import ndimage

SEVERITIES = (0, 1, 2, 3, 4, 5)

CorruptFn = Callable[[Any, int, np.random.Generator], Any]


@dataclass(frozen=True)
class Corruption:
    """A named corruption of one modality kind."""

    name: str
    kind: str
    fn: CorruptFn
    description: str

    def __call__(self, x: Any, severity: int, rng: np.random.Generator) -> Any:
        if not 0 <= int(severity) <= 5:
            raise ValueError(f"{self.name}: severity must be 0..5, got {severity}")
        if int(severity) == 0:
            return x
        return self.fn(x, int(severity), rng)


# ---------------------------------------------------------------- array plumbing


def _to_numpy(x: Any) -> tuple[np.ndarray, Callable[[np.ndarray], Any]]:
    """numpy view of ``x`` and a function turning a numpy result back into ``x``'s type."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        torch = None
    if torch is not None and isinstance(x, torch.Tensor):
        dtype, device = x.dtype, x.device
        arr = x.detach().cpu().numpy()
        return arr, lambda a: torch.as_tensor(np.ascontiguousarray(a)).to(
            device=device, dtype=dtype
        )
    arr = np.asarray(x)
    return arr, lambda a: a.astype(arr.dtype, copy=False)


def _per_sample_std(a: np.ndarray) -> np.ndarray:
    axes = tuple(range(1, a.ndim))
    std = a.std(axis=axes, keepdims=True) if a.ndim > 1 else np.full(a.shape, a.std())
    return np.where(std > 0, std, 1.0)


def _level(values: Sequence[float], severity: int) -> float:
    return float(values[severity - 1])


# ---------------------------------------------------------------- images [B, C, H, W]


def gaussian_noise(x: Any, severity: int, rng: np.random.Generator) -> Any:
    """Additive Gaussian noise with sigma = (0.08 .. 0.6) x the sample's standard deviation."""
    a, back = _to_numpy(x)
    sigma = _level((0.08, 0.15, 0.25, 0.4, 0.6), severity) * _per_sample_std(a)
    return back(a + rng.normal(size=a.shape) * sigma)


def gaussian_blur(x: Any, severity: int, rng: np.random.Generator) -> Any:
    """Gaussian blur over the last two (spatial) axes, sigma 0.5 .. 3 pixels."""
    a, back = _to_numpy(x)
    sigma = _level((0.5, 1.0, 1.5, 2.0, 3.0), severity)
    spatial = [0.0] * (a.ndim - 2) + [sigma, sigma]
    return back(ndimage.gaussian_filter(a.astype(np.float64), sigma=spatial, mode="reflect"))


def contrast(x: Any, severity: int, rng: np.random.Generator) -> Any:
    """Contrast reduction towards each image's mean: factor 0.75 .. 0.15."""
    a, back = _to_numpy(x)
    factor = _level((0.75, 0.5, 0.35, 0.25, 0.15), severity)
    axes = tuple(range(1, a.ndim))
    mean = a.mean(axis=axes, keepdims=True)
    return back((a - mean) * factor + mean)


def jpeg(x: Any, severity: int, rng: np.random.Generator) -> Any:
    """JPEG re-encoding with Pillow at quality 80 .. 7 (each image scaled to 8 bit and back).

    Images are ``[B, C, H, W]`` with C = 1 or 3 (other channel counts are encoded channel by
    channel as grayscale).
    """
    from PIL import Image

    a, back = _to_numpy(x)
    quality = int(_level((80, 40, 20, 10, 7), severity))
    out = np.empty(a.shape, dtype=np.float64)
    for i in range(a.shape[0]):
        img = a[i].astype(np.float64)
        lo, hi = float(img.min()), float(img.max())
        scale = (hi - lo) or 1.0
        u8 = np.clip(np.round((img - lo) / scale * 255), 0, 255).astype(np.uint8)
        planes = [u8.transpose(1, 2, 0)] if u8.shape[0] == 3 else [p for p in u8]
        decoded = []
        for plane in planes:
            buf = io.BytesIO()
            Image.fromarray(plane).save(buf, format="JPEG", quality=quality)
            buf.seek(0)
            decoded.append(np.asarray(Image.open(buf), dtype=np.float64))
        rec = decoded[0].transpose(2, 0, 1) if u8.shape[0] == 3 else np.stack(decoded)
        out[i] = rec / 255 * scale + lo
    return back(out)


# ---------------------------------------------------------------- signals [B, C, T]


def white_noise_snr(x: Any, severity: int, rng: np.random.Generator) -> Any:
    """White noise at a signal-to-noise ratio of 30, 20, 10, 5, 0 dB (per channel power)."""
    a, back = _to_numpy(x)
    snr_db = _level((30, 20, 10, 5, 0), severity)
    power = np.mean((a - a.mean(-1, keepdims=True)) ** 2, axis=-1, keepdims=True)
    sigma = np.sqrt(power / 10 ** (snr_db / 10))
    return back(a + rng.normal(size=a.shape) * sigma)


def baseline_wander(x: Any, severity: int, rng: np.random.Generator, fs: float = 500.0) -> Any:
    """Low-frequency sinusoid (0.05-0.5 Hz, random phase) of amplitude 0.1 .. 1.0 x channel std."""
    a, back = _to_numpy(x)
    amp = _level((0.1, 0.25, 0.5, 0.75, 1.0), severity) * a.std(-1, keepdims=True)
    t = np.arange(a.shape[-1]) / fs
    lead = a.shape[:-1]
    freq = rng.uniform(0.05, 0.5, size=(*lead, 1))
    phase = rng.uniform(0, 2 * np.pi, size=(*lead, 1))
    return back(a + amp * np.sin(2 * np.pi * freq * t + phase))


def powerline(
    x: Any, severity: int, rng: np.random.Generator, fs: float = 500.0, hz: float = 50.0
) -> Any:
    """Mains interference: a ``hz`` (50 or 60) Hz sinusoid of 0.05 .. 0.5 x channel std."""
    a, back = _to_numpy(x)
    amp = _level((0.05, 0.1, 0.2, 0.3, 0.5), severity) * a.std(-1, keepdims=True)
    t = np.arange(a.shape[-1]) / fs
    phase = rng.uniform(0, 2 * np.pi, size=(*a.shape[:-1], 1))
    return back(a + amp * np.sin(2 * np.pi * hz * t + phase))


def channel_dropout(x: Any, severity: int, rng: np.random.Generator) -> Any:
    """Zero whole leads/channels: 10, 20, 35, 50, 75 % of channels per sample (at least one,
    never all)."""
    a, back = _to_numpy(x)
    out = np.array(a, dtype=np.float64, copy=True)
    n_ch = a.shape[1]
    frac = _level((0.1, 0.2, 0.35, 0.5, 0.75), severity)
    k = min(n_ch - 1, max(1, round(frac * n_ch))) if n_ch > 1 else 0
    for i in range(a.shape[0]):
        out[i, rng.choice(n_ch, size=k, replace=False)] = 0.0
    return back(out)


# ---------------------------------------------------------------- volumes / video [B, D, ...]


def frame_drop(x: Any, severity: int, rng: np.random.Generator) -> Any:
    """Drop 10 .. 50 % of frames/slices (axis 1); a dropped frame repeats the last kept one
    (a frozen video frame), or is zero when the first frame is dropped."""
    a, back = _to_numpy(x)
    out = np.array(a, copy=True)
    p = _level((0.1, 0.2, 0.3, 0.4, 0.5), severity)
    for i in range(a.shape[0]):
        dropped = rng.random(a.shape[1]) < p
        for f in np.flatnonzero(dropped):
            out[i, f] = out[i, f - 1] if f > 0 else 0
    return back(out)


# ---------------------------------------------------------------- text, graphs, tabular


def token_dropout(x: Sequence[str], severity: int, rng: np.random.Generator) -> list[str]:
    """Drop 10 .. 50 % of whitespace tokens of each text (at least one token is kept)."""
    p = _level((0.1, 0.2, 0.3, 0.4, 0.5), severity)
    out = []
    for text in x:
        tokens = str(text).split()
        keep = rng.random(len(tokens)) >= p
        if tokens and not keep.any():
            keep[rng.integers(len(tokens))] = True
        out.append(" ".join(t for t, k in zip(tokens, keep, strict=True) if k))
    return out


def edge_dropout(graph: Any, severity: int, rng: np.random.Generator) -> Any:
    """Remove 10 .. 50 % of edges of a torch_geometric ``Data``/``Batch`` (edge attributes and
    weights follow). Returns a copy; the input graph is untouched."""
    import torch

    p = _level((0.1, 0.2, 0.3, 0.4, 0.5), severity)
    out = copy.copy(graph)
    n_edges = int(graph.edge_index.shape[1])
    keep = torch.as_tensor(rng.random(n_edges) >= p, device=graph.edge_index.device)
    for key in ("edge_index", "edge_attr", "edge_weight"):
        value = getattr(graph, key, None)
        if value is None:
            continue
        out[key] = value[:, keep] if key == "edge_index" else value[keep]
    return out


def feature_noise(x: Any, severity: int, rng: np.random.Generator) -> Any:
    """Gaussian noise of 0.1 .. 1.0 x each feature's standard deviation over the batch."""
    a, back = _to_numpy(x)
    std = np.nanstd(a, axis=0, keepdims=True)
    std = np.where(std > 0, std, 1.0)
    sigma = _level((0.1, 0.2, 0.35, 0.6, 1.0), severity) * std
    return back(a + rng.normal(size=a.shape) * sigma)


def feature_dropout(x: Any, severity: int, rng: np.random.Generator) -> Any:
    """Set 10 .. 50 % of feature values to 0 (the mean of standardized features)."""
    a, back = _to_numpy(x)
    p = _level((0.1, 0.2, 0.3, 0.4, 0.5), severity)
    return back(np.where(rng.random(a.shape) < p, 0.0, a))


# ---------------------------------------------------------------- registry

CORRUPTIONS: dict[str, Corruption] = {
    c.name: c
    for c in (
        Corruption("gaussian_noise", "image", gaussian_noise, "additive Gaussian noise"),
        Corruption("gaussian_blur", "image", gaussian_blur, "Gaussian blur"),
        Corruption("contrast", "image", contrast, "contrast reduction"),
        Corruption("jpeg", "image", jpeg, "JPEG re-encoding (Pillow)"),
        Corruption("white_noise", "signal", white_noise_snr, "white noise at 30..0 dB SNR"),
        Corruption("baseline_wander", "signal", baseline_wander, "low-frequency sinusoid"),
        Corruption("powerline_50hz", "signal", partial(powerline, hz=50.0), "50 Hz mains"),
        Corruption("powerline_60hz", "signal", partial(powerline, hz=60.0), "60 Hz mains"),
        Corruption("lead_dropout", "signal", channel_dropout, "zeroed leads/channels"),
        Corruption("frame_drop", "volume", frame_drop, "dropped (frozen) frames/slices"),
        Corruption("volume_noise", "volume", gaussian_noise, "additive Gaussian noise"),
        Corruption("token_dropout", "text", token_dropout, "dropped words"),
        Corruption("edge_dropout", "graph", edge_dropout, "dropped edges"),
        Corruption("feature_noise", "tabular", feature_noise, "Gaussian feature noise"),
        Corruption("feature_dropout", "tabular", feature_dropout, "zeroed feature values"),
    )
}

# Input names (batch["inputs"] keys) -> modality kind; matched on the name or its prefix.
INPUT_KINDS = {
    "image": "image",
    "cxr": "image",
    "xray": "image",
    "fundus": "image",
    "derm": "image",
    "mammo": "image",
    "pathology": "image",
    "oct": "image",
    "ultrasound": "image",
    "ecg": "signal",
    "eeg": "signal",
    "emg": "signal",
    "ppg": "signal",
    "signal": "signal",
    "eog": "signal",
    "resp": "signal",
    "volume": "volume",
    "ct": "volume",
    "mri": "volume",
    "pet": "volume",
    "video": "volume",
    "echo": "volume",
    "text": "text",
    "report": "text",
    "notes": "text",
    "graph": "graph",
    "molecule": "graph",
    "protein": "graph",
    "connectome": "graph",
    "tabular": "tabular",
    "ehr": "tabular",
    "labs": "tabular",
    "expression": "tabular",
    "genomics": "tabular",
}


def modality_kind(input_name: str) -> str:
    """The corruption kind of an input name ("ecg" -> "signal", "image_ap" -> "image")."""
    name = input_name.lower()
    if name in INPUT_KINDS:
        return INPUT_KINDS[name]
    if name in {c.kind for c in CORRUPTIONS.values()}:
        return name
    for prefix, kind in sorted(INPUT_KINDS.items(), key=lambda kv: -len(kv[0])):
        if name.startswith(prefix):
            return kind
    raise ValueError(
        f"no corruptions for input {input_name!r}; known input names: {sorted(INPUT_KINDS)}"
    )


def corruptions_for(input_name: str, fs: float | None = None) -> dict[str, Corruption]:
    """The corruptions that apply to an input (by input name or modality kind).

    ``fs`` (Hz) is the input's sampling rate; signal corruptions that depend on time
    (baseline wander, powerline) are bound to it (default 500 Hz when not given).
    """
    kind = modality_kind(input_name)
    out = {name: c for name, c in CORRUPTIONS.items() if c.kind == kind}
    if fs is not None:
        for name, c in out.items():
            if "fs" in inspect.signature(c.fn).parameters:
                out[name] = Corruption(
                    c.name,
                    c.kind,
                    partial(c.fn, fs=float(fs)),
                    f"{c.description} (fs {float(fs):g} Hz)",
                )
    return out


# ---------------------------------------------------------------- sweeps

PredictFn = Callable[[list[dict]], pd.DataFrame]
ScoreFn = Callable[[pd.DataFrame], dict[str, float]]


def corrupt_batch(
    batch: dict, input_name: str, corruption: Corruption, severity: int, rng: np.random.Generator
) -> dict:
    """A shallow copy of ``batch`` with ``batch["inputs"][input_name]`` corrupted."""
    if input_name not in batch["inputs"]:
        raise KeyError(f"batch has no input {input_name!r}; inputs: {sorted(batch['inputs'])}")
    out = dict(batch)
    out["inputs"] = dict(batch["inputs"])
    out["inputs"][input_name] = corruption(batch["inputs"][input_name], severity, rng)
    return out


def robustness_sweep(
    predict_fn: PredictFn,
    batches: Iterable[dict],
    input_name: str,
    corruption: Corruption | str,
    severities: Sequence[int] = SEVERITIES,
    score_fn: ScoreFn | None = None,
    seed: int = 0,
    tasks: dict[str, dict] | None = None,
) -> dict[str, Any]:
    """Metric per severity for one corruption of one input.

    ``predict_fn(list_of_batches) -> predictions DataFrame`` (the run's predictions format;
    ``climb.train.api.predict(model, batches, tasks)`` fits), ``score_fn(predictions) ->
    {task_key: metric}`` (default: the headline metric of each task, typed by ``tasks`` =
    tasks.json entries by key; a custom ``score_fn`` must be higher-is-better). Batch ``i``
    at severity ``s`` is corrupted with a generator seeded by ``(seed, s, i)``, so a sweep is
    reproducible and a severity's corruption does not depend on which other severities ran.

    Returns ``{input, corruption, severities, metric: {task: [value per severity]},
    mean: [...], relative_robustness: {task: RR}}``.
    """
    if isinstance(corruption, str):
        corruption = CORRUPTIONS[corruption]
    metric_names: dict[str, str] = {}
    if score_fn is None:

        def score_fn(frame: pd.DataFrame) -> dict[str, float | None]:
            named = _headline(frame, tasks)
            metric_names.update({k: m for k, (m, _) in named.items()})
            return {k: v for k, (_, v) in named.items()}

    batches = list(batches)
    per_task: dict[str, list[float | None]] = {}
    for severity in severities:
        corrupted = [
            corrupt_batch(
                b, input_name, corruption, severity, np.random.default_rng([seed, int(severity), i])
            )
            for i, b in enumerate(batches)
        ]
        scores = score_fn(predict_fn(corrupted))
        for task, value in scores.items():
            per_task.setdefault(task, []).append(value)
    curves = {t: v for t, v in per_task.items() if len(v) == len(severities)}
    mean = [_mean([curves[t][i] for t in curves]) for i in range(len(severities))]
    return {
        "input": input_name,
        "corruption": corruption.name,
        "description": corruption.description,
        "severities": [int(s) for s in severities],
        "metric_name": metric_names,
        "metric": curves,
        "mean": mean,
        "relative_robustness": {
            t: relative_robustness_for(metric_names.get(t, ""), severities, v)
            for t, v in curves.items()
        },
    }


def modality_drop(
    predict_fn: PredictFn, batches: Iterable[dict], score_fn: ScoreFn | None = None
) -> dict[str, dict[str, float | None]]:
    """Metric with all inputs, then with each input masked out (``input_mask[name] = False``
    for every sample): ``{"none": {task: m}, "drop:ecg": {...}, ...}``."""
    score_fn = score_fn or headline_scores
    batches = list(batches)
    names = sorted({name for b in batches for name in b.get("input_mask", b["inputs"])})
    out = {"none": score_fn(predict_fn(batches))}
    for name in names:
        dropped = []
        for b in batches:
            nb = dict(b)
            masks = dict(b.get("input_mask", {}))
            if name in masks:
                masks[name] = _all_false(masks[name])
            nb["input_mask"] = masks
            dropped.append(nb)
        out[f"drop:{name}"] = score_fn(predict_fn(dropped))
    return out


def _all_false(mask: Any) -> Any:
    try:
        import torch

        if isinstance(mask, torch.Tensor):
            return torch.zeros_like(mask, dtype=torch.bool)
    except ImportError:  # pragma: no cover
        pass
    return np.zeros(np.shape(mask), dtype=bool)


def headline_scores(
    predictions: pd.DataFrame, tasks: dict[str, dict] | None = None
) -> dict[str, float | None]:
    """Headline metric (macro AUROC / MAE) of each task in a predictions frame.

    ``tasks`` is ``{key: {type, classes}}`` (tasks.json); without it the type is inferred:
    one score per row -> regression, else multilabel when labels have as many entries as
    scores, else multiclass.
    """
    return {k: v for k, (_, v) in _headline(predictions, tasks).items()}


def _headline(
    predictions: pd.DataFrame, tasks: dict[str, dict] | None
) -> dict[str, tuple[str, float | None]]:
    from climb.evaluate.metrics import HEADLINE, task_metrics
    from climb.evaluate.run import task_arrays

    out: dict[str, tuple[str, float | None]] = {}
    for key in sorted(predictions["task"].unique()):
        spec = (tasks or {}).get(key) or _infer_spec(predictions, key)
        summary, _ = task_metrics(task_arrays(predictions, spec))
        metric = HEADLINE[spec["type"]]
        value = float(summary[metric][0])
        out[key] = (metric, None if math.isnan(value) else value)
    return out


def _infer_spec(predictions: pd.DataFrame, key: str) -> dict:
    row = predictions[predictions["task"] == key].iloc[0]
    n_scores, n_labels = len(row["scores"]), len(row["label"])
    if n_scores == 1:
        kind = "regression"
    elif n_labels == n_scores:
        kind = "multilabel"
    else:
        kind = "binary" if n_scores == 2 else "multiclass"
    return {"key": key, "type": kind, "classes": [str(i) for i in range(n_scores)]}


# ---------------------------------------------------------------- summaries


def relative_robustness(
    severities: Sequence[float], values: Sequence[float | None]
) -> float | None:
    """Normalized area under the metric-vs-severity curve, severity 0 being the clean metric.

    ``RR = trapezoid(m(s) / m(0), s) / (s_max - s_0)``: 1.0 = no loss at any severity. For
    error metrics (lower is better) pass ``-error`` or use ``1 / error``-style scores first;
    the sweep's default scores are higher-is-better except regression MAE, whose RR is then
    ``m(0) / m(s)`` averaged the same way (handled by :func:`relative_robustness_for`).
    None when the clean metric is undefined or zero, or a severity is undefined.
    """
    s = np.asarray(severities, dtype=np.float64)
    if len(s) < 2 or any(v is None for v in values):
        return None
    v = np.asarray(values, dtype=np.float64)
    if not np.isfinite(v).all() or v[0] == 0:
        return None
    return float(np.trapezoid(v / v[0], s) / (s[-1] - s[0]))


def relative_robustness_for(
    metric: str, severities: Sequence[float], values: Sequence[float | None]
) -> float | None:
    """:func:`relative_robustness` that inverts error metrics (MAE, RMSE, ECE) first."""
    from climb.evaluate.metrics import LOWER_IS_BETTER

    if metric in LOWER_IS_BETTER:
        if any(v is None or v == 0 for v in values):
            return None
        values = [1.0 / float(v) for v in values]
    return relative_robustness(severities, values)


def effective_robustness(
    model_clean: float,
    model_rr: float,
    baselines: Sequence[tuple[float, float]],
) -> float | None:
    """Effective robustness: the model's relative robustness minus the relative robustness a
    baseline would have *at the model's clean metric*.

    ``baselines`` are ``(clean metric, relative robustness)`` pairs of reference models (a
    late-fusion model, unimodal models) swept with the same corruptions. With one baseline,
    its relative robustness is taken as the expected robustness (relative robustness is
    already normalized by the clean metric, so this compares like with like when the clean
    metrics are close). With two or more, a least-squares line ``RR = a + b * clean`` through
    the baselines gives the expected robustness at ``model_clean``. Positive = the model
    keeps more of its clean performance than its baselines predict; 0 = no better.
    """
    points = [(c, r) for c, r in baselines if c is not None and r is not None]
    if model_clean is None or model_rr is None or not points:
        return None
    if len(points) == 1 or len({c for c, _ in points}) == 1:
        expected = float(np.mean([r for _, r in points]))
    else:
        clean, rr = np.array(points, dtype=np.float64).T
        slope, intercept = np.polyfit(clean, rr, 1)
        expected = float(intercept + slope * model_clean)
    return float(model_rr - expected)


def write_robustness(path: Any, document: dict) -> None:
    """Write RUN/robustness.json (NaN -> null)."""
    from climb.evaluate.run import write_json

    write_json(path, document)


def leave_one_site_out(
    frame: pd.DataFrame, site_key: str = "site"
) -> list[tuple[str, pd.DataFrame, pd.DataFrame]]:
    """Train-on-other-sites / test-on-one-site partitions of records or predictions.

    ``frame`` has a ``meta`` column (JSON string or dict) holding ``site``; rows without a
    site are left out. Returns ``[(held_out_site, train_rows, test_rows)]``, one per site,
    empty when fewer than two sites exist. No patient is on both sides (a patient seen at
    two sites is dropped from the training side).
    """
    sites = partition_by_site(frame, site_key)
    if len(sites) < 2:
        return []
    out = []
    for site, test in sites.items():
        train = pd.concat([rows for s, rows in sites.items() if s != site])
        if "patient_id" in frame:
            train = train[~train["patient_id"].isin(set(test["patient_id"]))]
        out.append((site, train, test))
    return out


def partition_by_site(frame: pd.DataFrame, site_key: str = "site") -> dict[str, pd.DataFrame]:
    """``{site: rows}`` from the ``meta`` column; rows without a site are left out."""

    def site_of(meta: Any) -> str | None:
        if isinstance(meta, str):
            try:
                meta = json.loads(meta)
            except json.JSONDecodeError:
                return None
        value = meta.get(site_key) if isinstance(meta, dict) else None
        return None if value is None else str(value)

    sites = frame["meta"].map(site_of)
    return {s: frame[sites == s] for s in sorted(sites.dropna().unique())}


def _mean(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals else None
