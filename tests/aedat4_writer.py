"""A minimal AEDAT 4 writer for polarity events (uncompressed), readable by `aedat.Decoder`.

The `aedat` package only decodes, so the data tests and benchmarks/data_cache.py write their
recordings with this (test code: it lives in tests/, not in the package).
Layout (iniVation AEDAT 4.0): the magic line `#!AER-DAT4.0\\r\\n`, a u32 length and an `IOHE`
flatbuffer (compression, file data position, XML stream description), then packets, each a u32
stream id, a u32 length and a size-prefixed `EVTS` flatbuffer holding a vector of
Event structs {t: int64, x: int16, y: int16, on: bool} (16 bytes each with padding).
The flatbuffers are laid out by hand: the schemas are fixed and tiny.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np

MAGIC = b"#!AER-DAT4.0\r\n"
EVENT_DTYPE = np.dtype(
    {
        "names": ["t", "x", "y", "on"],
        "formats": ["<i8", "<i2", "<i2", "?"],
        "offsets": [0, 8, 10, 12],
        "itemsize": 16,
    }
)


def _description(width: int, height: int) -> str:
    return (
        '<dv version="2.0"><node name="outInfo" path="/mainloop/output/outInfo/">'
        '<node name="0" path="/mainloop/output/outInfo/0/">'
        '<attr key="compression" type="string">NONE</attr>'
        '<attr key="originalOutputName" type="string">events</attr>'
        '<attr key="typeIdentifier" type="string">EVTS</attr>'
        '<node name="info" path="/mainloop/output/outInfo/0/info/">'
        f'<attr key="sizeX" type="int">{width}</attr>'
        f'<attr key="sizeY" type="int">{height}</attr>'
        "</node></node></node></dv>"
    )


def ioheader(width: int, height: int) -> bytes:
    """The IOHE flatbuffer: only `description` is set (no compression, data position -1)."""
    text = _description(width, height).encode()
    # root offset | "IOHE" | vtable (size 10, table 8, fields 0, 0, 4) + 2 pad | table | string
    head = struct.pack("<I4s", 20, b"IOHE") + struct.pack("<5H", 10, 8, 0, 0, 4) + b"\0\0"
    table = struct.pack("<iI", 20 - 8, 4)  # soffset to the vtable; uoffset to the string at 28
    string = struct.pack("<I", len(text)) + text + b"\0"
    string += b"\0" * (-len(string) % 4)
    return head + table + string


def event_packet(events: np.ndarray) -> bytes:
    """One size-prefixed EVTS flatbuffer; the event vector starts 8-byte aligned."""
    n = len(events)
    # size | root offset (16 -> table at 20) | "EVTS" | vtable (6, 8, field 4) + pad | table
    # (soffset 8 back to the vtable, uoffset 4 to the vector at 28) | vector length | structs at 32
    body = struct.pack("<I4s", 16, b"EVTS") + struct.pack("<3H", 6, 8, 4) + b"\0\0"
    body += struct.pack("<iII", 8, 4, n)
    records = np.zeros(n, dtype=EVENT_DTYPE)
    for name in ("t", "x", "y", "on"):
        records[name] = events["p" if name == "on" else name]
    payload = body + records.tobytes()
    return struct.pack("<I", len(payload)) + payload


def write_aedat4(
    path: str | os.PathLike,
    events: np.ndarray,
    *,
    width: int = 128,
    height: int = 128,
    packet_size: int = 20_000,
) -> Path:
    """Write structured events (fields t [us], x, y, p) as AEDAT 4, `packet_size` per packet."""
    path = Path(path)
    header = ioheader(width, height)
    chunks = [MAGIC, struct.pack("<I", len(header)), header]
    for start in range(0, max(len(events), 1), packet_size):
        packet = event_packet(events[start : start + packet_size])
        chunks.append(struct.pack("<II", 0, len(packet)) + packet)
    path.write_bytes(b"".join(chunks))
    return path


def synthetic_events(
    n: int, *, seed: int = 0, width: int = 128, height: int = 128, duration_us: int = 1_000_000
) -> np.ndarray:
    """`n` time-sorted random polarity events with tonic's CIFAR10DVS field names t, x, y, p."""
    rng = np.random.default_rng(seed)
    events = np.zeros(n, dtype=[("t", "<u8"), ("x", "<u2"), ("y", "<u2"), ("p", "?")])
    events["t"] = np.sort(rng.integers(0, duration_us, n))
    events["x"] = rng.integers(0, width, n)
    events["y"] = rng.integers(0, height, n)
    events["p"] = rng.integers(0, 2, n).astype(bool)
    return events
