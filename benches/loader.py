"""Loader throughput, memory and bytes on disk: climb's store (DataLoader workers and the
in-process threaded loader) vs raw decoding, MONAI, HF datasets, memcpy; per storage codec.

    python benches/loader.py [--quick] [--ecg 400] [--images 600] [--volumes 160]
                             [--videos 160] [--workers 2] [--threads 2] [--float32]

For four sample kinds — 12-lead ECG records (12 x 5000, WFDB), 224 x 224 RGB images (PNG),
small CT volumes (32 x 128 x 128, one DICOM file per slice) and echo video clips (16 x 112 x
112 x 3, from AVI files of real ultrasound frames: pydicom's ``examples_ybr_color.dcm`` cine
in the EchoNet-Dynamic layout, prepared by the ``echonet_dynamic`` adapter) — it writes a raw
dataset in the real format, runs ``climb prepare`` on it once per storage codec (ECG:
``signal.codec`` raw, auto (WFDB's digital samples), float_zstd; images: ``image.codec``
raw, png, jpeg q90; volumes: ``volume.codec`` raw, zstd, zstd_shuffle; clips: ``video.codec``
raw, zstd, png_frames, jpeg_frames q90, h264 crf18; the table marks each kind's default),
then measures shuffled epochs (batch 32, the same collate, the same
DataLoader settings: ``--workers`` persistent workers, no pinned memory) of:

  (a) climb      StoreDataset over the prepared Parquet store, through the DataLoader
  (a') climb-threads  the same StoreDataset through climb.load.threaded.ThreadedLoader:
                 ``--threads`` reader threads in the measuring process, reused batch
                 buffers, no worker processes (the same batches in the same order)
  (b) raw        decoding the raw files per sample (wfdb / Pillow PNG / pydicom)
  (c) monai      monai.data.PersistentDataset over the same samples (its cache built first)
  (d) hf         Hugging Face datasets over the same Parquet shards (Arrow cache built first),
                 read a batch at a time (``Dataset.__getitems__``, as a DataLoader over a
                 ``datasets.Dataset`` does)
  (e) memcpy     gathering the batch's samples, already in RAM as one array, into a new
                 batch array (one process, no DataLoader): the copy bound
  (e') memcpy-dl the same gather, but through the same DataLoader as (a)-(d): in its workers,
                 into the shared-memory batch buffer that (a) reads into, handed to the main
                 process — the bound for any loader delivering batches from worker processes
                 (it pays what (a) pays but the file read: shared-memory page faults, which
                 do not get the huge pages numpy gives (e)'s batch arrays, and the hand-over)

The raw-codec store of each kind is measured with every method; the other codecs' stores
with (a) and (a'). Every row also gives the bytes on disk: the raw dataset's files (source),
the prepared dataset's folder (store: shards, index, manifest) and their ratio.

Every method yields the same batch: ``Collator(keep_dtype=True)``, the stored dtype
(float32 ECG, uint8 images, int16 volumes; models convert on the device), or with
``--float32`` ``Collator()``'s float32 batch (uint8 scaled to [0, 1]), which (e) then also
makes (one cast-and-copy pass per sample; (e') through the Collator, as (a)).

Each measurement runs in its own subprocess (clean peak RSS, VmHWM: main process and the
largest DataLoader worker) over at least 3 epochs ($CLIMB_BENCH_EPOCHS) and at least 3 s
($CLIMB_BENCH_SECONDS: more epochs until then, so that a fast loader is not timed over a
fraction of a second on a shared machine), timed from the first batch
(worker start-up excluded). Finally (a) runs over the store at 1x and at ``--scale`` x its
size (shards hard-linked, index rebuilt) to compare peak RSS. Prints one table, then the
targets of issue 15, each marked met or missed: climb >= 2x HF datasets and >= 2x MONAI
PersistentDataset (climb's better path); the in-process path >= 0.5x the in-process memcpy
bound (raw codec) and >= 1.0x the multi-process path; store <= 1.0x source bytes.

``--quick`` (< 3 minutes on 2 idle cores): small datasets, the raw and default codecs only,
one epoch of at least 0.5 s, all methods of one store in one subprocess (so no peak-RSS
figures) and no scaled-store RSS run.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
KINDS = ("ecg", "image", "volume", "video")
METHODS = ("climb", "climb-threads", "raw", "monai", "hf", "memcpy", "memcpy-dl")
#: The storage codecs measured per kind (prepare options); the first, raw, is the store every
#: method is compared on, the default codec of the kind is marked in the table.
CODECS = {
    "ecg": [("raw", {"signal.codec": "raw"}), ("auto", {"signal.codec": "auto"}),
            ("float_zstd", {"signal.codec": "float_zstd"})],
    "image": [("raw", {"image.codec": "raw"}), ("png", {"image.codec": "png"}),
              ("jpeg q90", {"image.codec": "jpeg", "image.quality": 90})],
    "volume": [("raw", {"volume.codec": "raw"}), ("zstd", {"volume.codec": "zstd"}),
               ("zstd_shuffle", {"volume.codec": "zstd_shuffle"})],
    "video": [("raw", {"video.codec": "raw"}), ("zstd", {"video.codec": "zstd"}),
              ("png_frames", {"video.codec": "png_frames"}),
              ("jpeg_frames q90", {"video.codec": "jpeg_frames", "video.quality": 90}),
              ("h264 crf18", {"video.codec": "h264", "video.crf": 18})],
}


def default_codecs() -> dict[str, str]:
    """The codec ``prepare`` uses per kind when none is given (climb.store.codecs)."""
    from climb.store import codecs

    return {"ecg": codecs.SIGNAL_DEFAULT_CODEC, "image": codecs.DEFAULT_CODEC,
            "volume": codecs.VOLUME_DEFAULT_CODEC, "video": codecs.VIDEO_DEFAULT_CODEC}


#: Per codec store, the methods that read the store itself.
STORE_METHODS = ("climb", "climb-threads")
VIDEO_FRAMES = 40  # per source video: a 16-frame clip with stride 2 needs 31

OVERLAY = """
- name: bench_{kind}
  title: climb loader benchmark ({kind})
  modality: {modality}
  domain: benchmark
  tasks:
    - name: {task}
      type: {type}
      classes: {classes}
  samples: {{total: {n}, unit: samples}}
  size_gb: 0
  access: {{tier: bundled, gate: generated by benches/loader.py}}
  license: ODC-By
  homepage: https://github.com/climb
  citation: "@misc{{bench, title={{climb loader benchmark}}}}"
  split: {{official: false, definition: patient-level hash split}}
  patient_ids: {{available: true, field: patient_id}}
  adapter: {adapter}
