"""Biological sequences: DNA / protein text, token ids, and TAPE's pickled LMDB records.

Sequences are stored as ``uint8`` token ids over a small vocabulary whose id 0 is padding
(``<pad>``), so the loader's zero padding of variable-length batches is the pad token and an
encoder can mask it. :func:`one_hot` gives the one-hot view of a batch of ids.

TAPE (Rao et al. 2019) ships its tasks as LMDB environments whose values are Python pickles
(``num_examples`` and one dict per protein under the key ``b"<index>"``). Unpickling runs
code chosen by the file, so :func:`read_tape_lmdb` never calls :func:`pickle.loads`: a
restricted :class:`pickle.Unpickler` resolves only numpy's array-reconstruction globals;
builtins containers (dict, list, str, int, float, bytes) need no global at all. A file that
asks for anything else is a :class:`RecordError`, never executed.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from climb.errors import RecordError

PAD = "<pad>"
DNA_VOCAB: tuple[str, ...] = (PAD, "A", "C", "G", "T", "N")
# The 20 standard amino acids, then B (D/N), Z (E/Q), U (selenocysteine), O (pyrrolysine)
# and X (unknown), as they occur in UniProt / PDB derived sets such as TAPE's.
PROTEIN_VOCAB: tuple[str, ...] = (PAD, *"ACDEFGHIKLMNPQRSTVWY", "B", "Z", "U", "O", "X")
DNA_IUPAC_AMBIGUOUS = frozenset("RYSWKMBDHV")  # read as N (one unknown base)


def tokenize(sequence: str, vocab: Sequence[str], where: str | Path,
             unknown: str | None = None) -> np.ndarray:
    """``uint8`` token ids of ``sequence`` (case-insensitive) over ``vocab``.

    A letter outside ``vocab`` becomes ``unknown`` when given, else is a RecordError naming
    the file and the letter's position (never the sequence itself)."""
    if len(vocab) > 256:
        raise ValueError("a uint8 vocabulary holds at most 256 tokens")
    table = np.full(256, 255, dtype=np.uint8)
    for i, token in enumerate(vocab):
        if token != PAD:
            table[ord(token.upper())] = i
            table[ord(token.lower())] = i
    try:
        codes = np.frombuffer(sequence.encode("ascii"), dtype=np.uint8)
    except UnicodeEncodeError:
        raise RecordError(where, "sequence has non-ASCII characters") from None
    ids = table[codes]
    bad = ids == 255
    if bad.any():
        if unknown is None:
            raise RecordError(where, f"letter at position {int(np.argmax(bad))} is not in the "
                                     f"vocabulary ({len(vocab) - 1} letters)")
        ids[bad] = vocab.index(unknown)
    return ids


def read_dna_text(path: str | Path, max_length: int = 1_000_000) -> np.ndarray:
    """Token ids (:data:`DNA_VOCAB`) of a one-sequence text file (Genomic Benchmarks' layout:
    the bases only, optionally one trailing newline). IUPAC ambiguity codes read as ``N``."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise RecordError(path, f"cannot read ({type(err).__name__})") from None
    text = raw.decode("ascii", errors="replace").strip()
    if not text:
        raise RecordError(path, "empty sequence")
    if any(c.isspace() for c in text):
        raise RecordError(path, "more than one line: one sequence per file expected")
    if len(text) > max_length:
        raise RecordError(path, f"sequence longer than {max_length} bases")
    text = "".join("N" if c.upper() in DNA_IUPAC_AMBIGUOUS else c for c in text)
    return tokenize(text, DNA_VOCAB, path)


def one_hot(ids: np.ndarray, vocab_size: int, drop_pad: bool = True) -> np.ndarray:
    """One-hot float32 ``[..., L, V]`` of token ids (``V = vocab_size - 1`` without the pad
    column when ``drop_pad``: padding positions are then all-zero rows)."""
    eye = np.eye(vocab_size, dtype=np.float32)
    out = eye[np.asarray(ids, dtype=np.int64)]
    return out[..., 1:] if drop_pad else out


# ---------------------------------------------------------------------------- TAPE LMDB


class _SafeUnpickler(pickle.Unpickler):
    """Resolves only numpy's array reconstruction (and dtype) globals."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # protocol-2 pickles spell bytes as encode(str, "latin1")
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")


def safe_unpickle(data: bytes, where: str | Path) -> Any:
    """Unpickle ``data`` allowing builtin containers and numpy arrays only."""
    try:
        return _SafeUnpickler(io.BytesIO(data)).load()
    except pickle.UnpicklingError as err:
        problem = str(err) if "is not allowed" in str(err) else "corrupt pickle"
        raise RecordError(where, f"unsafe or corrupt value: {problem}") from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            ImportError, MemoryError, OverflowError):
        raise RecordError(where, "corrupt pickle") from None


def _open_lmdb(path: Path):
    import lmdb

    if not (path / "data.mdb").is_file():
        raise RecordError(path, "no data.mdb: not an LMDB environment folder")
    try:
        return lmdb.open(str(path), readonly=True, lock=False, readahead=False,
                         meminit=False, max_readers=1)
    except lmdb.Error as err:
        raise RecordError(path, f"cannot open LMDB ({type(err).__name__})") from None


def tape_lmdb_size(path: str | Path) -> int:
    """``num_examples`` of a TAPE LMDB folder."""
    path = Path(path)
    env = _open_lmdb(path)
    try:
        with env.begin(write=False) as txn:
            raw = txn.get(b"num_examples")
    finally:
        env.close()
    if raw is None:
        raise RecordError(path, "no num_examples key")
    n = safe_unpickle(raw, path)
    if not isinstance(n, int) or n < 0:
        raise RecordError(path, "num_examples is not a non-negative integer")
    return n


def read_tape_lmdb(path: str | Path, start: int = 0,
                   stop: int | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(index, record dict)`` for the examples ``start .. stop-1`` of a TAPE LMDB folder."""
    import lmdb

    path = Path(path)
    total = tape_lmdb_size(path)
    stop = total if stop is None else min(stop, total)
    env = _open_lmdb(path)
    try:
        with env.begin(write=False) as txn:
            for index in range(start, stop):
                try:
                    raw = txn.get(str(index).encode())
                except lmdb.Error as err:
                    raise RecordError(path, f"example {index}: {type(err).__name__}") from None
                if raw is None:
                    raise RecordError(path, f"example {index} of {total} missing")
                value = safe_unpickle(raw, f"{path}[{index}]")
                if not isinstance(value, dict):
                    raise RecordError(path, f"example {index} is not a dict")
                yield index, value
    finally:
        env.close()
