"""Storage codecs of volumes and clips: bytes per sample, encode time, decode samples/s, fidelity.

    python benches/volume_codecs.py [--seconds 1.0]

Samples (real pixels, standardized as prepare stores them):

- CT: pydicom-data's ``693_UNCR.dcm`` (a 512 x 512 abdominal CT slice, 0.68 mm pixels) in HU,
  made into 64 neighbouring "slices" by re-sampling it with a slowly growing zoom and shift
  (each slice averages a different set of source pixels, so neighbours differ as real ones
  do), then :func:`standardize_volume` to 64 x 128 x 128 at 1.5 mm: int16 HU, and uint8 over
  the abdomen window. The source bytes are the 64 DICOM slices the volume stands for.
- Clip: pydicom's ``examples_ybr_color.dcm`` (30 frames 240 x 320 ultrasound, YBR) through
  :func:`standardize_clip` (16 x 112 x 112 x 3 uint8, uniform). Source bytes: the DICOM file,
  and the same frames as an H.264 MP4 (PyAV, crf 23, the usual release quality).

Per codec: payload bytes per sample (and vs raw), encode ms, single-process decode samples/s
(:func:`climb.store.codecs.decode_array`, repeated for at least ``--seconds``), PSNR for the
lossy ones. The defaults in climb.store.codecs (volumes ``zstd_shuffle``, clips ``zstd``)
were picked from this table (docs/architecture.md).
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import numpy as np
import pydicom
from pydicom.data import get_testdata_file

from climb.read.dicom_cine import read_dicom_cine
from climb.read.standardize_volume import standardize_clip, standardize_volume
from climb.read.volume import Volume
from climb.store.codecs import decode_array, encode_array


def ct_volume() -> tuple[np.ndarray, np.ndarray, int]:
    """(int16 HU 64 x 128 x 128, uint8 abdomen-window version, source bytes)."""
    import torch
    import torch.nn.functional as F

    path = get_testdata_file("693_UNCR.dcm")
    ds = pydicom.dcmread(path)
    hu = ds.pixel_array.astype(np.float32) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    image = torch.from_numpy(hu)[None, None]
    slices = []
    for k in range(64):
        zoom, shift = 1.0 + 0.003 * k, 0.004 * k
        theta = torch.tensor([[[1 / zoom, 0, shift], [0, 1 / zoom, -shift]]], dtype=torch.float32)
        grid = F.affine_grid(theta, list(image.shape), align_corners=False)
        slices.append(F.grid_sample(image, grid, padding_mode="border", align_corners=False))
    stack = torch.cat(slices)[:, 0].numpy()
    spacing = (1.5, *(float(v) for v in ds.PixelSpacing))
    volume = Volume(
        np.rint(stack).astype(np.int16), "DHW", spacing=spacing, meta={"modality": "CT"}
    )
    hu16 = standardize_volume(volume, spacing=(1.5, 1.5, 1.5), shape=(64, 128, 128))
    windowed = standardize_volume(
        volume, spacing=(1.5, 1.5, 1.5), shape=(64, 128, 128), window="abdomen"
    )
    return hu16, windowed, 64 * Path(path).stat().st_size


def echo_clip() -> tuple[np.ndarray, int, int]:
    """(uint8 16 x 112 x 112 x 3, DICOM bytes, H.264 MP4 bytes of the source frames)."""
    import av

    path = get_testdata_file("examples_ybr_color.dcm")
    cine = read_dicom_cine(path)
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.options = {"crf": "23"}
        for frame in cine.array:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    clip = standardize_clip(cine, frames=16, size=112)
    return clip, Path(path).stat().st_size, len(buf.getvalue())


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(peak**2 / mse)


def measure(array: np.ndarray, codec: str, seconds: float) -> dict[str, float]:
    if codec == "raw":
        data, encode_ms = array.tobytes(), 0.0
    else:
        encode_array(array, codec)  # warm-up: codec contexts, imports
        start = time.perf_counter()
        data = encode_array(array, codec)
        encode_ms = 1000 * (time.perf_counter() - start)
    n, start = 0, time.perf_counter()
    while True:
        if codec == "raw":
            out = np.frombuffer(data, array.dtype).reshape(array.shape).copy()
        else:
            out = decode_array(data, array.shape, array.dtype, codec)
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and n >= 3:
            break
    peak = 255.0 if array.dtype == np.uint8 else float(array.max()) - float(array.min())
    return {
        "bytes": len(data),
        "encode_ms": encode_ms,
        "decode_per_s": n / elapsed,
        "psnr": psnr(out, array, peak),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()
    hu16, windowed, ct_source = ct_volume()
    clip, dicom_bytes, mp4_bytes = echo_clip()
    cases = [
        ("CT 64x128x128 int16 HU", hu16, ("raw", "zstd", "zstd_shuffle")),
        ("CT 64x128x128 uint8 window", windowed, ("raw", "zstd")),
        (
            "echo 16x112x112x3 uint8",
            clip,
            ("raw", "zstd", "png_frames", "jpeg_frames", "h264"),
        ),
    ]
    print(
        f"sources: CT {ct_source / 1e6:.1f} MB (64 DICOM slices of 512 x 512); echo DICOM "
        f"{dicom_bytes / 1e3:.0f} kB, as H.264 MP4 crf 23 {mp4_bytes / 1e3:.0f} kB (30 frames "
        "240 x 320)\n"
    )
    header = "| sample | codec | kB/sample | vs raw | encode ms | decode samples/s | PSNR dB |"
    print(header)
    print("|" + "---|" * 7)
    for label, array, codecs in cases:
        raw = array.nbytes
        for codec in codecs:
            r = measure(array, codec, args.seconds)
            quality = "exact" if r["psnr"] == float("inf") else f"{r['psnr']:.1f}"
            print(
                f"| {label} | {codec} | {r['bytes'] / 1e3:.1f} | {raw / r['bytes']:.2f}x | "
                f"{r['encode_ms']:.1f} | {r['decode_per_s']:.0f} | {quality} |"
            )


if __name__ == "__main__":
    main()