"""
SPEC = {
    "ecg": {"modality": "ecg", "adapter": "testing.synthetic", "input": "ecg"},
    "image": {"modality": "clinical_photo", "adapter": "testing.png_folder", "input": "image"},
    "volume": {"modality": "ct", "adapter": "testing.dicom_series", "input": "volume"},
    "video": {"input": "video"},  # the real echonet_dynamic catalog entry and adapter
}


def dataset_name(kind: str) -> str:
    return "echonet_dynamic" if kind == "video" else f"bench_{kind}"


def folder_bytes(path: Path) -> int:
    """Bytes of the files under ``path`` (the ``.work`` journal of a store left out)."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()
               and ".work" not in p.relative_to(path).parts)


# ----------------------------------------------------------------------------- raw data


def build_ecg(raw: Path, n: int) -> None:
    """n 12-lead, 10-s, 500 Hz WFDB records cut from MIT-BIH record 100 (real signal)."""
    import wfdb

    (raw / "records").mkdir(parents=True, exist_ok=True)
    src = wfdb.rdrecord(str(REPO / "src/climb/demo_data/demo_mitbih_beats/100")).p_signal
    rows = []
    for i in range(n):
        starts = [(i * 7919 + k * 50021) % (len(src) - 5000) for k in range(6)]
        sig = np.concatenate([src[s : s + 5000] for s in starts], axis=1)  # 5000 x 12
        name = f"r{i:05d}"
        wfdb.wrsamp(name, fs=500, units=["mV"] * 12, sig_name=[f"L{k}" for k in range(12)],
                    p_signal=sig, fmt=["16"] * 12, adc_gain=[200.0] * 12, baseline=[0] * 12,
                    write_dir=str(raw / "records"))
        rows.append({"record": name, "patient_id": f"p{i // 2}", "rhythm": "normal",
                     "beats": "N", "fold": ""})
    _labels(raw, rows)


