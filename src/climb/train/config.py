"""Training configuration: YAML file + dotted ``key=value`` overrides over documented defaults.

Unknown keys are errors (a typo never silently does nothing), except inside the free-form
model sections (``model.encoders``, ``model.fusion``, ``model.head``) whose keys are the
encoder/fusion constructor arguments.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from climb.errors import ClimbError

REGIMES = ("single", "multitask", "fewshot", "probe", "finetune")
DRPO_MODES = ("off", "simple", "hierarchical")
# kshot_val: checkpoint and thresholds chosen on k per class drawn from the validation split;
# none: no validation at all (the last checkpoint, fixed 0.5 thresholds)
FEWSHOT_SELECTION = ("kshot_val", "none")
# values kept as typed text in dotted overrides (run.name=on is the name "on", not True)
STRING_KEYS = {("run", "name"), ("run", "dir")}

DEFAULTS: dict[str, Any] = {
    "regime": "single",
    "seed": 0,
    # predict: the splits written to RUN/predictions/ (and summarised in metrics.json)
    "run": {"dir": "runs", "name": None, "resume": True, "predict": ["val", "test"]},
    "data": {
        "store": None,  # STORE directory (with STORE/NAME/manifest.json)
        "datasets": None,  # prepared dataset names (None = every dataset in the store)
        "tasks": None,  # task keys to train (None = every task of those datasets)
        "inputs": None,  # input names to read (None = the model's encoders)
        "batch_size": 32,  # global batch size (split across devices)
        "eval_batch_size": None,
        "num_workers": 0,
        # > 0: the in-process loader (climb.load.threaded.ThreadedLoader): this many reader
        # threads, reused batch buffers, no worker processes (needs num_workers: 0)
        "threads": 0,
        # multitask mixture (climb.load.MixtureSampler): proportional | uniform | temperature
        # (p ~ n_d ** (1 / temperature)) | weights ({dataset: weight})
        "mixture": {"strategy": "temperature", "temperature": 1.0, "weights": None},
        "train_split": "train",
        "val_split": "val",
        "test_split": "test",
    },
    "model": {"encoders": {}, "fusion": {"type": "none"}, "head": {"hidden": None,
                                                                 "dropout": 0.0}},
    "optim": {"name": "adamw", "lr": 1e-3, "weight_decay": 0.01, "scheduler": "none",
              "warmup_steps": 0},
    "loss": {
        "regression": "mse",  # mse | huber
        "class_weights": None,  # None | balanced
        # domain reweighting (climb.train.drpo, docs/training.md): off | simple | hierarchical
        "drpo": {
            "mode": "off",
            "enabled": None,  # legacy switch: true = hierarchical (unless mode says simple)
            "domain": "dataset",  # "dataset" or a meta field (e.g. "site")
            "max_weight": 10.0,  # weights clipped to [1/max, max] x the batch mean, then mean 1
            # hierarchical (QoQ-Med): difficulty clusters inside each domain
            "history": 8,  # rewards kept per sample (its last draws)
            "max_samples": 4096,  # samples kept per domain (most recently drawn)
            "refit_every": 50,  # training steps between k-means refits
            "k_max": 10,  # most clusters per domain (elbow rule picks k)
            "elbow_tol": 0.1,
            "min_reward": 0.05,  # floor of mean rewards (no division by ~0)
            # simple: w_d = drawn_share ** -alpha * (difficulty / mean) ** beta
            "alpha": 0.5,
            "beta": 1.0,
            "ema": 0.9,  # EMA of each domain's reward
        },
    },
    "trainer": {
        "max_epochs": 10,
        "max_steps": -1,
        "accelerator": "cpu",
        "devices": 1,
        "num_nodes": 1,
        "strategy": "auto",  # auto | ddp | fsdp | ddp_find_unused_parameters_true ...
        "precision": "32-true",  # bf16-mixed on GPUs
        "deterministic": True,
        "log_every_n_steps": 10,
        "gradient_clip_val": None,
        "accumulate_grad_batches": 1,
        "limit_train_batches": None,
        "limit_val_batches": None,
        "enable_progress_bar": True,
        "enable_model_summary": True,
        "sync_batchnorm": False,
    },
    "monitor": {"metric": "val/loss", "mode": "min"},
    # seed None = the run seed; selection: kshot_val | none (see FEWSHOT_SELECTION)
    "fewshot": {"k": 8, "task": None, "seed": None, "selection": "kshot_val"},
    "init": {"checkpoint": None, "freeze": None},  # freeze: encoders | encoders+fusion | None
    # training-time augmentation per input name (climb.load.transforms; never at val/test/
    # predict or in `climb evaluate`), e.g. {image: [{flip: {p: 0.5}}, {rotate: {degrees: 10}}]}
    "transforms": {},
}

FREE_FORM = {("model", "encoders"), ("model", "fusion"), ("model", "head"), ("transforms",)}


class ConfigError(ClimbError):
    """A training configuration is invalid."""


def deep_merge(base: dict[str, Any], update: dict[str, Any], path: tuple[str, ...] = (),
               strict: bool = True) -> dict[str, Any]:
    """Merge ``update`` into a copy of ``base``; unknown keys raise unless free-form."""
    out = copy.deepcopy(base)
    for key, value in (update or {}).items():
        here = (*path, key)
        free = strict and any(here[: len(f)] == f for f in FREE_FORM)
        if strict and not free and key not in out:
            known = ", ".join(sorted(out)) or "(none)"
            raise ConfigError(f"unknown config key {'.'.join(here)!r} (known: {known})")
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value, here, strict=strict and not free)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"optim.lr=3e-4"`` -> (["optim", "lr"], 0.0003); values are parsed as YAML."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not key=value")
    key, raw = text.split("=", 1)
    if not key.strip():
        raise ConfigError(f"override {text!r} has an empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as err:
        raise ConfigError(f"override {text!r}: value is not valid YAML: {err}") from None
    keys = key.strip().split(".")
    if tuple(keys) in STRING_KEYS:  # quoted text is YAML-unquoted, bare text kept as typed
        text = raw.strip()
        return keys, (value if isinstance(value, str) and text[:1] in "'\"" else text) or None
    if isinstance(value, str) and _looks_float(value):
        value = float(value)
    return keys, value


def _looks_float(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def nest(keys: list[str], value: Any) -> dict[str, Any]:
    out: Any = value
    for k in reversed(keys):
        out = {k: out}
    return out


def load_config(path: str | Path | None = None, overrides: list[str] | None = None,
                base: dict[str, Any] | None = None) -> dict[str, Any]:
    """Defaults <- YAML file <- ``base`` dict <- dotted overrides; validated."""
    cfg = copy.deepcopy(DEFAULTS)
    if path is not None:
        p = Path(path)
        if not p.exists():
            raise ConfigError(f"{p}: config file not found")
        try:
            data = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"{p}: not valid YAML: {err}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{p}: top level must be a mapping")
        cfg = deep_merge(cfg, data)
        if cfg["run"]["name"] is None:
            cfg["run"]["name"] = p.stem
    if base:
        cfg = deep_merge(cfg, base)
    for text in overrides or []:
        keys, value = parse_override(text)
        if tuple(keys) in FREE_FORM:  # model.encoders={...} replaces the whole section
            if not isinstance(value, dict):
                raise ConfigError(f"override {text!r}: {'.'.join(keys)} must be a mapping")
            if len(keys) == 1:
                cfg[keys[0]] = value
            else:
                cfg[keys[0]][keys[1]] = value
        else:
            cfg = deep_merge(cfg, nest(keys, value))
    return validate(cfg)


def validate(cfg: dict[str, Any]) -> dict[str, Any]:
    """Check the values that cannot be checked by key alone."""
    if cfg["regime"] not in REGIMES:
        raise ConfigError(f"regime {cfg['regime']!r} is not one of {REGIMES}")
    if not cfg["data"]["store"]:
        raise ConfigError("data.store is required (a directory written by `climb prepare`)")
    if not cfg["model"]["encoders"]:
        raise ConfigError("model.encoders is empty: give one encoder per input, e.g. "
                          "model.encoders.ecg.type=xresnet1d")
    if cfg["regime"] in {"probe", "finetune"} and not cfg["init"]["checkpoint"]:
        raise ConfigError(f"regime {cfg['regime']} needs init.checkpoint")
    if cfg["fewshot"]["k"] is not None and int(cfg["fewshot"]["k"]) < 1:
        raise ConfigError("fewshot.k must be >= 1")
    if cfg["loss"]["class_weights"] not in (None, "balanced"):
        raise ConfigError("loss.class_weights must be null or 'balanced'")
    if cfg["loss"]["regression"] not in ("mse", "huber"):
        raise ConfigError("loss.regression must be 'mse' or 'huber'")
    if cfg["monitor"]["mode"] not in ("min", "max"):
        raise ConfigError("monitor.mode must be 'min' or 'max'")
    _validate_drpo(cfg["loss"]["drpo"])
    _validate_transforms(cfg)
    threads, workers = int(cfg["data"]["threads"] or 0), int(cfg["data"]["num_workers"] or 0)
    if threads < 0 or (threads and workers):
        raise ConfigError(f"data.threads={threads} with data.num_workers={workers}: give one "
                          "(threads >= 0: in-process reader threads; num_workers: processes)")
    if cfg["fewshot"]["selection"] not in FEWSHOT_SELECTION:
        raise ConfigError(f"fewshot.selection must be one of {FEWSHOT_SELECTION}, not "
                          f"{cfg['fewshot']['selection']!r}")
    name = cfg["run"]["name"]
    if isinstance(name, bool):
        raise ConfigError(f"run.name is the boolean {name}: quote it in YAML (name: 'on')")
    if name is not None and not isinstance(name, str):
        cfg["run"]["name"] = str(name)
    return cfg


def _validate_drpo(drpo: dict[str, Any]) -> None:
    """Resolve ``mode`` with the legacy ``enabled`` switch; afterwards ``enabled`` always says
    whether reweighting is on."""
    mode, enabled = drpo.get("mode"), drpo.get("enabled")
    if mode is False or mode is None:  # YAML `mode: off` is the boolean False
        mode = "off"
    if mode not in DRPO_MODES:
        raise ConfigError(f"loss.drpo.mode must be one of {DRPO_MODES}, not {mode!r}")
    if enabled not in (None, True, False):
        raise ConfigError(f"loss.drpo.enabled must be true or false, not {enabled!r}")
    if enabled is True and mode == "off":
        mode = "hierarchical"
    elif enabled is False and mode != "off":
        raise ConfigError(f"loss.drpo.enabled=false contradicts loss.drpo.mode={mode}; "
                          "set only loss.drpo.mode (off | simple | hierarchical)")
    drpo["mode"], drpo["enabled"] = mode, mode != "off"
    for key in ("history", "max_samples", "refit_every", "k_max"):
        if int(drpo[key]) < 1:
            raise ConfigError(f"loss.drpo.{key} must be >= 1")
    if float(drpo["max_weight"]) < 1:
        raise ConfigError("loss.drpo.max_weight must be >= 1")


def _validate_transforms(cfg: dict[str, Any]) -> None:
    """Operations and parameters are checked like config keys; an input name must be one the
    model reads (a typo never silently trains without augmentation)."""
    from climb.load.transforms import TransformSpecError, parse_transforms

    spec = cfg.get("transforms")
    if spec is None:
        cfg["transforms"] = spec = {}
    try:
        parsed = parse_transforms(spec)
    except TransformSpecError as err:
        raise ConfigError(str(err)) from None
    inputs = cfg["data"]["inputs"] or sorted(cfg["model"]["encoders"])
    unknown = sorted(set(parsed) - set(inputs))
    if unknown:
        raise ConfigError(f"transforms.{unknown[0]}: not an input of the model (inputs: "
                          f"{', '.join(inputs)})")


def dump_config(cfg: dict[str, Any], path: str | Path) -> None:
    """Write the resolved config as YAML (the run's record of what was trained)."""
    Path(path).write_text(yaml.safe_dump(cfg, sort_keys=False))
