"""DNA sequences and single cells end to end: fixtures -> `climb prepare` -> the example
configs (configs/genomic_sequence.yaml, configs/scrna_celltype.yaml, shrunk) train 2 steps ->
`climb evaluate` on the test split. Plus the two encoders on their own."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from climb.models.encoders import build_encoder
from climb.read.sequence import DNA_VOCAB, one_hot
from tests.fixtures import genomic_promoters, pbmc68k
from tests.train.conftest import prepare_with_cli, train_and_evaluate


def _train_and_evaluate(cli, config: str, store: Path, run_dir: Path, overrides: list[str]):
    metrics, _, evaluated = train_and_evaluate(cli, config, store, run_dir, overrides, batch_size=8)
    assert metrics["global_step"] == 2
    return evaluated


def test_genomic_sequence_config(cli, tmp_path):
    store = tmp_path / "store"
    prepare_with_cli(cli, "genomic_promoters", genomic_promoters.build(tmp_path / "raw"), store)
    out = _train_and_evaluate(cli, "genomic_sequence.yaml", store, tmp_path / "runs",
                              ["model.encoders.sequence.channels=[8,8]",
                               "model.encoders.sequence.embed_dim=8"])
    task = out["tasks"]["genomic_promoters.promoter"]
    assert task["n_samples"] == 12 and task["metrics"]["auroc"]["value"] is not None


def test_scrna_celltype_config(cli, tmp_path):
    store = tmp_path / "store"
    prepare_with_cli(cli, "pbmc68k", pbmc68k.build(tmp_path / "raw"), store, pbmc68k.CONFIG)
    out = _train_and_evaluate(cli, "scrna_celltype.yaml", store, tmp_path / "runs",
                              [f"model.encoders.expression.in_features={pbmc68k.CONFIG['n_genes']}",
                               "model.encoders.expression.hidden=[16]"])
    task = out["tasks"]["pbmc68k.cell_type"]
    assert task["n_samples"] == 3 * len(pbmc68k.CELL_TYPES)
    assert task["bootstrap"]["unit"] == "sample (single patient)"


def test_sequence_cnn_pads_and_scaled_ids():
    ids = np.array([[1, 2, 3, 4, 5, 1, 0, 0], [2, 2, 0, 0, 0, 0, 0, 0]], np.uint8)
    for one in (False, True):
        torch.manual_seed(0)
        enc = build_encoder({"type": "sequence_cnn", "vocab_size": len(DNA_VOCAB),
                             "embed_dim": 4, "channels": [6], "kernel_size": 3,
                             "one_hot": one}).eval()
        as_uint8 = enc(torch.from_numpy(ids))
        scaled = enc(torch.from_numpy(ids).float() / 255)  # what the default Collator gives
        assert as_uint8.shape == (2, enc.out_dim) == (2, 12)
        torch.testing.assert_close(as_uint8, scaled)
        # padding is masked: extra pad positions change nothing
        longer = np.pad(ids, ((0, 0), (0, 5)))
        torch.testing.assert_close(enc(torch.from_numpy(longer)), as_uint8)
    assert one_hot(ids, len(DNA_VOCAB))[1, 2:].sum() == 0  # pad rows are zero in the view


def test_expression_mlp_log1p_and_norm():
    enc = build_encoder({"type": "expression_mlp", "in_features": 5, "hidden": [4],
                         "log1p": True})
    x = torch.tensor([[0.0, 1.0, 10.0, float("nan"), 3.0]])
    assert enc(x).shape == (1, 4) and torch.isfinite(enc(x)).all()
    with pytest.raises(Exception, match="in_features"):
        build_encoder({"type": "expression_mlp"})
