"""Storage codecs of 2D images: bytes per sample, prepare and loader speed, fidelity.

    python benches/codecs.py [--images 256] [--sizes 224,512] [--workers 2] [--batch 32]
                             [--codecs raw,png,jpeg,webp,webp_lossless] [--seconds 3]

Chest-radiograph-like images: pydicom-data's two computed radiographs (RG1: a PA chest,
RG3), read with :func:`climb.read.dicom_image.read_dicom_image` (VOI window, MONOCHROME1
inverted), then seeded random crops (60-100 % of the side, any position, random horizontal
flip) standardized to ``size`` x ``size`` grey (:func:`standardize_image`, mode L). They are
written as grey PNG files into a ``testing.png_folder`` raw folder and prepared once per codec
(``image.codec``; jpeg and webp at ``image.quality`` 90), one record per row group.

Per codec and size: stored payload bytes per sample (and vs raw), prepare throughput (the
whole `climb prepare`: reading the PNG, encoding, writing), a single-process decode time per
image, loader samples/s (StoreDataset + DataLoader, ``--workers`` persistent workers, batch
``--batch``, shuffled epochs for at least ``--seconds``, timed from the first batch), the mean
PSNR against the raw pixels, and what 1 million such chest X-rays cost on disk.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch
from pydicom.data import get_testdata_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.store.png_folder import write_png_raw

from climb.load import Collator, StoreDataset
from climb.read.dicom_image import read_dicom_image
from climb.read.standardize import standardize_image
from climb.store.codecs import decode_image
from climb.store.index import INDEX
from climb.store.prepare import prepare

RADIOGRAPHS = ("RG1_UNCR.dcm", "RG3_UNCR.dcm")
NAME = "codec_bench"
OVERLAY = f"""
- name: {NAME}
  title: chest-radiograph crops for the codec bench
  modality: chest_xray
  domain: bench
  tasks:
    - name: label
      type: multiclass
      classes: [a, b]
  samples: {{total: 1, unit: images}}
  size_gb: 0
  access: {{tier: bundled, gate: written by the bench}}
  license: ODC-By
  homepage: https://github.com/climb
  citation: "@misc{{bench, title={{codec bench}}}}"
  split: {{official: false, definition: patient-level hash split}}
  patient_ids: {{available: true, field: patient_id}}
  adapter: testing.png_folder