def build_images(raw: Path, n: int) -> None:
    """n 224 x 224 RGB PNG images (smooth random fields + noise)."""
    from PIL import Image

    (raw / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        low = rng.random((8, 8, 3)) * 255
        img = np.kron(low, np.ones((28, 28, 1))) + rng.normal(0, 8, (224, 224, 3))
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(
            raw / "images" / f"i{i:05d}.png")
        rows.append({"record": f"i{i:05d}", "patient_id": f"p{i // 2}", "label": "a"})
    _labels(raw, rows)


def build_volumes(raw: Path, n: int) -> None:
    """n series of 32 CT slices (128 x 128 int16), from pydicom's CT_small.dcm."""
    import pydicom
    from pydicom.data import get_testdata_file

    template = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    base = template.pixel_array.astype(np.int16)
    for tag in ("PatientName", "PatientID", "PatientBirthDate"):
        if tag in template:
            setattr(template, tag, "")
    rng = np.random.default_rng(0)
    x, y, z0 = (float(v) for v in template.ImagePositionPatient)
    rows = []
    for i in range(n):
        folder = raw / "series" / f"v{i:05d}"
        folder.mkdir(parents=True, exist_ok=True)
        for z in range(32):
            px = (np.roll(base, z + i, axis=0) + rng.integers(-20, 20, base.shape)).astype(
                np.int16)
            template.PixelData = px.tobytes()
            template.InstanceNumber = z + 1
            template.ImagePositionPatient = [x, y, z0 + 5.0 * z]  # 5 mm apart
            template.save_as(folder / f"{z:03d}.dcm")
        rows.append({"record": f"v{i:05d}", "patient_id": f"p{i // 2}", "label": "a"})
    _labels(raw, rows)


def build_videos(raw: Path, n: int) -> None:
    """n EchoNet-Dynamic AVI videos (MPEG-4 part 2, 112 x 112, 50 fps, VIDEO_FRAMES frames)
    of the real ultrasound frames of pydicom's ``examples_ybr_color.dcm`` (30-frame colour
    cine, cycled from a per-video offset), in the release layout (FileList.csv, an empty
    VolumeTracings.csv, Videos/)."""
    import av
    import pydicom
    from PIL import Image
    from pydicom.data import get_testdata_file
    from pydicom.pixels import convert_color_space

    ds = pydicom.dcmread(get_testdata_file("examples_ybr_color.dcm"))
    cine = convert_color_space(ds.pixel_array, "YBR_FULL", "RGB")
    frames = np.stack([np.asarray(Image.fromarray(f).resize((112, 112),
                                                            Image.Resampling.BILINEAR))
                       for f in cine])
    base = raw / "EchoNet-Dynamic"
    (base / "Videos").mkdir(parents=True, exist_ok=True)
    splits = ["TRAIN"] * 8 + ["VAL", "TEST"]
    with (base / "FileList.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["FileName", "EF", "ESV", "EDV", "FrameHeight", "FrameWidth", "FPS",
                    "NumberOfFrames", "Split"])
        for i in range(n):
            w.writerow([f"0XB{i:05d}", 40 + i % 30, 50.0, 120.0, 112, 112, 50, VIDEO_FRAMES,
                        splits[i % len(splits)]])
    (base / "VolumeTracings.csv").write_text("FileName,X1,Y1,X2,Y2,Frame\n")
    for i in range(n):
        with av.open(str(base / "Videos" / f"0XB{i:05d}.avi"), mode="w") as container:
            stream = container.add_stream("mpeg4", rate=50)
            stream.width = stream.height = 112
            stream.pix_fmt = "yuv420p"
            stream.options = {"qscale": "2"}
            for k in range(VIDEO_FRAMES):
                frame = frames[(i * 7 + k) % len(frames)]
                container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
            container.mux(stream.encode())


