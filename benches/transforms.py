"""Cost and reproducibility of the training-time image transforms (climb.load.transforms).

    python benches/transforms.py [--quick] [--train]

Part 1 - time of the configs/cxr_convnext.yaml augmentation (crop, flip, rotate, brightness,
contrast) per batch on each device (CPU, and CUDA when present) for uint8 channels-last
batches as the loader hands them on, next to one ConvNeXt V2-Atto training step (forward +
backward + AdamW, bf16 autocast on CUDA) on the same batch: the augmentation's share of a step.
Part 2 - the same seed gives bit-identical batches on a device, and CPU vs CUDA agree to
float rounding (parameters are drawn on the CPU).
Part 3 (``--train``) - configs/cxr_convnext.yaml with a tiny encoder on a small prepared PNG
store, trained twice on the fastest device (bf16 on CUDA): identical weights?
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from climb.load.transforms import BatchTransforms  # noqa: E402

ATTO = {
    "arch": "convnextv2",
    "normalize": "imagenet",
    "config": {"hidden_sizes": [40, 80, 160, 320], "depths": [2, 2, 6, 2]},
}


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _timed(fn, device: str, repeat: int) -> float:
    fn()
    _sync(device)
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    _sync(device)
    return (time.perf_counter() - start) / repeat * 1000


def spec() -> dict:
    return yaml.safe_load((ROOT / "configs" / "cxr_convnext.yaml").read_text())["transforms"]


def batch_on(device: str, b: int, c: int, size: int) -> dict:
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (b, size, size, c), generator=gen, dtype=torch.uint8)
    x = x.permute(0, 3, 1, 2).to(device)  # channels-last, as the Collator hands images on
    return {
        "inputs": {"image": x},
        "input_mask": {"image": torch.ones(b, dtype=torch.bool, device=device)},
    }


def part1(devices: list[str], quick: bool) -> None:
    from climb.models.encoders import build_encoder

    transforms = BatchTransforms(spec(), seed=0)
    shapes = [(64, 3, 224)] if quick else [(64, 3, 224), (256, 3, 224), (16, 1, 1024)]
    print("| device | batch | augment ms/batch | Atto train step ms | augment share |")
    print("|---|---|---|---|---|")
    for device in devices:
        for b, c, size in shapes:
            if device == "cpu" and b > 64:
                continue
            batch = batch_on(device, b, c, size)
            repeat = 3 if device == "cpu" else 20
            aug = _timed(lambda batch=batch: transforms(batch, (0, 0, 0)), device, repeat)
            step_ms = float("nan")
            if c == 3 and size == 224:
                enc = build_encoder({"type": "image", **ATTO}).to(device)
                head = torch.nn.Linear(enc.out_dim, 14).to(device)
                opt = torch.optim.AdamW([*enc.parameters(), *head.parameters()])
                x = transforms(batch, (0, 0, 0))["inputs"]["image"]

                def step(x=x, enc=enc, head=head, opt=opt, device=device):
                    with torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda"):
                        loss = head(enc(x)).float().pow(2).mean()
                    loss.backward()
                    opt.step()
                    opt.zero_grad(set_to_none=True)

                step_ms = _timed(step, device, 2 if device == "cpu" else 10)
            share = aug / (aug + step_ms) if step_ms == step_ms else float("nan")
            print(
                f"| {device} | {b}x{c}x{size}x{size} uint8 | {aug:.2f} | {step_ms:.1f} | "
                f"{share:.1%} |"
            )


def part2(devices: list[str]) -> None:
    transforms = BatchTransforms(spec(), seed=0)
    outs = {}
    for device in devices:
        batch = batch_on(device, 16, 3, 224)
        a = transforms(batch, (0, 3, 7))["inputs"]["image"]
        b = transforms(batch, (0, 3, 7))["inputs"]["image"]
        c = transforms(batch, (0, 3, 8))["inputs"]["image"]
        print(
            f"{device}: same key bit-identical {torch.equal(a, b)}, next step differs "
            f"{not torch.equal(a, c)}"
        )
        outs[device] = a.cpu()
    if len(outs) == 2:
        diff = (outs["cpu"] - outs["cuda"]).abs()
        print(f"cpu vs cuda: max |diff| {float(diff.max()):.2e}, mean {float(diff.mean()):.2e}")


def part3(device: str) -> None:
    from tests.train.image_stores import IMAGE_SETS, build_image_store

    from climb.train.config import load_config
    from climb.train.runner import run

    with tempfile.TemporaryDirectory() as tmp:
        store = build_image_store(Path(tmp))
        weights = []
        for name in ("a", "b"):
            gpu = device == "cuda"
            cfg = load_config(
                ROOT / "configs" / "cxr_convnext.yaml",
                [
                    f"data.store={store}",
                    f"data.datasets=[{IMAGE_SETS[0]}]",
                    f"run.dir={tmp}/runs",
                    f"run.name={name}",
                    "data.num_workers=0",
                    "data.batch_size=8",
                    "model.encoders.image={pretrained: null, arch: convnextv2, config: "
                    "{hidden_sizes: [8, 16], depths: [1, 1], image_size: 32}}",
                    f"trainer.accelerator={'gpu' if gpu else 'cpu'}",
                    "trainer.devices=1",
                    f"trainer.precision={'bf16-mixed' if gpu else '32-true'}",
                    "trainer.max_steps=6",
                    "trainer.max_epochs=3",
                    "optim.warmup_steps=1",
                    "trainer.enable_progress_bar=false",
                    "run.predict=[test]",
                ],
            )
            metrics = run(cfg)
            state = torch.load(
                Path(tmp) / "runs" / name / "checkpoints" / "last.ckpt",
                map_location="cpu",
                weights_only=False,
            )["state_dict"]
            weights.append(state)
            print(
                f"run {name} on {device}: global_step {metrics['global_step']}, test "
                f"{metrics['tasks'][f'{IMAGE_SETS[0]}.finding'].get('test')}"
            )
        same = all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
        print(f"two runs, same seed, {device}: bit-identical weights {same}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--train", action="store_true")
    args = parser.parse_args()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    torch.backends.cudnn.benchmark = False
    for title, fn in (
        ("part 1: cost", lambda: part1(devices, args.quick)),
        ("part 2: reproducibility", lambda: part2(devices)),
        ("part 3: training runs", lambda: part3(devices[-1]) if args.train else None),
    ):
        print(f"\n## {title}")
        try:
            fn()
        except Exception as err:  # report and go on: one run should say everything
            print(f"FAILED: {type(err).__name__}: {err}")


if __name__ == "__main__":
    main()
