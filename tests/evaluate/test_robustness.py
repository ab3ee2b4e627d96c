"""Corruptions, sweeps, modality drop, relative/effective robustness, cross-site splits."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from climb.evaluate import robustness as rb
from tests.evaluate.toy_model import FS, TASK, ToyModel, make_batches, predict

SAMPLES = {
    "image": lambda rng: rng.normal(0.5, 0.2, (2, 3, 32, 32)),
    "signal": lambda rng: (
        np.sin(2 * np.pi * 1.2 * np.arange(1000) / 500)[None, None] * np.ones((2, 12, 1))
        + rng.normal(0, 0.05, (2, 12, 1000))
    ),
    "volume": lambda rng: rng.normal(0, 1, (2, 8, 16, 16)),
    "tabular": lambda rng: rng.normal(0, 1, (16, 10)),
}


def _distortion(a, b):
    return float(np.mean(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


@pytest.mark.parametrize("name", [n for n, c in rb.CORRUPTIONS.items() if c.kind in SAMPLES])
def test_array_corruptions(name):
    corruption = rb.CORRUPTIONS[name]
    x = SAMPLES[corruption.kind](np.random.default_rng(0)).astype(np.float32)
    assert corruption(x, 0, np.random.default_rng(1)) is x
    outs = [corruption(x, s, np.random.default_rng(1)) for s in range(1, 6)]
    for out in outs:
        assert out.shape == x.shape and out.dtype == x.dtype and np.isfinite(out).all()
    again = corruption(x, 3, np.random.default_rng(1))
    assert np.array_equal(outs[2], again)  # deterministic given the generator
    dist = [_distortion(x, o) for o in outs]
    assert dist[0] > 0
    assert dist[4] > dist[0]  # harsher at severity 5 than at 1
    # torch tensors in, torch tensors out
    xt = torch.from_numpy(x)
    out_t = corruption(xt, 2, np.random.default_rng(1))
    assert isinstance(out_t, torch.Tensor) and out_t.dtype == torch.float32
    assert np.allclose(out_t.numpy(), outs[1], atol=1e-5)
    with pytest.raises(ValueError, match="severity"):
        corruption(x, 6, np.random.default_rng(1))


def test_signal_corruptions_have_the_right_physics():
    fs, n = 500.0, 5000
    x = np.random.default_rng(0).normal(0, 1, (1, 2, n))
    freqs = np.fft.rfftfreq(n, 1 / fs)

    def spectrum_gain(y, band):
        extra = (np.abs(np.fft.rfft(y - x, axis=-1)) ** 2).mean((0, 1))
        inside = (freqs >= band[0]) & (freqs <= band[1])
        return extra[inside].sum() / extra.sum()

    mains = rb.CORRUPTIONS["powerline_60hz"](x, 3, np.random.default_rng(0))
    assert spectrum_gain(mains, (59.5, 60.5)) > 0.99
    wander = rb.CORRUPTIONS["baseline_wander"](x, 3, np.random.default_rng(0))
    assert spectrum_gain(wander, (0, 1.0)) > 0.95
    for sev, snr in [(1, 30), (3, 10), (5, 0)]:
        noisy = rb.CORRUPTIONS["white_noise"](x, sev, np.random.default_rng(0))
        measured = 10 * np.log10(np.mean(x**2) / np.mean((noisy - x) ** 2))
        assert measured == pytest.approx(snr, abs=0.3)
    # bound to the input's sampling rate, mains stays at 50 Hz for a 360 Hz signal
    x360 = np.random.default_rng(1).normal(0, 1, (1, 2, 3600))
    bound = rb.corruptions_for("ecg", fs=360)["powerline_50hz"]
    spec = np.abs(np.fft.rfft(bound(x360, 4, np.random.default_rng(0)) - x360, axis=-1))
    assert np.fft.rfftfreq(3600, 1 / 360)[spec.mean((0, 1)).argmax()] == pytest.approx(50.0)
    dropped = rb.CORRUPTIONS["lead_dropout"](np.ones((4, 12, 10)), 5, np.random.default_rng(0))
    zero_leads = (np.abs(dropped).sum(-1) == 0).sum(1)
    assert (zero_leads == 9).all()  # 75 % of 12 leads, never all


def test_jpeg_quality_and_blur_smooth():
    rng = np.random.default_rng(0)
    img = rng.random((1, 3, 64, 64)).astype(np.float32)
    errs = [_distortion(img, rb.jpeg(img, s, rng)) for s in (1, 5)]
    assert 0 < errs[0] < errs[1]
    gray = rng.random((2, 1, 32, 32))
    assert rb.jpeg(gray, 2, rng).shape == gray.shape
    blurred = rb.gaussian_blur(gray, 4, rng)
    assert np.abs(np.diff(blurred, axis=-1)).mean() < 0.5 * np.abs(np.diff(gray, axis=-1)).mean()


def test_frame_drop_repeats_previous_frame():
    video = np.arange(10, dtype=np.float32)[None, :, None, None] * np.ones((3, 10, 2, 2))
    out = rb.frame_drop(video, 5, np.random.default_rng(0))
    changed = np.flatnonzero(out[0, :, 0, 0] != video[0, :, 0, 0])
    assert changed.size > 0
    for f in changed:
        assert out[0, f, 0, 0] == (out[0, f - 1, 0, 0] if f > 0 else 0)


def test_text_and_graph_corruptions():
    from torch_geometric.data import Batch, Data

    texts = ["sinus rhythm with first degree av block and left axis deviation"] * 3
    out = rb.token_dropout(texts, 5, np.random.default_rng(0))
    assert all(0 < len(o.split()) < len(texts[0].split()) for o in out)
    assert set(" ".join(out).split()) <= set(texts[0].split())
    g = Data(
        x=torch.randn(20, 4),
        edge_index=torch.randint(0, 20, (2, 200)),
        edge_attr=torch.arange(200, dtype=torch.float32),
    )
    batch = Batch.from_data_list([g, g])
    dropped = rb.CORRUPTIONS["edge_dropout"](batch, 3, np.random.default_rng(0))
    assert batch.edge_index.shape[1] == 400  # input untouched
    kept = dropped.edge_index.shape[1]
    assert 200 < kept < 340
    assert dropped.edge_attr.shape[0] == kept
    # the kept edges keep their attributes
    original = {
        (int(a), int(b), float(w))
        for (a, b), w in zip(batch.edge_index.T.tolist(), batch.edge_attr, strict=True)
    }
    assert all(
        (int(a), int(b), float(w)) in original
        for (a, b), w in zip(dropped.edge_index.T.tolist(), dropped.edge_attr, strict=True)
    )


def test_registry():
    assert set(rb.corruptions_for("ecg")) == {
        "white_noise",
        "baseline_wander",
        "powerline_50hz",
        "powerline_60hz",
        "lead_dropout",
    }
    assert set(rb.corruptions_for("image")) == {
        "gaussian_noise",
        "gaussian_blur",
        "contrast",
        "jpeg",
    }
    assert set(rb.corruptions_for("cxr_pa")) == set(rb.corruptions_for("image"))
    assert "frame_drop" in rb.corruptions_for("video")
    assert set(rb.corruptions_for("text")) == {"token_dropout"}
    assert set(rb.corruptions_for("graph")) == {"edge_dropout"}
    assert set(rb.corruptions_for("tabular")) == {"feature_noise", "feature_dropout"}
    with pytest.raises(ValueError, match="no corruptions for input 'smell'"):
        rb.corruptions_for("smell")


def test_robustness_sweep_with_a_torch_model(tmp_path):
    model = ToyModel()
    batches = make_batches()
    predict_fn = lambda bs: predict(model, bs)  # noqa: E731
    tasks = {TASK["key"]: TASK}
    result = rb.robustness_sweep(predict_fn, batches, "ecg", "white_noise", tasks=tasks, seed=0)
    curve = result["metric"][TASK["key"]]
    assert len(curve) == 6
    clean = rb.headline_scores(predict_fn(batches), tasks)[TASK["key"]]
    assert curve[0] == pytest.approx(clean) and clean > 0.85
    assert curve[-1] < curve[0] - 0.05  # 0 dB noise hurts the signal branch
    rr = result["relative_robustness"][TASK["key"]]
    assert 0 < rr < 1
    assert (
        rb.robustness_sweep(predict_fn, batches, "ecg", "white_noise", tasks=tasks, seed=0)
        == result
    )
    # the original batches are not modified by a sweep
    assert torch.equal(batches[0]["inputs"]["ecg"], make_batches()[0]["inputs"]["ecg"])
    with pytest.raises(KeyError, match="no input 'eeg'"):
        rb.robustness_sweep(predict_fn, batches, "eeg", "white_noise")
    drop = rb.modality_drop(predict_fn, batches, lambda f: rb.headline_scores(f, tasks))
    assert set(drop) == {"none", "drop:ecg", "drop:image"}
    assert drop["drop:ecg"][TASK["key"]] < drop["none"][TASK["key"]]
    assert drop["drop:image"][TASK["key"]] < drop["none"][TASK["key"]]
    rb.write_robustness(tmp_path / "robustness.json", {"sweeps": [result], "modality_drop": drop})
    assert json.loads((tmp_path / "robustness.json").read_text())["sweeps"][0]["input"] == "ecg"
    assert FS == 100.0


def test_relative_and_effective_robustness():
    sev = [0, 1, 2, 3, 4, 5]
    assert rb.relative_robustness(sev, [0.8] * 6) == pytest.approx(1.0)
    assert rb.relative_robustness(sev, [0.8, 0.64, 0.48, 0.32, 0.16, 0.0]) == pytest.approx(0.5)
    assert rb.relative_robustness(sev, [0.8, None, 0.5, 0.5, 0.5, 0.5]) is None
    # error metrics: MAE doubling at every severity -> RR of 1/MAE
    assert rb.relative_robustness_for("mae", [0, 1], [2.0, 4.0]) == pytest.approx(0.75)
    # one baseline: the difference of relative robustness
    assert rb.effective_robustness(0.9, 0.8, [(0.88, 0.7)]) == pytest.approx(0.1)
    # several baselines: a line RR = 0.2 + 0.5 * clean, evaluated at the model's clean metric
    baselines = [(0.6, 0.5), (0.8, 0.6), (1.0, 0.7)]
    assert rb.effective_robustness(0.9, 0.75, baselines) == pytest.approx(0.75 - 0.65)
    assert rb.effective_robustness(0.9, None, baselines) is None


def test_leave_one_site_out_has_no_patient_overlap():
    frame = pd.DataFrame(
        {
            "sample_id": [f"s{i}" for i in range(9)],
            "patient_id": ["p1", "p1", "p2", "p3", "p4", "p4", "p5", "p6", "p7"],
            "meta": [json.dumps({"site": s}) for s in "AABBCACB"] + ["{}"],
        }
    )
    parts = rb.partition_by_site(frame)
    assert {k: len(v) for k, v in parts.items()} == {"A": 3, "B": 3, "C": 2}
    folds = rb.leave_one_site_out(frame)
    assert [f[0] for f in folds] == ["A", "B", "C"]
    for _site, train, test in folds:
        assert not set(train["patient_id"]) & set(test["patient_id"])
        assert "s8" not in set(train["sample_id"]) | set(test["sample_id"])
    # p4 has samples at sites C and A: held-out C keeps p4 out of training
    held_c = dict((f[0], f) for f in folds)["C"]
    assert "p4" not in set(held_c[1]["patient_id"])
    assert rb.leave_one_site_out(frame.iloc[:2]) == []
