"""Workbooks for "Excel with care", built at test time: formulas without a computed value, merged
cells, zip bombs. Each is small enough to check by hand (the bombs are small on disk).

openpyxl writes a formula without a computed value (it does not calculate), which is how the
formula workbooks get theirs; a part can also be replaced by hand-written XML (`with_sheet`), and
a zip can be written byte by byte (`zip_of`) to declare any size.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from datetime import datetime
from io import BytesIO

SHEET = "xl/worksheets/sheet1.xml"
RUNS_HEADER = ["plant", "line", "product", "start_time", "end_time", "produced_qty", "scrap_qty"]
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def save(wb) -> bytes:
    buf = BytesIO()
    wb.save(buf)
    return buf.getvalue()


def runs_with_formulas() -> bytes:
    """Six runs on rows 2-7; good_qty (column H) is 100 - scrap, except on rows 4 and 6 where it
    is the formula =F-G, saved without a computed value."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Runs"
    ws.append([*RUNS_HEADER, "good_qty"])
    for r in range(2, 8):
        good = f"=F{r}-G{r}" if r in (4, 6) else 100 - r
        ws.append(
            ["Lyon", "L1", "X-100", datetime(2024, 3, r, 6), datetime(2024, 3, r, 14), 100, r, good]
        )
    return save(wb)


def merged_plants() -> bytes:
    """A title merged over A1:G1, the header on row 2, six runs on rows 3-8: the plant merged down
    A3:A5 ('Lyon') and A6:A7 ('Paris'); on row 8 the line is merged across B8:C8 ('L2')."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Runs"
    ws["A1"] = "Production report"
    ws.merge_cells("A1:G1")
    ws.append(RUNS_HEADER)  # row 2
    for r in range(3, 9):
        ws.append([None, "L1", "X-100", datetime(2024, 3, r, 6), datetime(2024, 3, r, 14), 100, 1])
    ws["A3"], ws["A6"] = "Lyon", "Paris"
    ws.merge_cells("A3:A5")
    ws.merge_cells("A6:A7")
    ws["A8"], ws["B8"], ws["C8"] = "Lyon", "L2", None
    ws.merge_cells("B8:C8")
    return save(wb)


def with_sheet(sheet_data: str, after: str = "", prefix: str = "") -> bytes:
    """A one-sheet workbook whose sheet XML is written by hand: `sheet_data` inside <sheetData>,
    `after` behind it (e.g. <mergeCells>); `prefix` ('x') writes every tag as <x:...>."""
    import openpyxl

    p = f"{prefix}:" if prefix else ""
    xmlns = f"xmlns:{prefix}" if prefix else "xmlns"
    xml = f'<{p}worksheet {xmlns}="{MAIN}"><{p}sheetData>{sheet_data}</{p}sheetData>{after}</{p}worksheet>'
    return rezip(save(openpyxl.Workbook()), {SHEET: xml.encode()})


# --------------------------------------------------------------------------------- zips by hand


def rezip(xlsx: bytes, replace: dict[str, bytes]) -> bytes:
    """The workbook with the content of some parts replaced."""
    out = BytesIO()
    with (
        zipfile.ZipFile(BytesIO(xlsx)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z,
    ):
        for info in src.infolist():
            z.writestr(info.filename, replace.get(info.filename, src.read(info)))
    return out.getvalue()


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
