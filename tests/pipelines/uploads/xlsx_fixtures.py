"""Workbooks for "Excel with care", built at test time: zip bombs, small on disk. A zip is
written byte by byte (`zip_of`) to declare any size.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from io import BytesIO

SHEET = "xl/worksheets/sheet1.xml"
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def save(wb) -> bytes:
    buf = BytesIO()
    wb.save(buf)
    return buf.getvalue()


# --------------------------------------------------------------------------------- zips by hand


def deflate(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def zip_of(parts: list[tuple[str, bytes, int, int]]) -> bytes:
    """A zip written byte by byte from (name, deflated data, CRC-32, declared size) per part: the
    declared size is whatever the caller says."""
    body, central = b"", b""
    for name, data, crc, size in parts:
        n = name.encode()
        head = (8, 0, 0x21, crc, len(data), size, len(n), 0)  # deflate, 1980-01-01
        central += struct.pack("<IHHHH", 0x02014B50, 20, 20, 0, head[0])
        central += struct.pack("<HHIIIHHHHHII", *head[1:], 0, 0, 0, 0, len(body)) + n
        body += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, *head) + n + data
    end = struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, len(parts), len(parts), len(central), len(body), 0
    )
    return body + central + end


def _parts_but_sheet(xlsx: bytes) -> list[tuple[str, bytes, int, int]]:
    parts = []
    with zipfile.ZipFile(BytesIO(xlsx)) as z:
        for info in z.infolist():
            if info.filename != SHEET:
                data = z.read(info)
                parts.append((info.filename, deflate(data), zlib.crc32(data), len(data)))
    return parts


def _zeros_sheet(mib: int) -> tuple[bytes, int, int]:
    """(deflated, CRC-32, size) of a sheet XML with one cell of `mib` MiB of '0' characters.

    1 MiB of zeros deflates to about 1 KB; after a full flush the compressor starts afresh, so the
    same block repeated is a valid stream: nothing large is ever held or compressed."""
    head = (
        f'<worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>'.encode()
    )
    tail = b"</t></is></c></row></sheetData></worksheet>"
    zeros = b"0" * (1 << 20)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    last = c.compress(tail) + c.flush()
    crc = zlib.crc32(head)
    for _ in range(mib):
        crc = zlib.crc32(zeros, crc)
    crc = zlib.crc32(tail, crc)
    return first + block * mib + last, crc, len(head) + mib * len(zeros) + len(tail)


def bomb_xlsx(mib: int) -> bytes:
    """A workbook whose sheet inflates to `mib` MiB (about 1 KB per MiB on disk), its zip
    declaring that size honestly."""
    import openpyxl

    data, crc, size = _zeros_sheet(mib)
    return zip_of([*_parts_but_sheet(save(openpyxl.Workbook())), (SHEET, data, crc, size)])


def lying_xlsx(mib: int = 4, declared: int = 1000) -> bytes:
    """A workbook whose sheet part declares `declared` bytes (its true CRC) but inflates to `mib`
    MiB."""
    import openpyxl

    data, crc, _ = _zeros_sheet(mib)
    return zip_of([*_parts_but_sheet(save(openpyxl.Workbook())), (SHEET, data, crc, declared)])