"""
SPLITS = ["train", "val", "test"]


def chest_images(n: int, size: int, seed: int = 0) -> list[np.ndarray]:
    """``n`` grey ``size`` x ``size`` crops of the real radiographs."""
    sources = [read_dicom_image(get_testdata_file(name)).array for name in RADIOGRAPHS]
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        src = sources[i % len(sources)]
        side = int(min(src.shape) * rng.uniform(0.6, 1.0))
        top = int(rng.integers(0, src.shape[0] - side + 1))
        left = int(rng.integers(0, src.shape[1] - side + 1))
        crop = src[top : top + side, left : left + side]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        out.append(standardize_image(np.ascontiguousarray(crop), size=size, fit="crop"))
    return out


def write_raw(root: Path, images: list[np.ndarray]) -> Path:
    rows = [
        {"record": f"x{i:05d}", "patient_id": f"p{i}", "label": "ab"[i % 2]}
        for i in range(len(images))
    ]
    raw = write_png_raw(root / "raw", images, rows)
    (root / "overlay.yaml").write_text(OVERLAY)
    return raw


def loader_rate(store: Path, workers: int, batch: int, seconds: float) -> float:
    """Samples/s over shuffled epochs (at least ``seconds``), from the first batch."""
    ds = StoreDataset(store, split=SPLITS)
    loader = torch.utils.data.DataLoader(
        ds,
        batch_size=batch,
        shuffle=True,
        num_workers=workers,
        persistent_workers=workers > 0,
        collate_fn=Collator(ds.tasks, keep_dtype=True),
        generator=torch.Generator().manual_seed(0),
    )
    samples, start = 0, None
    while start is None or time.perf_counter() - start < seconds:
        for out in loader:
            if start is None:
                start = time.perf_counter()
                continue
            samples += len(out["sample_id"])
    return samples / (time.perf_counter() - start)


def payloads(store: Path) -> tuple[list[bytes], list[str]]:
    """The stored image payloads and their encodings, in index order."""
    index = pq.read_table(store / NAME / INDEX)
    manifest = json.loads((store / NAME / "manifest.json").read_text())
    data, encodings = [], []
    for shard in manifest["shards"]:
        table = pq.read_table(
            store / NAME / shard["path"], columns=["input.image", "input.image.attrs"]
        )
        data += table.column(0).to_pylist()
        encodings += [json.loads(a).get("encoding", "raw") for a in table.column(1).to_pylist()]
    assert len(data) == index.num_rows
    return data, encodings


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


def bench_size(size: int, args, root: Path) -> list[dict]:
    images = chest_images(args.images, size)
    raw = write_raw(root / f"s{size}", images)
    by_key = {f"x{i:05d}": image for i, image in enumerate(images)}
    rows = []
    for codec in args.codecs.split(","):
        store = root / f"s{size}" / f"store_{codec}"
        start = time.perf_counter()
        prepare(
            NAME,
            raw,
            store,
            catalog=root / f"s{size}" / "overlay.yaml",
            workers=args.workers,
            progress=False,
            config={
                "image.codec": codec,
                "image.quality": args.quality,
                "mode": "L",
                "row_group_bytes": 1,
            },
        )
        prepare_rate = len(images) / (time.perf_counter() - start)
        data, encodings = payloads(store)
        per_sample = float(np.mean([len(d) for d in data]))
        start = time.perf_counter()
        for blob, enc in zip(data, encodings, strict=True):
            if enc != "raw":
                decode_image(blob, (size, size), "uint8", enc)
        decode_us = (time.perf_counter() - start) / len(data) * 1e6
        ds = StoreDataset(store, split=SPLITS)
        quality = [
            psnr(ds[i]["inputs"]["image"][0], by_key[ds[i]["sample_id"]]) for i in range(len(ds))
        ]
        rate = loader_rate(store, args.workers, args.batch, args.seconds)
        rows.append(
            {
                "size": size,
                "codec": codec,
                "bytes": per_sample,
                "ratio": size * size / per_sample,
                "prepare": prepare_rate,
                "decode_us": decode_us,
                "loader": rate,
                "psnr": float(np.mean(quality)),
            }
        )
        print(
            f"  {size} {codec}: {per_sample / 1024:.1f} KiB/sample, {rate:.0f} samples/s",
            flush=True,
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--sizes", default="224,512")
    parser.add_argument("--codecs", default="raw,png,jpeg,webp,webp_lossless")
    parser.add_argument("--quality", type=int, default=90)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [r for size in args.sizes.split(",") for r in bench_size(int(size), args, Path(tmp))]
    print(
        f"\n{args.images} chest-radiograph crops per size, {args.workers} loader workers, "
        f"batch {args.batch}; lossy at quality {args.quality}\n"
    )
    print(
        "| size | codec | KiB/sample | x smaller | prepare img/s | decode us/img "
        "| loader samples/s | PSNR dB | 1M images |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        psnr_text = "exact" if r["psnr"] == float("inf") else f"{r['psnr']:.1f}"
        corpus = r["bytes"] * 1e6 / 1e9
        print(
            f"| {r['size']} | {r['codec']} | {r['bytes'] / 1024:.1f} | {r['ratio']:.2f} "
            f"| {r['prepare']:.0f} | {r['decode_us']:.0f} | {r['loader']:.0f} "
            f"| {psnr_text} | {corpus:.1f} GB |"
        )


if __name__ == "__main__":
    main()