def _labels(raw: Path, rows: list[dict]) -> None:
    with (raw / "labels.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def write_overlay(path: Path, sizes: dict[str, int]) -> None:
    parts = []
    for kind, n in sizes.items():
        if kind == "ecg":
            task = {"task": "rhythm", "type": "multiclass", "classes": "[normal, paced, other]"}
            parts.append(OVERLAY.format(kind=kind, n=n, **SPEC[kind], **task).replace(
                "      classes: [normal, paced, other]\n",
                "      classes: [normal, paced, other]\n    - name: beats\n"
                "      type: multilabel\n      classes: [N, A, V]\n"))
        else:
            task = {"task": "label", "type": "multiclass", "classes": "[a, b]"}
            parts.append(OVERLAY.format(kind=kind, n=n, **SPEC[kind], **task))
    path.write_text("".join(parts))


# ----------------------------------------------------------------------------- children


def _raw_items(work: Path, kind: str) -> list[tuple[str, str]]:
    raw = work / kind / "raw"
    if kind == "video":
        with (raw / "EchoNet-Dynamic" / "FileList.csv").open() as fh:
            return [(r["FileName"], r["FileName"]) for r in csv.DictReader(fh)]
    with (raw / "labels.csv").open() as fh:
        return [(r["record"], r["patient_id"]) for r in csv.DictReader(fh)]


def decode_raw(work: Path, kind: str, record: str) -> np.ndarray:
    """(b): decode one raw sample with the format's library."""
    raw = work / kind / "raw"
    if kind == "ecg":
        from climb.read.wfdb import read_wfdb

        return read_wfdb(raw / "records" / record).data
    if kind == "image":
        from climb.read.image import read_image

        return read_image(raw / "images" / f"{record}.png").transpose(2, 0, 1)
    if kind == "video":  # as the echonet_dynamic adapter: decode, strided 16-frame clip
        from climb.adapt import get_adapter

        adapter = _video_adapter(raw, get_adapter)
        record_ = next(iter(adapter[0].load(raw, adapter[1][record])))
        return record_.inputs["video"].data.transpose(0, 3, 1, 2)
    from climb.read.dicom import read_dicom_series

    return read_dicom_series(raw / "series" / record)[0]


_ADAPTER: dict[str, tuple] = {}


def _video_adapter(raw: Path, get_adapter) -> tuple:
    """(the echonet_dynamic adapter, its items by key), once per process."""
    if "video" not in _ADAPTER:
        adapter = get_adapter("echonet_dynamic")
        _ADAPTER["video"] = (adapter, {it.key: it for it in adapter.items(raw)})
    return _ADAPTER["video"]


class RawDataset:
    def __init__(self, work: Path, kind: str):
        self.work, self.kind = work, kind
        self.items = _raw_items(work, kind)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        record, patient = self.items[i]
        return _sample(self.kind, decode_raw(self.work, self.kind, record), record, patient)


def _sample(kind: str, arr, sid: str, patient: str) -> dict:
    return {"inputs": {SPEC[kind]["input"]: arr}, "labels": {}, "sample_id": sid,
            "patient_id": patient, "dataset": f"bench_{kind}", "split": "train", "meta": {}}


def monai_load(work: Path, kind: str):
    """A deterministic MONAI Transform decoding the raw file named by data["record"] (a
    monai.transforms.Transform, so that PersistentDataset caches its output)."""
    from monai.transforms import Transform

    class MonaiLoad(Transform):
        def __call__(self, data: dict) -> dict:
            return {**data, "x": decode_raw(work, kind, data["record"])}

    return MonaiLoad()


class MonaiWrap:
    def __init__(self, ds, kind: str):
        self.ds, self.kind = ds, kind

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i: int) -> dict:
        d = self.ds[i]
        return _sample(self.kind, np.asarray(d["x"]), d["record"], d["patient"])


def monai_dataset(work: Path, kind: str):
    from monai.data import PersistentDataset

    data = [{"record": r, "patient": p} for r, p in _raw_items(work, kind)]
    return PersistentDataset(data, transform=monai_load(work, kind),
                             cache_dir=str(work / kind / "monai_cache"))


def in_ram(ds, kind: str) -> np.ndarray:
    """(e), (e'): every sample's array, in one C-contiguous array (np.stack alone would keep
    the channels-last memory order of the image views: a transposing gather)."""
    return np.ascontiguousarray(np.stack([ds[i]["inputs"][SPEC[kind]["input"]]
                                          for i in range(len(ds))]))


class MemDataset:
    """(e'): the samples' arrays in RAM (one array, shared with forked workers); a batch is a
    gather into the shared-memory batch buffer that StoreDataset reads into, which the
    Collator hands on as StoreDataset's (``SampleBatch.batched``)."""

    def __init__(self, data: np.ndarray, kind: str):
        self.data, self.kind = data, kind

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> dict:
        return self.__getitems__([i])[0]

    def __getitems__(self, indices: list[int]):
        import torch

        from climb.load.collate import _batch_tensor
        from climb.load.dataset import SampleBatch

        idx = np.asarray(indices)
        tensor = _batch_tensor((len(idx), *self.data.shape[1:]),
                               torch.from_numpy(self.data[:0]).dtype)
        np.take(self.data, idx, axis=0, out=tensor.numpy(), mode="clip")  # unbuffered
        views = list(tensor.numpy())
        out = SampleBatch(_sample(self.kind, v, str(i), str(i))
                          for v, i in zip(views, idx, strict=True))
        out.batched = {SPEC[self.kind]["input"]: (tensor, views)}
        return out


