"""Storage codecs of 2D image inputs: how a ``uint8`` image array is stored in a shard.

An adapter yields images as ``Input(uint8 H x W [x C])``; ``prepare`` encodes each one with the
configured codec (prepare options ``image.codec``, ``image.quality``) at write time. The
column stays an *array* column (``input.<name>.shape``/``.dtype`` keep the decoded shape) and
``input.<name>.attrs`` records ``"encoding"``; the loader decodes in its workers back into the
same ``uint8`` array. A store without ``encoding`` holds raw arrays (the zero-copy path).

- ``raw``: the C-order bytes (no decode; one pread straight into the batch buffer).
- ``png``: lossless (bit-exact), zlib level ``PNG_LEVEL``.
- ``jpeg``: lossy, ``quality`` (default 90), 4:4:4 chroma; bounded error.
- ``webp``: lossy, ``quality``; ``webp_lossless``: lossless (bit-exact).

Only arrays a codec can hold are encoded (``uint8``, H x W or H x W x {1, 3, 4}; jpeg not
with alpha); any other input keeps its raw layout.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from PIL import Image

from climb.read.signal import Digital

#: Prepare option keys (``climb prepare NAME --config image.codec=png``).
CODEC_KEY = "image.codec"
QUALITY_KEY = "image.quality"
CODEC_KEYS = (CODEC_KEY, QUALITY_KEY)

CODECS = ("raw", "png", "jpeg", "webp", "webp_lossless")
LOSSLESS = frozenset({"raw", "png", "webp_lossless"})

#: The default codec: lossless (bit-exact, so nothing is lost on top of a source JPEG), 3x
#: smaller than raw on chest radiographs at 224 and 512 (1M images at 224: 17 GB, not 50),
#: ~1.6k decoded 224 images/s per loader worker. ``raw`` stays the fastest (a pread, no
#: decode), ``jpeg`` (q90, ~48 dB PSNR, 7-11x smaller) the choice for large corpora at 512.
#: Measured with benches/codecs.py; table in docs/architecture.md.
DEFAULT_CODEC = "png"
DEFAULT_QUALITY = 90
#: zlib level for PNG: 6 is within a few % of 9 on radiographs and several times faster.
PNG_LEVEL = 6

_PILLOW_FORMAT = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP", "webp_lossless": "WEBP"}


def encodable(array: np.ndarray, codec: str) -> bool:
    """Whether ``codec`` can store ``array`` (a uint8 2D image, grey or colour)."""
    if codec == "raw" or not isinstance(array, np.ndarray) or array.dtype != np.uint8:
        return False
    if array.ndim == 2:
        return array.size > 0
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4) or array.size == 0:
        return False
    return not (codec == "jpeg" and array.shape[2] == 4)


def _pillow_image(array: np.ndarray) -> Image.Image:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    mode = {2: "L"}.get(array.ndim) or {3: "RGB", 4: "RGBA"}[array.shape[2]]
    return Image.fromarray(np.ascontiguousarray(array), mode)


def encode_image(array: np.ndarray, codec: str, quality: int = DEFAULT_QUALITY) -> bytes:
    """A uint8 image -> the bytes of ``codec`` (see :func:`encodable`)."""
    if not encodable(array, codec):
        raise ValueError(f"{codec} cannot encode a {array.dtype} array of shape {array.shape}")
    buf = io.BytesIO()
    image = _pillow_image(array)
    if codec == "png":
        image.save(buf, "PNG", compress_level=PNG_LEVEL)
    elif codec == "jpeg":
        image.save(buf, "JPEG", quality=int(quality), subsampling=0)
    elif codec == "webp":
        image.save(buf, "WEBP", quality=int(quality), method=4)
    else:
        image.save(buf, "WEBP", lossless=True, quality=100, method=4, exact=True)
    return buf.getvalue()


def decode_image(
    data: bytes | memoryview | np.ndarray,
    shape: Any,
    dtype: Any,
    encoding: str,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Bytes of ``encoding`` -> the ``uint8`` array of ``shape`` they were encoded from (into
    ``out`` when given). ValueError when the bytes do not decode to that shape."""
    if encoding not in _PILLOW_FORMAT:
        raise ValueError(f"unknown image encoding {encoding!r}")
    shape = tuple(int(s) for s in shape)
    if np.dtype(dtype) != np.uint8:
        raise ValueError(f"{encoding} payload declared as {dtype}, not uint8")
    with Image.open(io.BytesIO(data), formats=[_PILLOW_FORMAT[encoding]]) as img:
        want = "L" if len(shape) == 2 or shape[2] == 1 else ("RGB" if shape[2] == 3 else "RGBA")
        if img.mode != want:
            img = img.convert(want)
        decoded = np.asarray(img)
    if decoded.size != int(np.prod(shape)):
        raise ValueError(f"{encoding} payload decodes to {decoded.shape}, expected {shape}")
    decoded = decoded.reshape(shape)
    if out is None:
        return decoded
    np.copyto(out, decoded)
    return out


