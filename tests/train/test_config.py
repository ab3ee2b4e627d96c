"""Config: YAML + dotted overrides, unknown keys refused, example configs valid."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from climb.train.config import ConfigError, load_config

REPO = Path(__file__).resolve().parents[2]


def test_yaml_and_dotted_overrides(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text("data: {store: /s}\nmodel: {encoders: {ecg: {type: xresnet1d}}}\n")
    cfg = load_config(path, ["optim.lr=3e-4", "trainer.devices=2", "data.datasets=[a, b]",
                             "model.encoders.ecg.layers=[1, 1]", "loss.drpo.enabled=true"])
    assert cfg["optim"]["lr"] == pytest.approx(3e-4)
    assert cfg["trainer"]["devices"] == 2
    assert cfg["data"]["datasets"] == ["a", "b"]
    assert cfg["model"]["encoders"]["ecg"] == {"type": "xresnet1d", "layers": [1, 1]}
    assert cfg["loss"]["drpo"]["enabled"] is True
    assert cfg["run"]["name"] == "exp"  # defaults to the file name
    # a whole free-form section can be replaced
    cfg = load_config(path, ["model.encoders={tabular: {type: mlp, in_features: 3}}"])
    assert cfg["model"]["encoders"] == {"tabular": {"type": "mlp", "in_features": 3}}


def test_errors_are_clear(tmp_path):
    base = {"data": {"store": "/s"}, "model": {"encoders": {"ecg": {"type": "xresnet1d"}}}}
    with pytest.raises(ConfigError, match=re.escape("unknown config key 'optim.learning_rate'")):
        load_config(None, ["optim.learning_rate=1"], base=base)
    with pytest.raises(ConfigError, match="regime 'zero' is not one of"):
        load_config(None, ["regime=zero"], base=base)
    with pytest.raises(ConfigError, match=re.escape("needs init.checkpoint")):
        load_config(None, ["regime=probe"], base=base)
    with pytest.raises(ConfigError, match=re.escape("data.store is required")):
        load_config(None, [], base={"model": base["model"]})
    with pytest.raises(ConfigError, match="not key=value"):
        load_config(None, ["optim.lr"], base=base)
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")


@pytest.mark.parametrize("path", sorted((REPO / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_example_configs_are_valid(path):
    overrides = ["init.checkpoint=runs/x"] if "probe" in path.name or "fewshot" in path.name \
        else []
    cfg = load_config(path, overrides)
    assert cfg["model"]["encoders"]
