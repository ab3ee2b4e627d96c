"""Every encoder: forward + backward on tiny configs, finite [B, out_dim] embeddings."""

from __future__ import annotations

import pytest
import torch

from climb.models.encoders import ConfigError, build_encoder
from tests.models.conftest import TINY_CONVNEXT, TINY_VIT


def _check(enc, x, b):
    h = enc(x)
    assert h.shape == (b, enc.out_dim)
    assert torch.isfinite(h).all()
    h.pow(2).mean().backward()
    grads = [p.grad for p in enc.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)


def test_xresnet1d_tiny_and_depths():
    enc = build_encoder({"type": "xresnet1d", "in_channels": 12, "layers": [1, 1],
                         "widths": [8, 16], "stem": [8, 8, 8], "expansion": 1, "dim": 32})
    _check(enc, torch.randn(3, 12, 500), 3)
    # xresnet1d50 layout builds (bottleneck, 4 stages) and keeps a 2*2048 pooled width
    big = build_encoder({"type": "xresnet1d", "in_channels": 12})
    assert big.out_dim == 2 * 512 * 4
    assert sum(len(s) for s in [big.blocks]) == 3 + 4 + 6 + 3


def test_xresnet1d_ignores_nan_samples():
    enc = build_encoder({"type": "xresnet1d", "in_channels": 1, "layers": [1], "widths": [8],
                         "stem": [8, 8, 8], "expansion": 1})
    x = torch.randn(2, 1, 300)
    x[1, 0, 10:20] = float("nan")
    assert torch.isfinite(enc(x)).all()


@pytest.mark.parametrize("tokens", ["stft", "patch"])
def test_biot_eeg(tokens):
    enc = build_encoder({"type": "biot", "dim": 16, "depth": 1, "heads": 2, "tokens": tokens,
                         "n_fft": 32, "hop": 16, "patch": 32})
    _check(enc, torch.randn(2, 14, 128), 2)
    # channel count can change between datasets
    assert enc(torch.randn(2, 4, 100)).shape == (2, 16)


@pytest.mark.parametrize("cfg", [TINY_CONVNEXT, TINY_VIT], ids=["convnextv2", "vit"])
def test_image_encoders(cfg):
    enc = build_encoder({"type": "image", **cfg, "dim": 12})
    _check(enc, torch.rand(2, 3, 32, 32), 2)
    # grey and uint8 images are accepted
    assert enc(torch.randint(0, 255, (2, 1, 32, 32), dtype=torch.uint8)).shape == (2, 12)


def test_volume_per_slice_encoder_with_attention_pool():
    enc = build_encoder({"type": "volume_slices", "image": TINY_CONVNEXT,
                         "pooling": "attention", "max_slices": 4})
    _check(enc, torch.rand(2, 7, 32, 32), 2)


def test_video_frame_encoder_and_videomae():
    enc = build_encoder({"type": "video_frames", "image": TINY_VIT, "max_frames": 3})
    _check(enc, torch.rand(2, 5, 3, 16, 16), 2)
    mae = build_encoder({"type": "videomae", "config": {
        "image_size": 16, "patch_size": 8, "num_frames": 4, "tubelet_size": 2,
        "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
        "intermediate_size": 32}})
    _check(mae, torch.rand(2, 6, 3, 20, 20), 2)


def _graphs(n_graphs: int, weighted: bool = True, features: bool = False):
    from torch_geometric.data import Batch, Data

    gen = torch.Generator().manual_seed(0)
    graphs = []
    for i in range(n_graphs):
        n = 5 + i
        ei = torch.randint(0, n, (2, 12), generator=gen)
        d = Data(edge_index=ei, num_nodes=n)
        if weighted:
            d.edge_weight = torch.rand(12, generator=gen)
        if features:
            d.x = torch.randn(n, 4, generator=gen)
        graphs.append(d)
    return Batch.from_data_list(graphs)


@pytest.mark.parametrize("conv", ["gat", "gatv2", "transformer", "gcn"])
def test_graph_encoders_use_edge_weights(conv):
    enc = build_encoder({"type": "graph", "conv": conv, "hidden": 8, "heads": 2, "layers": 2})
    _check(enc, _graphs(3), 3)
    enc.eval()
    g1, g2 = _graphs(2), _graphs(2)
    g2.edge_weight = g2.edge_weight * 5.0
    assert not torch.allclose(enc(g1), enc(g2)), "edge weights must change the embedding"


def test_graph_encoder_with_node_features_and_unweighted():
    enc = build_encoder({"type": "graph", "conv": "gatv2", "in_channels": 4, "hidden": 8,
                         "heads": 2, "pool": "mean"})
    _check(enc, _graphs(2, weighted=False, features=True), 2)


def test_text_encoder_with_trained_wordpiece(vocab_file):
    enc = build_encoder({"type": "text", "tokenizer": str(vocab_file), "max_length": 16,
                         "pooling": "mean",
                         "config": {"hidden_size": 16, "num_hidden_layers": 1,
                                    "num_attention_heads": 2, "intermediate_size": 32,
                                    "max_position_embeddings": 32}})
    ids = enc.tokenizer("small pleural effusion")["input_ids"]
    assert enc.tokenizer.unk_token_id not in ids  # vocabulary was learned from the texts
    _check(enc, ["heart size is normal", "small left pleural effusion", None], 3)


def test_tabular_mlp_with_missing_values():
    enc = build_encoder({"type": "mlp", "in_features": 6, "hidden": [16, 8],
                         "missing_indicators": True})
    x = torch.randn(4, 6)
    x[0, 2] = float("nan")
    _check(enc, x, 4)


def test_unknown_encoder_is_a_clear_error():
    with pytest.raises(ConfigError, match="unknown encoder type 'resnet50'"):
        build_encoder({"type": "resnet50"})
    with pytest.raises(ConfigError, match="mlp"):
        build_encoder({"type": "mlp", "in_features": 3, "bogus": 1})