class HFWrap:
    def __init__(self, ds, kind: str):
        self.ds, self.kind = ds, kind
        self.col = "input." + SPEC[kind]["input"]

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i: int) -> dict:
        return self._sample(self.ds[i])

    def __getitems__(self, indices: list[int]) -> list[dict]:
        return [self._sample(row) for row in self.ds.__getitems__(list(indices))]

    def _sample(self, row: dict) -> dict:
        arr = np.frombuffer(row[self.col], dtype=row[self.col + ".dtype"]).reshape(
            row[self.col + ".shape"])
        if self.kind == "image":
            arr = arr.transpose(2, 0, 1)
        elif self.kind == "video":
            arr = arr.transpose(0, 3, 1, 2)
        return _sample(self.kind, arr, row["sample_id"], row["patient_id"])


def hf_dataset(work: Path, kind: str, store: Path):
    import datasets

    datasets.disable_progress_bars()
    files = sorted(str(p) for p in (store / dataset_name(kind)).glob("*.parquet"))
    return datasets.load_dataset("parquet", data_files={"data": files},
                                 cache_dir=str(work / kind / "hf_cache"))["data"]


def _hwm_mb(pid: int | str = "self") -> float:
    """Peak RSS (VmHWM) of a process, MB. (ru_maxrss would include the parent's peak, which
    a child inherits across fork + exec.)"""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except FileNotFoundError:  # that worker has exited
        return 0.0
    for line in lines:
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _workers_peak(it) -> float:
    """The largest peak RSS among the live DataLoader workers of iterator ``it``, MB."""
    return max((_hwm_mb(w.pid) for w in getattr(it, "_workers", [])), default=0.0)


EPOCHS = int(os.environ.get("CLIMB_BENCH_EPOCHS", "3"))
MIN_SECONDS = float(os.environ.get("CLIMB_BENCH_SECONDS", "3"))


def _more(epoch: int, start: float | None) -> bool:
    """Whether to run epoch ``epoch``: the first EPOCHS, then more until MIN_SECONDS have
    passed since ``start`` (the timer's start; None = not started)."""
    return epoch < EPOCHS or start is None or time.perf_counter() - start < MIN_SECONDS


def child(method: str, kind: str, work: Path, workers: int, batch: int, store: Path,
          float32: bool = False, threads: int = 2) -> dict:
    """Run one measurement (in a fresh process); returns samples, seconds, peak RSS."""
    import torch

    from climb.load import Collator, StoreDataset
    from climb.load.threaded import ThreadedLoader

    torch.set_num_threads(1)
    name = dataset_name(kind)
    if method == "setup-monai":
        ds = monai_dataset(work, kind)
        for i in range(len(ds)):
            ds[i]
        cached = len(list((work / kind / "monai_cache").glob("*.pt")))
        assert cached == len(ds), f"MONAI cached {cached} of {len(ds)} samples"
        return {}
    if method == "setup-hf":
        hf_dataset(work, kind, store)
        return {}
    if method == "memcpy":
        ds = StoreDataset(store, [name], split=["train", "val", "test"])
        data = in_ram(ds, kind)
        start = time.perf_counter()
        epochs = 0
        while _more(epochs, start):
            epochs += 1
            order = np.random.default_rng(epochs).permutation(len(ds))
            for b in range(0, len(order), batch):
                idx = order[b : b + batch]
                if not float32:
                    out = data[idx]  # a new batch array: one copy of the batch's bytes
                    continue
                out = np.empty((len(idx), *data.shape[1:]), np.float32)
                for j, i in enumerate(idx):  # as the Collator: one cast(-and-scale) pass
                    if data.dtype == np.uint8:
                        np.multiply(data[i], np.float32(1 / 255), out=out[j], casting="unsafe")
                    else:
                        np.copyto(out[j], data[i], casting="unsafe")
        elapsed = time.perf_counter() - start
        assert out.size
        return {"samples": epochs * len(ds), "seconds": elapsed, "rss": (_hwm_mb(), 0.0)}
    if method in ("climb", "climb-threads"):
        ds = StoreDataset(store, [name], split=["train", "val", "test"])
    elif method == "raw":
        ds = RawDataset(work, kind)
    elif method == "monai":
        ds = MonaiWrap(monai_dataset(work, kind), kind)
    elif method == "hf":
        ds = HFWrap(hf_dataset(work, kind, store), kind)
    elif method == "memcpy-dl":
        store_ds = StoreDataset(store, [name], split=["train", "val", "test"])
        ds = MemDataset(in_ram(store_ds, kind), kind)
    else:
        raise ValueError(method)
    collate = Collator(keep_dtype=not float32)
    generator = torch.Generator().manual_seed(0)
    if method == "climb-threads":
        loader = ThreadedLoader(ds, batch_size=batch, shuffle=True, collate_fn=collate,
                                generator=generator, threads=threads)
    else:
        loader = torch.utils.data.DataLoader(
            ds, batch_size=batch, shuffle=True, num_workers=workers, collate_fn=collate,
            pin_memory=False, generator=generator, persistent_workers=workers > 0)
    n = 0
    start = None
    worker_peak = 0.0
    epoch = 0
    while _more(epoch, start):
        epoch += 1
        it = iter(loader)
        for k, b in enumerate(it):  # timed from the first batch: worker start-up excluded
            if k % 4 == 0:  # sample the workers' peak while they are alive
                worker_peak = max(worker_peak, _workers_peak(it))
            if start is None:
                start = time.perf_counter()
                continue
            n += len(b["sample_id"])
        worker_peak = max(worker_peak, _workers_peak(it))
        del it, b  # the threaded loader then reuses the last batch's buffers too
    elapsed = time.perf_counter() - start
    return {"samples": n, "seconds": elapsed, "rss": (_hwm_mb(), worker_peak)}