def is_encoded(encoding: str | None) -> bool:
    """Whether an ``attrs["encoding"]`` of an array input means a codec payload."""
    return encoding in _PILLOW_FORMAT


@dataclass(frozen=True)
class ImageCodec:
    """The codec prepare stores image inputs with (``raw`` = as arrays)."""

    codec: str = DEFAULT_CODEC
    quality: int = DEFAULT_QUALITY

    def __post_init__(self) -> None:
        if self.codec not in CODECS:
            raise ValueError(f"image.codec must be one of {', '.join(CODECS)}, not {self.codec!r}")
        if not 1 <= int(self.quality) <= 100:
            raise ValueError("image.quality must be 1..100")
        if self.codec.startswith("webp"):
            from PIL import features

            if not features.check("webp"):
                raise ValueError("image.codec webp needs Pillow built with WebP support")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ImageCodec:
        return cls(
            str(config.get(CODEC_KEY, DEFAULT_CODEC)), int(config.get(QUALITY_KEY, DEFAULT_QUALITY))
        )

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"codec": self.codec}
        if self.codec not in LOSSLESS:
            out["quality"] = int(self.quality)
        return out

    def encode(self, array: np.ndarray, digital: Any = None) -> tuple[bytes, str] | None:
        """(payload, encoding) for an image this codec stores, else None (keep raw).
        ``digital`` is for :class:`StoreCodec` (signals) and ignored here."""
        if not encodable(array, self.codec):
            return None
        return encode_image(array, self.codec, self.quality), self.codec


# --- Volumes and video clips (>2D arrays) ------------------------------------------------
#
# Arrays the image codec does not take are stored with the ``volume.codec`` (integer
# D x H x W or T x D x H x W volumes: int16 HU, uint8 windowed) or ``video.codec`` (uint8
# T x H x W x {1, 3} clips) prepare options, recorded in the manifest's ``volume``/``video``.
#
# - ``zstd``: lossless, the C-order bytes through zstd (pyarrow's codec), level ``ZSTD_LEVEL``.
# - ``zstd_shuffle``: lossless, the bytes byte-shuffled first (all low bytes, then all high
#   bytes: HU values are small, so the high bytes are nearly constant) then zstd.
# - ``png_frames``: lossless, the frames stacked into one (T*H) x W PNG (clips only).
# - ``jpeg_frames``: lossy, the same tall image as JPEG at ``video.quality`` (clips only).
# - ``h264``: lossy, an MP4 (H.264, yuv444p, crf ``video.crf``) through PyAV (clips only).
#
# Defaults, from benches/volume_codecs.py (table in docs/architecture.md): volumes
# ``zstd_shuffle`` (int16 HU 64 x 128 x 128: 2.3x smaller than raw, 1.2x smaller than plain
# zstd, ~150-300 volumes/s decoded per worker), clips ``zstd`` (16 x 112 x 112 x 3 echo:
# 5.5x smaller than raw, smaller than png_frames' 4.7x and ~7x faster to decode, ~1-2k
# clips/s). The lossy ``jpeg_frames`` (18x, 44 dB) and ``h264`` (64x, 41 dB, slow to decode)
# are for corpora where disk matters more than bit-exactness.

