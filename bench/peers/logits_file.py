"""Logits and features files in fastbert's HDF5 layout (docs/data-files.md), with h5py."""
import struct
import zlib

import h5py
import numpy as np

LOGITS_MAGIC = b"\x89FBL\r\n\x1a\n"
HEADER_BYTES = 512


def stamp(path, magic=LOGITS_MAGIC, major=2, minor=0):
    """Writes fastbert's 512-byte file header into the user block h5py left."""
    with open(path, "rb") as f:
        data = bytearray(f.read())
    header = bytearray(HEADER_BYTES)
    header[0:8] = magic
    header[8:24] = struct.pack("<IIQ", major, minor, len(data))
    header[24:28] = struct.pack("<I", zlib.crc32(bytes(header[32:HEADER_BYTES]) + bytes(data[HEADER_BYTES:])))
    header[28:32] = struct.pack("<I", zlib.crc32(bytes(header[0:28])))
    data[0:HEADER_BYTES] = header
    with open(path, "wb") as f:
        f.write(bytes(data))


def write_logits(path, start, end, engine):
    """start, end: float32 [N, S], raw as the engine computed them (padding unmasked:
    fastbert's post-processing masks it). The `engine` attribute is a Python str,
    which h5py writes as a variable-length string: the reader must not need it."""
    start = np.ascontiguousarray(start, dtype=np.float32)
    end = np.ascontiguousarray(end, dtype=np.float32)
    with h5py.File(path, "w", userblock_size=HEADER_BYTES) as f:
        f.create_dataset("start_logits", data=start)
        f.create_dataset("end_logits", data=end)
        f.attrs["engine"] = engine
    stamp(path)


def read_logits(path):
    with h5py.File(path, "r") as f:
        return f["start_logits"][()], f["end_logits"][()]


def read_windows(path):
    """input_ids, token_type_ids, attention_mask of a `fastbert prepare` file, as int64."""
    with h5py.File(path, "r") as f:
        return {k: f[k][()].astype(np.int64) for k in ("input_ids", "token_type_ids", "attention_mask")}
