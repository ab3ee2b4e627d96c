"""Lossless signal storage: source bytes vs stored bytes, and decode speed, per signal codec.

    python benches/signal_storage.py [--repeat 5]

Part 1, per record (the codec alone): real WFDB records from tests/data/wfdb (100: MIT-BIH,
format 212; s0010_re: PTB, format 16; a103l: MATLAB v4) and an EDF+ pyEDFlib writes from
record 100's samples, each read whole (``read_wfdb`` / ``read_edf``) and encoded as ``raw``
float32, ``float_zstd`` (byte-shuffled zstd floats), ``digital`` (int16/int32 shuffled +
zstd: the default) and ``digital + delta`` (first differences first). Bytes are compared
with the source signal files; decode is payload -> float32 in one process (MSamples/s, best
of ``--repeat``).

Part 2, end to end: the PTB-XL fixture (tests/fixtures/ptbxl.py: the official layout, ten
500 Hz format-16 records) prepared with each ``signal.codec``; the store's bytes (every
file of STORE/ptbxl) against the records500 tree's, and StoreDataset samples/s over all rows.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyedflib
import wfdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import real_data_dir

from climb.read.edf import read_edf
from climb.read.wfdb import read_wfdb
from climb.store.codecs import decode_array, encode_digital, encode_signal

WFDB = real_data_dir() / "wfdb"


def write_edf(path: Path) -> Path:
    """Record 100 (2 leads, 30 min at 360 Hz) as EDF+ through pyEDFlib."""
    rec = wfdb.rdrecord(str(WFDB / "100"))
    writer = pyedflib.EdfWriter(str(path), 2, file_type=pyedflib.FILETYPE_EDFPLUS)
    writer.setSignalHeaders(
        [
            {
                "label": name,
                "dimension": "mV",
                "sample_frequency": 360,
                "physical_min": -5.12,
                "physical_max": 5.12,
                "digital_min": -32768,
                "digital_max": 32767,
            }
            for name in rec.sig_name
        ]
    )
    n = (rec.p_signal.shape[0] // 360) * 360
    writer.writeSamples([np.ascontiguousarray(rec.p_signal[:n, k]) for k in range(2)])
    writer.close()
    return path


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def per_record(repeat: int, work: Path) -> list[dict]:
    edf = write_edf(work / "rec100.edf")
    sources = [
        ("100 (MIT-BIH, fmt 212)", read_wfdb(WFDB / "100"), [WFDB / "100.dat", WFDB / "100.hea"]),
        (
            "s0010_re (PTB, fmt 16)",
            read_wfdb(WFDB / "s0010_re"),
            [WFDB / "s0010_re.dat", WFDB / "s0010_re.hea"],
        ),
        ("a103l (MATLAB v4)", read_wfdb(WFDB / "a103l"), [WFDB / "a103l.mat", WFDB / "a103l.hea"]),
        ("record 100 as EDF+", read_edf(edf), [edf]),
    ]
    rows = []
    for name, sig, files in sources:
        source = sum(f.stat().st_size for f in files)
        payloads = {
            "raw": (sig.data.tobytes(), None),
            "float_zstd": encode_signal(sig.data, "float_zstd"),
            "digital (default, no delta)": encode_signal(sig.data, "auto", sig.digital),
            "digital + delta": (encode_digital(sig.digital, delta=True), "digital"),
        }
        shape = sig.data.shape
        for codec, (payload, encoding) in payloads.items():
            if encoding is None:

                def decode(p=payload, shape=shape):
                    return np.frombuffer(p, np.float32).reshape(shape).copy()
            else:

                def decode(p=payload, e=encoding, shape=shape):
                    return decode_array(p, shape, np.float32, e)

            out = decode()
            assert np.array_equal(out.view(np.uint32), sig.data.view(np.uint32)), (name, codec)
            seconds = _best(decode, repeat)
            rows.append(
                {
                    "source": name,
                    "codec": codec,
                    "source_bytes": source,
                    "stored_bytes": len(payload),
                    "ratio": len(payload) / source,
                    "msamples_s": sig.data.size / seconds / 1e6,
                }
            )
    return rows


def end_to_end(work: Path) -> list[dict]:
    from tests.fixtures import ptbxl as fixture

    from climb.load import StoreDataset
    from climb.store.prepare import prepare

    os.environ["CLIMB_COUNTS_CHECK"] = "off"  # a 10-record fixture, not the 21,799 of PTB-XL
    raw = fixture.build(work / "raw")
    records500 = raw / fixture.FOLDER / "records500"
    source = sum(p.stat().st_size for p in records500.rglob("*") if p.is_file())
    rows = []
    for codec in ("raw", "float_zstd", "auto"):
        store = work / f"store_{codec}"
        prepare("ptbxl", raw, store, workers=1, config={"signal.codec": codec}, progress=False)
        stored = sum(p.stat().st_size for p in (store / "ptbxl").rglob("*") if p.is_file())
        ds = StoreDataset(store, ["ptbxl"], split=["train", "val", "test"])
        seconds = _best(lambda ds=ds: [ds[i] for i in range(len(ds))], 3)
        rows.append(
            {
                "codec": codec,
                "source_bytes": source,
                "stored_bytes": stored,
                "ratio": stored / source,
                "samples_s": len(ds) / seconds,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        print("| record | codec | source bytes | stored bytes | ratio | decode MSamples/s |")
        print("|---|---|---:|---:|---:|---:|")
        for r in per_record(args.repeat, work):
            print(
                f"| {r['source']} | {r['codec']} | {r['source_bytes']:,} | "
                f"{r['stored_bytes']:,} | {r['ratio']:.2f} | {r['msamples_s']:.0f} |"
            )
        print()
        print(
            "| PTB-XL fixture records500 | source bytes | store bytes | ratio | "
            "StoreDataset samples/s |"
        )
        print("|---|---:|---:|---:|---:|")
        for r in end_to_end(work):
            print(
                f"| signal.codec={r['codec']} | {r['source_bytes']:,} | "
                f"{r['stored_bytes']:,} | {r['ratio']:.2f} | {r['samples_s']:.0f} |"
            )


if __name__ == "__main__":
    main()