VOLUME_CODEC_KEY = "volume.codec"
VIDEO_CODEC_KEY = "video.codec"
VIDEO_QUALITY_KEY = "video.quality"
VIDEO_CRF_KEY = "video.crf"
VOLUME_CODEC_KEYS = (VOLUME_CODEC_KEY, VIDEO_CODEC_KEY, VIDEO_QUALITY_KEY, VIDEO_CRF_KEY)

VOLUME_CODECS = ("raw", "zstd", "zstd_shuffle")
VIDEO_CODECS = ("raw", "zstd", "zstd_shuffle", "png_frames", "jpeg_frames", "h264")
ARRAY_ENCODINGS = frozenset(
    {"zstd", "zstd_shuffle", "png_frames", "jpeg_frames", "h264", "digital"}
)
ARRAY_LOSSLESS = frozenset({"raw", "zstd", "zstd_shuffle", "png_frames", "digital"})
VOLUME_DEFAULT_CODEC = "zstd_shuffle"
VIDEO_DEFAULT_CODEC = "zstd"
VIDEO_DEFAULT_CRF = 18
#: zstd level: 3 (zstd's default) is within a few % of 9 on CT and several times faster.
ZSTD_LEVEL = 3

_VOLUME_DTYPES = frozenset(np.dtype(d) for d in ("uint8", "int8", "int16", "uint16", "int32"))


def is_volume(array: np.ndarray) -> bool:
    """An integer D x H x W or T x D x H x W array that is not a 2D image (see encodable)."""
    if not isinstance(array, np.ndarray) or array.dtype not in _VOLUME_DTYPES or not array.size:
        return False
    if array.ndim == 3:
        return not (array.dtype == np.uint8 and array.shape[2] in (1, 3, 4))
    return array.ndim == 4 and not is_clip(array)


def is_clip(array: np.ndarray) -> bool:
    """A uint8 T x H x W x {1, 3} video clip (what read.standardize_volume.standardize_clip
    returns)."""
    return (
        isinstance(array, np.ndarray)
        and array.dtype == np.uint8
        and array.ndim == 4
        and array.shape[3] in (1, 3)
        and array.size > 0
    )


def _shuffle(array: np.ndarray) -> bytes:
    size = array.dtype.itemsize
    flat = np.ascontiguousarray(array).reshape(-1).view(np.uint8)
    return flat.reshape(-1, size).T.tobytes() if size > 1 else flat.tobytes()


def _unshuffle(data: bytes, dtype: np.dtype, count: int) -> np.ndarray:
    size = dtype.itemsize
    planes = np.frombuffer(data, dtype=np.uint8)
    if size == 2 and np.little_endian:  # contiguous passes; a strided copy is 5x slower
        joined = planes[count:].astype(np.uint16) << 8  # memory: first plane, second plane
        joined |= planes[:count]
        return joined.view(dtype)
    if size > 1:
        planes = np.ascontiguousarray(planes.reshape(size, count).T)
    return planes.view(dtype)


@lru_cache(maxsize=1)
def _zstd_codec():
    import pyarrow as pa

    return pa.Codec("zstd", compression_level=ZSTD_LEVEL)


def _zstd(data: bytes) -> bytes:
    return _zstd_codec().compress(data, asbytes=True)


def _unzstd(data, size: int) -> memoryview:
    """The decompressed bytes (a pyarrow buffer, no copy); ValueError when corrupt."""
    try:
        return memoryview(_zstd_codec().decompress(data, decompressed_size=size))
    except OSError as err:  # pyarrow raises ArrowIOError (an OSError) on corrupt frames
        raise ValueError(f"zstd payload does not decompress ({type(err).__name__})") from None


def _h264(clip: np.ndarray, crf: int) -> bytes:
    import av

    frames = clip if clip.shape[3] == 3 else np.repeat(clip, 3, axis=3)
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height = int(frames.shape[2]), int(frames.shape[1])
        stream.pix_fmt = "yuv444p"
        stream.options = {"crf": str(int(crf)), "preset": "medium"}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return buf.getvalue()


def _unh264(data, shape: tuple[int, ...]) -> np.ndarray:
    import av

    with av.open(io.BytesIO(bytes(data))) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    out = np.stack(frames) if frames else np.zeros((0,), np.uint8)
    if shape[3] == 1 and out.ndim == 4:
        out = out[..., :1]
    return out


