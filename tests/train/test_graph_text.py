"""Graph and text inputs end to end: bundled mouse connectomes (GATv2 over 332-region DTI
graphs with edge weights) and IU X-ray reports (a tiny BERT with a WordPiece vocabulary
trained on the training reports, no download)."""

from __future__ import annotations

import pyarrow.parquet as pq

from tests.conftest import real_data_dir
from tests.train.conftest import _prepare, train


def _cfg(store, tmp_path, name, encoders, batch_size):
    return {
        "run": {"dir": str(tmp_path), "name": name},
        "data": {"store": str(store), "datasets": [name], "batch_size": batch_size},
        "model": {"encoders": encoders},
        "trainer": {"max_epochs": 1, "limit_train_batches": 2, "enable_progress_bar": False},
    }


def test_graph_encoder_on_mouse_connectomes(tmp_path):
    store = tmp_path / "store"
    _prepare("demo_mouse_connectomes", real_data_dir() / "connectomes-mouse", store)
    enc = {"graph": {"type": "graph", "conv": "gatv2", "in_channels": 8, "hidden": 16,
                     "heads": 2, "layers": 1}}
    metrics = train(_cfg(store, tmp_path, "demo_mouse_connectomes", enc, 4))
    assert metrics["global_step"] == 2
    assert metrics["tasks"]["demo_mouse_connectomes.genotype"]["test"]["n"] > 0
    preds = pq.read_table(tmp_path / "demo_mouse_connectomes" / "predictions" / "test.parquet")
    assert all(len(s) == 4 for s in preds.column("scores").to_pylist())  # 4 genotypes


def test_text_encoder_on_iu_xray_reports(tmp_path):
    from climb.models.encoders.text import train_wordpiece_vocab

    store = tmp_path / "store"
    _prepare("demo_iu_xray_reports", real_data_dir() / "iu-xray-reports", store)
    name = "demo_iu_xray_reports"
    texts = pq.read_table(store / name / "train-00000.parquet",
                          columns=["input.text"]).column(0).to_pylist()
    vocab = train_wordpiece_vocab(texts, tmp_path / "tok", vocab_size=500)
    enc = {"text": {"type": "text", "tokenizer": str(vocab), "max_length": 64,
                    "config": {"hidden_size": 32, "num_hidden_layers": 1,
                               "num_attention_heads": 2, "intermediate_size": 64,
                               "max_position_embeddings": 64}}}
    metrics = train(_cfg(store, tmp_path, name, enc, 16), "run.predict=[val]")
    val = metrics["tasks"][f"{name}.findings"]["val"]
    assert val["n"] > 0 and val["auroc_macro"] is not None