def run_child(methods: list[str], kind, work, workers, batch, store, float32=False,
              threads=2) -> dict:
    """Run ``methods`` (one after the other) in a fresh subprocess; {method: result}."""
    cmd = [sys.executable, __file__, "--child", ",".join(methods), kind, str(work),
           str(workers), str(batch), str(store), str(int(float32)), str(threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{methods}/{kind} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- main


def scaled_store(work: Path, kind: str, scale: int, store: Path) -> Path:
    """STORE x ``scale``: the shards hard-linked ``scale`` times, listed in one manifest."""
    name = dataset_name(kind)
    src = store / name
    dest_root = work / f"store_{kind}_x{scale}"
    dest = dest_root / name
    dest.mkdir(parents=True, exist_ok=True)
    manifest = json.loads((src / "manifest.json").read_text())
    shards = []
    for k in range(scale):
        for s in manifest["shards"]:
            name = f"{s['split']}-{k:03d}{s['path'].split('-', 1)[1]}"
            if not (dest / name).exists():
                os.link(src / s["path"], dest / name)
            shards.append({**s, "path": name})
    manifest["shards"] = shards
    (dest / "manifest.json").write_text(json.dumps(manifest))
    from climb.store.index import build_index

    if not (dest / "_index").exists():
        build_index(dest, [s["path"] for s in shards])
    return dest_root


def measure(kind: str, methods: list[str], work: Path, store: Path, args) -> dict:
    """{method: result}: one subprocess per method, or (``--quick``) one for them all."""
    groups = [methods] if args.quick else [[m] for m in methods]
    out: dict = {}
    for group in groups:
        out.update(run_child(group, kind, work, args.workers, args.batch, store, args.float32,
                             args.threads))
    for m in methods:
        r = out[m]
        if not r:  # a setup step
            continue
        print(f"[{kind} {store.name}] {m}: {r['samples'] / r['seconds']:.0f} samples/s",
              file=sys.stderr)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ecg", type=int, default=400, help="ECG records")
    parser.add_argument("--images", type=int, default=600, help="PNG images")
    parser.add_argument("--volumes", type=int, default=160, help="CT volumes")
    parser.add_argument("--videos", type=int, default=160, help="echo videos")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers")
    parser.add_argument("--threads", type=int, default=2, help="threads of climb-threads")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--scale", type=int, default=10, help="size factor of the RSS test")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--workdir", type=Path, default=None, help="keep data here")
    parser.add_argument("--float32", action="store_true",
                        help="collate to float32 (uint8 scaled) instead of the stored dtype")
    parser.add_argument("--quick", action="store_true",
                        help="small datasets, short runs, no RSS figures (< 3 minutes)")
    args = parser.parse_args()
    if args.quick:
        os.environ.setdefault("CLIMB_BENCH_EPOCHS", "1")
        os.environ.setdefault("CLIMB_BENCH_SECONDS", "0.5")
        args.ecg, args.images, args.volumes, args.videos = (min(args.ecg, 128),
                                                            min(args.images, 192),
                                                            min(args.volumes, 32),
                                                            min(args.videos, 48))
    global EPOCHS, MIN_SECONDS
    EPOCHS = int(os.environ.get("CLIMB_BENCH_EPOCHS", "3"))
    MIN_SECONDS = float(os.environ.get("CLIMB_BENCH_SECONDS", "3"))
    os.environ["CLIMB_COUNTS_CHECK"] = "off"  # generated data: the catalog's counts differ

    from climb.store.prepare import prepare

    sizes = {"ecg": args.ecg, "image": args.images, "volume": args.volumes,
             "video": args.videos}
    kinds = [k for k in args.kinds.split(",") if k]
    sizes = {k: n for k, n in sizes.items() if n > 0 and k in kinds}
    methods = [m for m in args.methods.split(",") if m]
    tmp = None
    if args.workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="climb-bench-")
        work = Path(tmp.name)
    else:
        work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    overlay = work / "overlay.yaml"
    if set(sizes) - {"video"}:
        write_overlay(overlay, {k: n for k, n in sizes.items() if k != "video"})
    builders = {"ecg": build_ecg, "image": build_images, "volume": build_volumes,
                "video": build_videos}
    results: dict[str, dict] = {}
    defaults = default_codecs()
    for kind, n in sizes.items():
        raw = work / kind / "raw"
        if not (raw / ".complete").exists():
            t = time.perf_counter()
            builders[kind](raw, n)
            (raw / ".complete").write_text("")
            print(f"[{kind}] wrote {n} raw samples in {time.perf_counter() - t:.1f}s",
                  file=sys.stderr)
        source = folder_bytes(raw)
        results[kind] = {"n": n, "codecs": {}}
        for k, (codec, config) in enumerate(CODECS[kind]):
            if args.quick and k and codec.split()[0] != defaults[kind]:
                continue  # --quick: the raw store and the default codec's
            slug = codec.split()[0]
            store = work / "stores" / f"{kind}-{slug}"
            t = time.perf_counter()
            prepare(dataset_name(kind), raw, store,
                    catalog=overlay if kind != "video" else None,
                    workers=1 if args.quick else args.workers,
                    progress=False, config=config)
            res = {"prepare_s": time.perf_counter() - t, "source": source,
                   "store": folder_bytes(store / dataset_name(kind))}
            if k == 0:  # the raw store: every method
                setups = [f"setup-{m}" for m in ("monai", "hf") if m in methods]
                if args.quick:  # in the one subprocess of the measurements
                    res.update(measure(kind, setups + methods, work, store, args))
                else:
                    for setup in setups:
                        run_child([setup], kind, work, args.workers, args.batch, store)
                    res.update(measure(kind, methods, work, store, args))
                if not args.quick:
                    big = scaled_store(work, kind, args.scale, store)
                    one = run_child(["climb"], kind, work, args.workers, args.batch, store,
                                    args.float32)["climb"]
                    r = run_child(["climb"], kind, work, args.workers, args.batch, big,
                                  args.float32)["climb"]
                    res["rss_1x"], res["rss_big"] = one["rss"], r["rss"]
            else:
                res.update(measure(kind, [m for m in methods if m in STORE_METHODS], work,
                                   store, args))
            results[kind]["codecs"][codec] = res
    print_table(results, args)
    if tmp is not None:
        tmp.cleanup()


