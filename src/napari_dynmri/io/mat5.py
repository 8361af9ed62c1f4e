"""Variable shapes of a MATLAB v5 ``.mat`` file from its headers, without decompressing the data.

scipy's ``whosmat`` and ``loadmat`` decompress each compressed variable whole, so a small file can
decode to gigabytes before anything is known. :func:`mat5_variables` reads the 128-byte file header
and, for each top-level element, only the start of its (possibly zlib-compressed) matrix header:
the array flags (class, complex), the dimensions and the name. Layout: MATLAB "MAT-File Format"
(level 5): an element is an 8-byte tag (type, byte count) followed by its data padded to 8 bytes;
type 15 (miCOMPRESSED) holds a zlib stream of one type-14 (miMATRIX) element.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

MI_MATRIX = 14
MI_COMPRESSED = 15
# bytes per element of each MATLAB array class (mxDOUBLE_CLASS = 6, ...); others (cell, struct, char) count 8
_CLASS_BYTES = {6: 8, 7: 4, 8: 1, 9: 1, 10: 2, 11: 2, 12: 4, 13: 4, 14: 8, 15: 8}
_HEADER_BYTES = 512  # enough of a matrix element for its flags, dimensions and a long name


def _tag(data: bytes, offset: int, order: str) -> tuple[int, int, int, int]:
    """``(type, byte count, data offset, next element offset)`` of the element tag at ``offset``."""
    first, second = struct.unpack_from(order + "II", data, offset)
    if first >> 16:  # small element: type and count in 4 bytes, data in the next 4
        return first & 0xFFFF, first >> 16, offset + 4, offset + 8
    return first, second, offset + 8, offset + 8 + (second + 7) // 8 * 8


def _matrix_header(data: bytes, order: str) -> tuple[tuple[int, ...], int, str]:
    """``(dimensions, bytes per element, name)`` of a miMATRIX element's data ``data`` (its start)."""
    _, _, at, after = _tag(data, 0, order)  # array flags: class in the low byte, complex bit 0x800
    flags = struct.unpack_from(order + "I", data, at)[0]
    itemsize = _CLASS_BYTES.get(flags & 0xFF, 8) * (2 if flags & 0x800 else 1)
    _, count, at, after = _tag(data, after, order)  # dimensions, int32
    dims = struct.unpack_from(order + f"{count // 4}i", data, at)
    _, count, at, _ = _tag(data, after, order)  # name, int8
    return tuple(dims), itemsize, data[at : at + count].decode("latin1", "replace")


def _inflate_start(f, count: int) -> bytes:
    """The first ``8 + _HEADER_BYTES`` decompressed bytes of the zlib stream of ``count`` bytes at ``f``'s position."""
    inflater, head, left, want = zlib.decompressobj(), b"", count, 8 + _HEADER_BYTES
    while len(head) < want and left > 0 and not inflater.eof:
        chunk = f.read(min(4096, left))
        if not chunk:
            break
        left -= len(chunk)
        head += inflater.decompress(chunk, want - len(head))
        while inflater.unconsumed_tail and len(head) < want:
            head += inflater.decompress(inflater.unconsumed_tail, want - len(head))
    return head


def mat5_variables(path) -> list[tuple[str, tuple[int, ...], int]]:
    """``[(name, dimensions, bytes per element), ...]`` of the top-level variables of a v5 ``.mat`` file.

    Raises ``ValueError`` for a file that is not MAT v5 or whose headers are damaged.
    """
    variables = []
    with open(Path(path), "rb") as f:
        header = f.read(128)
        if len(header) < 128 or header[126:128] not in (b"IM", b"MI"):
            raise ValueError("not a MATLAB v5 file (no MAT-file header)")
        order = "<" if header[126:128] == b"IM" else ">"
        try:
            while tag := f.read(8):
                kind, count = struct.unpack(order + "II", tag)
                start = f.tell()
                if kind == MI_COMPRESSED:
                    head = _inflate_start(f, count)
                    kind, _, at, _ = _tag(head, 0, order)
                    body, end = head[at:], start + count
                else:
                    body, end = f.read(min(count, _HEADER_BYTES)), start + count + (-count % 8)
                if kind == MI_MATRIX:
                    dims, itemsize, name = _matrix_header(body, order)
                    variables.append((name, dims, itemsize))
                f.seek(end)
        except (struct.error, zlib.error) as err:
            raise ValueError(f"damaged MAT-file headers ({err})") from None
    return variables
