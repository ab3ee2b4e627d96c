"""Training-step throughput per encoder, and the share of step time spent waiting for data.

    python benches/train_step.py [--steps 5] [--batch 8] [--quick]

Part 1 — compute: one optimiser step (forward + backward + AdamW) of each encoder with a
linear head on random inputs of a realistic shape, in samples/s on this machine.
Part 2 — input pipeline: real training steps over a prepared store (the bundled MIT-BIH
beats, via climb.load + the training DataLoader) with 0 and 2 workers; "data wait" is the
time the loop blocks in ``next(loader)`` over the whole step time (target < 10 % with 2
workers). Figures depend on the machine and its load: run it on an idle machine to compare.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from climb.models.encoders import build_encoder

ATTO = {"arch": "convnextv2", "normalize": "imagenet",
        "config": {"hidden_sizes": [40, 80, 160, 320], "depths": [2, 2, 6, 2]}}  # ConvNeXtV2-A
VIT_TINY = {"arch": "vit", "config": {"image_size": 224, "patch_size": 16, "hidden_size": 192,
                                      "num_hidden_layers": 12, "num_attention_heads": 3,
                                      "intermediate_size": 768}}

TEXT = "no acute cardiopulmonary process heart size normal lungs clear effusion"


def encoder_cases(quick: bool) -> list[tuple[str, dict, callable]]:
    """(label, encoder config, batch maker) per modality."""
    s = 2 if quick else 1

    def graphs(b):
        from torch_geometric.data import Batch, Data

        out = []
        for _ in range(b):
            n = 332
            ei = torch.randint(0, n, (2, 4000))
            out.append(Data(edge_index=ei, edge_weight=torch.rand(4000), num_nodes=n))
        return Batch.from_data_list(out)

    def texts(b):
        words = TEXT.split(" ")
        return [" ".join(words[(i + j) % len(words)] for j in range(60)) for i in range(b)]

    return [
        ("ecg xresnet1d50 12x1000", {"type": "xresnet1d", "in_channels": 12},
         lambda b: torch.randn(b, 12, 1000)),
        ("ecg xresnet1d101 12x1000", {"type": "xresnet1d", "in_channels": 12,
                                      "layers": [3, 4, 23, 3]},
         lambda b: torch.randn(b, 12, 1000)),
        ("eeg BIOT d256x4 16x2000", {"type": "biot", "dim": 256, "depth": 4, "heads": 8},
         lambda b: torch.randn(b, 16, 2000)),
        ("image ConvNeXtV2-atto 224", {"type": "image", **ATTO},
         lambda b: torch.rand(b, 3, 224 // s, 224 // s)),
        ("image ViT-tiny/16 224", {"type": "image", **VIT_TINY},
         lambda b: torch.rand(b, 3, 224, 224)),
        ("volume atto/slice 16x128²", {"type": "volume_slices", "image": ATTO,
                                       "max_slices": 16},
         lambda b: torch.rand(b, 32, 128 // s, 128 // s)),
        ("video atto/frame 8x112²", {"type": "video_frames", "image": ATTO, "max_frames": 8},
         lambda b: torch.rand(b, 8, 3, 112 // s, 112 // s)),
        ("graph GATv2 332 nodes", {"type": "graph", "conv": "gatv2", "hidden": 64},
         graphs),
        ("text BERT-mini 4x256 L128", None, texts),
        ("tabular MLP 30 feats", {"type": "mlp", "in_features": 30, "hidden": [256, 256]},
         lambda b: torch.randn(b, 30)),
    ]


def text_encoder(tmp: Path) -> torch.nn.Module:
    from climb.models.encoders.text import train_wordpiece_vocab

    vocab = train_wordpiece_vocab([TEXT] * 10, tmp, vocab_size=200)
    return build_encoder({"type": "text", "tokenizer": str(vocab), "max_length": 128,
                          "config": {"hidden_size": 256, "num_hidden_layers": 4,
                                     "num_attention_heads": 4, "intermediate_size": 1024}})


def bench_compute(steps: int, batch: int, quick: bool) -> Table:
    table = Table(title=f"Part 1: train-step compute, batch {batch}, {torch.get_num_threads()} "
                        "threads")
    for col in ("encoder", "params", "ms/step", "samples/s"):
        table.add_column(col, justify="right" if col != "encoder" else "left")
    with tempfile.TemporaryDirectory() as tmp:
        for label, cfg, make in encoder_cases(quick):
            torch.manual_seed(0)
            enc = text_encoder(Path(tmp)) if cfg is None else build_encoder(cfg)
            head = torch.nn.Linear(enc.out_dim, 2)
            params = [*enc.parameters(), *head.parameters()]
            opt = torch.optim.AdamW(params, lr=1e-4)
            x = make(batch)
            y = torch.randint(0, 2, (batch,))
            times = []
            for i in range(steps + 1):
                t0 = time.perf_counter()
                loss = torch.nn.functional.cross_entropy(head(enc(x)), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                if i:  # the first step warms up allocators and kernels
                    times.append(time.perf_counter() - t0)
            ms = 1000 * sum(times) / len(times)
            n = sum(p.numel() for p in params)
            table.add_row(label, f"{n / 1e6:.2f}M", f"{ms:.0f}", f"{batch * 1000 / ms:.1f}")
    return table


def bench_pipeline(steps: int, batch: int) -> Table:
    from climb import demo_data
    from climb.load import load_task_specs
    from climb.models.model import MultimodalModel
    from climb.store.prepare import prepare
    from climb.train.config import load_config
    from climb.train.data import ClimbData

    table = Table(title=f"Part 2: input pipeline (demo_mitbih_beats store, batch {batch})")
    for col in ("model", "workers", "steps", "ms/step", "samples/s", "data wait"):
        table.add_column(col, justify="right" if col not in ("model",) else "left")
    with tempfile.TemporaryDirectory() as tmp:
        raw = demo_data.path("demo_mitbih_beats")
        prepare("demo_mitbih_beats", raw, tmp, progress=False, workers=1)
        encoders = {
            "xresnet1d50 + MLP": {
                "ecg": {"type": "xresnet1d", "in_channels": 2, "dim": 128},
                "tabular": {"type": "mlp", "in_features": 3, "hidden": [64]}},
            "tiny xresnet + MLP": {
                "ecg": {"type": "xresnet1d", "in_channels": 2, "layers": [1, 1],
                        "widths": [16, 32], "stem": [16, 16, 16], "expansion": 1},
                "tabular": {"type": "mlp", "in_features": 3, "hidden": [32]}},
        }
        for name, enc in encoders.items():
            for workers in (0, 2):
                cfg = load_config(None, [], base={
                    "data": {"store": tmp, "batch_size": batch, "num_workers": workers},
                    "model": {"encoders": enc, "fusion": {"type": "early", "dim": 64}}})
                tasks = load_task_specs(tmp)
                data = ClimbData(cfg, tasks, sorted(enc))
                model = MultimodalModel(enc, tasks, cfg["model"]["fusion"])
                opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
                loader = data.train_dataloader()
                it = iter(loader)
                next(it)  # worker start-up is not a per-step cost
                wait = total = 0.0
                n = 0
                for _ in range(steps):
                    t0 = time.perf_counter()
                    try:
                        b = next(it)
                    except StopIteration:
                        break
                    t1 = time.perf_counter()
                    out = model(b)["demo_mitbih_beats.beat"]
                    loss = torch.nn.functional.cross_entropy(out, b["labels"][
                        "demo_mitbih_beats.beat"])
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    t2 = time.perf_counter()
                    wait += t1 - t0
                    total += t2 - t0
                    n += 1
                table.add_row(name, str(workers), str(n), f"{1000 * total / n:.0f}",
                              f"{n * batch / total:.0f}", f"{100 * wait / total:.1f} %")
                del it, loader
    return table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=5, help="timed steps per encoder")
    ap.add_argument("--batch", type=int, default=8, help="batch size of part 1")
    ap.add_argument("--pipeline-steps", type=int, default=30)
    ap.add_argument("--pipeline-batch", type=int, default=64)
    ap.add_argument("--quick", action="store_true", help="smaller images (smoke test)")
    ap.add_argument("--only", choices=["compute", "pipeline"], help="run one part")
    args = ap.parse_args()
    console = Console()
    console.print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, "
                  f"{torch.get_num_threads()} threads")
    if args.only != "pipeline":
        console.print(bench_compute(args.steps, args.batch, args.quick))
    if args.only != "compute":
        console.print(bench_pipeline(args.pipeline_steps, args.pipeline_batch))


if __name__ == "__main__":
    main()