def encode_array(
    array: np.ndarray, codec: str, quality: int = DEFAULT_QUALITY, crf: int = VIDEO_DEFAULT_CRF
) -> bytes:
    """A volume or clip -> the bytes of ``codec`` (one of :data:`ARRAY_ENCODINGS`)."""
    array = np.ascontiguousarray(array)
    if codec == "zstd":
        return _zstd(array.tobytes())
    if codec == "zstd_shuffle":
        return _zstd(_shuffle(array))
    if codec not in ("png_frames", "jpeg_frames", "h264") or not is_clip(array):
        raise ValueError(f"{codec} cannot encode a {array.dtype} array of shape {array.shape}")
    if codec == "h264":
        return _h264(array, crf)
    t, h, w, c = array.shape
    tall = array.reshape(t * h, w, c)
    return encode_image(tall, codec.removesuffix("_frames"), quality)


def decode_array(
    data: bytes | memoryview | np.ndarray,
    shape: Any,
    dtype: Any,
    encoding: str,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Bytes of any store encoding (image or volume/clip) -> the array of ``shape``/``dtype``
    they were encoded from (into ``out`` when given). ValueError when they do not decode to
    that shape."""
    if encoding in _PILLOW_FORMAT:
        return decode_image(data, shape, dtype, encoding, out)
    if encoding == DIGITAL_ENCODING:
        return decode_digital(data, shape, dtype, out)
    if encoding not in ARRAY_ENCODINGS:
        raise ValueError(f"unknown array encoding {encoding!r}")
    shape, dtype = tuple(int(s) for s in shape), np.dtype(dtype)
    count = int(np.prod(shape))
    if encoding in ("zstd", "zstd_shuffle"):
        raw = _unzstd(data, count * dtype.itemsize)
        if len(raw) != count * dtype.itemsize:
            raise ValueError(f"{encoding} payload holds {len(raw)} bytes, expected {shape}")
        if encoding == "zstd":
            decoded = np.frombuffer(raw, dtype=dtype)
        else:
            decoded = _unshuffle(raw, dtype, count)
    elif dtype != np.uint8 or len(shape) != 4:
        raise ValueError(f"{encoding} payload declared as {dtype} {shape}, not a uint8 clip")
    elif encoding == "h264":
        decoded = _unh264(data, shape)
    else:
        t, h, w, c = shape
        decoded = decode_image(data, (t * h, w, c), dtype, encoding.removesuffix("_frames"))
    if decoded.size != count:
        raise ValueError(f"{encoding} payload decodes to {decoded.shape}, expected {shape}")
    decoded = decoded.reshape(shape)
    if out is None:
        return decoded
    np.copyto(out, decoded)
    return out


# Signal codec options (see the Signals section at the end of this module).
SIGNAL_CODEC_KEY = "signal.codec"
SIGNAL_CODECS = ("auto", "raw", "float_zstd")
SIGNAL_DEFAULT_CODEC = "auto"
DIGITAL_ENCODING = "digital"
FLOAT_ENCODING = "zstd_shuffle"
#: Store first differences of the digital samples: ~10 % smaller on ECG but decoding a
#: 12 x 5000 window takes 1.6x as long (benches/signal_storage.py), so off by default.
DIGITAL_DELTA = False
_DIGITAL_MAGIC = b"CLD1"


@dataclass(frozen=True)
class StoreCodec(ImageCodec):
    """The codecs prepare stores array inputs with: 2D images by :class:`ImageCodec`'s fields,
    volumes by ``volume``, clips by ``video`` (``raw`` = as arrays)."""

    volume: str = VOLUME_DEFAULT_CODEC
    video: str = VIDEO_DEFAULT_CODEC
    video_quality: int = DEFAULT_QUALITY
    video_crf: int = VIDEO_DEFAULT_CRF
    signal: str = SIGNAL_DEFAULT_CODEC

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.signal not in SIGNAL_CODECS:
            raise ValueError(
                f"signal.codec must be one of {', '.join(SIGNAL_CODECS)}, not {self.signal!r}"
            )
        if self.volume not in VOLUME_CODECS:
            raise ValueError(
                f"volume.codec must be one of {', '.join(VOLUME_CODECS)}, not {self.volume!r}"
            )
        if self.video not in VIDEO_CODECS:
            raise ValueError(
                f"video.codec must be one of {', '.join(VIDEO_CODECS)}, not {self.video!r}"
            )
        if not 1 <= int(self.video_quality) <= 100:
            raise ValueError("video.quality must be 1..100")
        if not 0 <= int(self.video_crf) <= 51:
            raise ValueError("video.crf must be 0..51")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> StoreCodec:
        image = ImageCodec.from_config(config)
        return cls(
            image.codec,
            image.quality,
            str(config.get(VOLUME_CODEC_KEY, VOLUME_DEFAULT_CODEC)),
            str(config.get(VIDEO_CODEC_KEY, VIDEO_DEFAULT_CODEC)),
            int(config.get(VIDEO_QUALITY_KEY, DEFAULT_QUALITY)),
            int(config.get(VIDEO_CRF_KEY, VIDEO_DEFAULT_CRF)),
            str(config.get(SIGNAL_CODEC_KEY, SIGNAL_DEFAULT_CODEC)),
        )

    def volume_dict(self) -> dict[str, Any]:
        """The manifest's ``volume`` entry."""
        return {"codec": self.volume}

    def video_dict(self) -> dict[str, Any]:
        """The manifest's ``video`` entry."""
        out: dict[str, Any] = {"codec": self.video}
        if self.video == "jpeg_frames":
            out["quality"] = int(self.video_quality)
        elif self.video == "h264":
            out["crf"] = int(self.video_crf)
        return out

    def signal_dict(self) -> dict[str, Any]:
        """The manifest's ``signal`` entry."""
        return {"codec": self.signal}

    def encode(self, array: np.ndarray, digital: Digital | None = None) -> tuple[bytes, str] | None:
        """(payload, encoding) for an array one of the codecs stores, else None (keep raw).
        ``digital``: the integer samples a float signal was computed from (if known)."""
        if is_signal(array):
            return encode_signal(array, self.signal, digital)
        if is_clip(array):
            codec = self.video
        elif is_volume(array):
            codec = self.volume
        else:
            return super().encode(array)
        if codec == "raw":
            return None
        return encode_array(array, codec, self.video_quality, self.video_crf), codec


# --- Signals (float channels x samples) ----------------------------------------------------
#
# A float [channels, samples] array (ECG, EEG, any waveform) is stored with ``signal.codec``
# (recorded in the manifest's ``signal``), always losslessly:
#
# - ``auto`` (default): ``digital`` when the array is exactly what the file's integer samples
#   give through the reader's formula (:class:`climb.read.signal.Digital`, checked bit for bit
#   at write time), else ``float_zstd``.
# - ``float_zstd``: the float bytes byte-shuffled (byte-stream split: all first bytes, then
#   all second bytes...) then zstd; stored as encoding ``zstd_shuffle`` (decoded like volumes).
#   Bit-exact for any float, NaN payloads included.
# - ``raw``: the C-order float bytes (no decode).
#
# The ``digital`` payload is self-describing, so the loader decodes it from the bytes and the
# encoding alone: ``b"CLD1"``, a little-endian u32 header length, a JSON header (sorted keys:
# ``scheme`` wfdb/edf, per-channel ``gain``/``offset``/``invalid``/``scale``, ``fill``,
# ``dtype`` int16/int32, ``delta``, ``shape``), then zstd of the byte-shuffled integers, first
# differences along time when ``delta`` (wrapping in the integer type: exact). Decoding runs
# the reader's formula (float64, cast to float32, NaN/fill, float32 scale): bit-identical to
# the float32 the reader returned. The header holds only conversion numbers (no header text).


def is_signal(array: np.ndarray) -> bool:
    """A non-empty float [channels, samples] array."""
    return (
        isinstance(array, np.ndarray)
        and array.ndim == 2
        and array.dtype.kind == "f"
        and array.size > 0
    )


def encode_digital(digital: Digital, delta: bool = DIGITAL_DELTA) -> bytes:
    """The ``digital`` payload of ``digital`` (see the section comment)."""
    samples = np.ascontiguousarray(digital.samples)
    if delta and samples.shape[1] > 1:
        samples = samples.copy()
        samples[:, 1:] = np.diff(digital.samples, axis=1)  # wraps in the integer type
    header = {
        "delta": bool(delta),
        "dtype": samples.dtype.str,
        "fill": digital.fill,
        "gain": list(digital.gain),
        "invalid": list(digital.invalid),
        "offset": list(digital.offset),
        "scale": None if digital.scale is None else list(digital.scale),
        "scheme": digital.scheme,
        "shape": list(samples.shape),
    }
    text = json.dumps(header, sort_keys=True, allow_nan=False).encode()
    body = _zstd(_shuffle(samples))
    return _DIGITAL_MAGIC + struct.pack("<I", len(text)) + text + body


def read_digital(data: bytes | memoryview | np.ndarray) -> Digital:
    """The :class:`Digital` of a ``digital`` payload; ValueError when it is not one."""
    view = memoryview(data).cast("B")
    if bytes(view[:4]) != _DIGITAL_MAGIC or len(view) < 8:
        raise ValueError("digital payload has no CLD1 header")
    (size,) = struct.unpack_from("<I", view, 4)
    try:
        header = json.loads(bytes(view[8 : 8 + size]))
        dtype, shape = np.dtype(header["dtype"]), tuple(int(n) for n in header["shape"])
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"digital payload header unreadable ({type(err).__name__})") from None
    if dtype.kind not in "iu" or len(shape) != 2:
        raise ValueError("digital payload header declares no integer [channels, samples]")
    count = shape[0] * shape[1]
    raw = _unzstd(view[8 + size :], count * dtype.itemsize)
    if len(raw) != count * dtype.itemsize:
        raise ValueError(f"digital payload holds {len(raw)} bytes, expected {shape}")
    samples = _unshuffle(raw, dtype, count).reshape(shape)
    if header.get("delta") and shape[1] > 1:
        # summed in int64 (faster than int16), then wrapped back to the type: exact inverse
        samples = np.cumsum(samples, axis=1, dtype=np.int64).astype(dtype)
    scale = header.get("scale")
    return Digital(
        samples=samples,
        scheme=str(header.get("scheme")),
        gain=tuple(float(g) for g in header["gain"]),
        offset=tuple(float(o) for o in header["offset"]),
        invalid=tuple(None if v is None else int(v) for v in header["invalid"]),
        scale=None if scale is None else tuple(float(f) for f in scale),
        fill=None if header.get("fill") is None else float(header["fill"]),
    )