SHAPES = {"ecg": "12 x 5000 float32", "image": "3 x 224 x 224 uint8",
          "volume": "32 x 128 x 128 int16", "video": "16 x 3 x 112 x 112 uint8"}
ITEM_MB = {"ecg": 12 * 5000 * 4 / 1e6, "image": 3 * 224 * 224 / 1e6,
           "volume": 32 * 128 * 128 * 2 / 1e6, "video": 16 * 3 * 112 * 112 / 1e6}


def _rate(res: dict, method: str) -> float | None:
    r = res.get(method)
    return r["samples"] / r["seconds"] if r else None


def print_table(results: dict, args) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=150)
    table = Table(title=f"climb loader benchmark (workers={args.workers}, threads="
                        f"{args.threads}, batch={args.batch}, "
                        f"{'float32' if args.float32 else 'stored dtype'} batches, "
                        f"{os.cpu_count()} CPUs{', --quick' if args.quick else ''})")
    for col in ("data", "codec", "method", "samples/s", "MB/s", "vs raw", "climb vs",
                "peak RSS MB (main / worker)", "source MB", "store MB", "store/source"):
        table.add_column(col, justify="left" if col in ("data", "codec", "method")
                         else "right")
    defaults = default_codecs()
    for kind, info in results.items():
        first_kind = True
        for codec, res in info["codecs"].items():
            rates = {m: _rate(res, m) for m in METHODS if m in res}
            mark = " (default)" if defaults.get(kind) == codec.split()[0] else ""
            first_codec = True
            for m, rate in rates.items():
                rss = res[m]["rss"]
                vs_raw = f"{rate / rates['raw']:.1f}x" if "raw" in rates else "-"
                climb_vs = (f"{rates['climb'] / rate:.2f}x" if "climb" in rates
                            and m != "climb" else "-")
                disk = ("", "", "")
                if first_codec:
                    disk = (f"{res['source'] / 1e6:,.1f}", f"{res['store'] / 1e6:,.1f}",
                            f"{res['store'] / res['source']:.2f}x")
                table.add_row(
                    f"{kind} ({info['n']} x {SHAPES[kind]})" if first_kind else "",
                    codec + mark if first_codec else "", m, f"{rate:,.0f}",
                    f"{rate * ITEM_MB[kind]:,.0f}", vs_raw, climb_vs,
                    "-" if args.quick else f"{rss[0]:,.0f} / {rss[1]:,.0f}", *disk)
                first_kind = first_codec = False
            if "rss_1x" in res:
                a, b = res["rss_1x"], res["rss_big"]
                table.add_row("", "", f"climb epoch at 1x / {args.scale}x", "", "", "", "",
                              f"{max(a):,.0f} -> {max(b):,.0f} "
                              f"({(max(b) / max(a) - 1) * 100:+.0f}%)", "", "", "")
    console.print(table)
    console.print(targets_table(results))