def decode_digital(
    data: bytes | memoryview | np.ndarray, shape: Any, dtype: Any, out: np.ndarray | None = None
) -> np.ndarray:
    """A ``digital`` payload -> the float32 array of ``shape`` the reader returned (into
    ``out`` when given)."""
    shape = tuple(int(s) for s in shape)
    if np.dtype(dtype) != np.float32:
        raise ValueError(f"digital payload declared as {dtype}, not float32")
    decoded = read_digital(data).physical()
    if decoded.shape != shape:
        raise ValueError(f"digital payload decodes to {decoded.shape}, expected {shape}")
    if out is None:
        return decoded
    np.copyto(out, decoded)
    return out


def encode_signal(
    array: np.ndarray, codec: str, digital: Digital | None = None
) -> tuple[bytes, str] | None:
    """(payload, encoding) of a float signal under ``codec`` (None: keep raw). ``digital`` is
    used only when it reproduces ``array`` bit for bit."""
    if codec == "raw" or not is_signal(array):
        return None
    array = np.ascontiguousarray(array)
    if (
        codec == "auto"
        and digital is not None
        and array.dtype == np.float32
        and digital.samples.shape == array.shape
    ):
        exact = digital.physical()
        if np.array_equal(exact.view(np.uint32), array.view(np.uint32)):
            return encode_digital(digital), DIGITAL_ENCODING
    return encode_array(array, FLOAT_ENCODING), FLOAT_ENCODING