def targets_table(results: dict):
    """The targets of issue 15, each met or missed, per kind (and codec for the store)."""
    from rich.table import Table

    table = Table(title="issue 15 targets")
    for col in ("target", "data", "measured", "status"):
        table.add_column(col, justify="left" if col != "measured" else "right")

    def row(target: str, data: str, value: float | None, bound: float) -> None:
        if value is None:
            table.add_row(target, data, "-", "not measured")
            return
        status = "[green]met[/green]" if value >= bound else "[red]missed[/red]"
        table.add_row(target, data, f"{value:.2f}x", status)

    for kind, info in results.items():
        base = next(iter(info["codecs"].values()))
        climb = max((r for r in (_rate(base, "climb"), _rate(base, "climb-threads")) if r),
                    default=None)
        for other, bound, label in (("hf", 2.0, "climb >= 2x HF datasets"),
                                    ("monai", 2.0, "climb >= 2x MONAI PersistentDataset")):
            ref = _rate(base, other)
            row(label + " (better climb path)", kind, climb / ref if climb and ref else None,
                bound)
        threads, bound_ = _rate(base, "climb-threads"), _rate(base, "memcpy")
        row("in-process >= 0.5x in-process memcpy (raw codec)", kind,
            threads / bound_ if threads and bound_ else None, 0.5)
        for codec, res in info["codecs"].items():
            threads, multi = _rate(res, "climb-threads"), _rate(res, "climb")
            row("in-process >= 1.0x multi-process", f"{kind} {codec}",
                threads / multi if threads and multi else None, 1.0)
        for codec, res in info["codecs"].items():
            ratio = res["store"] / res["source"]
            status = "[green]met[/green]" if ratio <= 1.0 else "[red]missed[/red]"
            table.add_row("store <= 1.0x source bytes", f"{kind} {codec}", f"{ratio:.2f}x",
                          status)
    return table


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _, _, methods, kind, work, workers, batch, store, float32, threads = sys.argv
        out = {}
        for method in methods.split(","):
            out[method] = child(method, kind, Path(work), int(workers), int(batch),
                                Path(store), bool(int(float32)), int(threads))
        print(json.dumps(out))
    else:
        main()
