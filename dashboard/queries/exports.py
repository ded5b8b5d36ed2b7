"""Exports of the leaders' view (CSV and Excel) that stream: the selection is read in batches
inside one read transaction and written out as it comes, never held whole in memory.

``open_export(rt, principal, filters, lang)`` is a context manager: inside it the count, the
"what was exported" sheet and the rows (an iterator, one pass) describe one database snapshot;
``csv_chunks`` turns it into the bytes of a CSV file, ``write_xlsx`` into an Excel file
(``XlsxStream``: each row goes into the zip as it is written). Every cell is
text that no spreadsheet reads as a formula (``safe_cell``).
"""
from __future__ import annotations

import csv
import io
import re
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import BinaryIO, Iterator
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from dashboard.core import metrics
from dashboard.core.access import Principal
from dashboard.i18n.leaders import tl
from dashboard.queries.leaders import (
    EXPORT_LIMIT,
    Filters,
    case_rows,
    category_name,
    conditions,
    grid_name,
    scope_label,
    scoped,
    snapshot,
    status_name,
    status_token_name,
    town_name,
    urgency_name,
)
from dashboard.store.models import IncidentRow

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
# Characters XML 1.0 cannot hold (the C0 controls but tab, LF and CR): dropped from Excel cells.
XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
CSV_CHUNK_ROWS = 500  # rows per chunk of a streamed CSV


def safe_cell(value) -> str:
    """A cell's text that no spreadsheet reads as a formula: text starting with = + - @,
    a tab, CR or LF gets a leading apostrophe (OWASP, "CSV injection")."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


EXPORT_COLUMNS = ("id", "reported_at", "town", "grid", "category", "urgency", "status", "reporter",
                  "accepted_at", "closed_at", "description")
EXPORT_HEADERS = {"id": "col_id", "reported_at": "col_time", "town": "col_town", "grid": "col_grid",
                  "category": "col_category", "urgency": "col_urgency", "status": "status",
                  "reporter": "reporter", "accepted_at": "col_accepted", "closed_at": "col_closed_at",
                  "description": "col_description"}
XLSX_WIDTHS = (38, 20, 12, 22, 14, 10, 12, 14, 20, 20, 60)


@dataclass
class Export:
    filters: Filters
    as_of: datetime
    timezone: str
    header: list[str]
    rows: Iterator[list[str]]   # one pass, while the export is open
    total: int                  # cases matching the selection
    exported: int               # rows that ``rows`` yields: ``total`` up to the limit
    info: list[tuple[str, str]]

    @property
    def truncated(self) -> bool:
        return self.total > self.exported


def local_time(dt: datetime | None, zone: ZoneInfo) -> str:
    return "" if dt is None else dt.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def export_row(case: dict, geo, zone: ZoneInfo, lang: str) -> list[str]:
    """One case as export cells, every one of them safe text."""
    values = {
        "id": str(case["id"]), "reported_at": local_time(case["reported_at"], zone),
        "town": town_name(geo, case["town_code"], lang), "grid": grid_name(geo, case["grid_code"]),
        "category": category_name(case["category"], lang), "urgency": urgency_name(case["urgency"], lang),
        "status": status_name(case["status"], lang), "reporter": case["reporter"],
        "accepted_at": local_time(case["accepted_at"], zone), "closed_at": local_time(case["closed_at"], zone),
        "description": case["description"],
    }
    return [safe_cell(values[c]) for c in EXPORT_COLUMNS]


def describe_filters(f: Filters, lang: str) -> str:
    parts = [category_name(c, lang) for c in f.categories]
    parts += [urgency_name(u, lang) for u in f.urgencies]
    parts += [status_token_name(s, lang) for s in f.status]
    return "、".join(parts) if lang != "en" else ", ".join(parts)


@contextmanager
def open_export(rt, p: Principal, f: Filters, lang: str, *, now: datetime | None = None,
                limit: int = EXPORT_LIMIT) -> Iterator[Export]:
    """Every case of the selection (newest first, at most ``limit``) for principal ``p``, scope
    from the session, read from one snapshot while the context is open. Raises
    ``AccessDenied`` on entering."""
    f = scoped(p, f, rt.geo)
    zone = ZoneInfo(rt.settings.timezone)
    now = (now or datetime.now(timezone.utc).replace(microsecond=0)).astimezone(timezone.utc)
    start, end = metrics.period_bounds(f.period, now, zone)
    t = IncidentRow.__table__
    with snapshot(rt.store) as conn:
        total = conn.execute(select(func.count()).select_from(t).where(
            t.c.reported_at >= start, t.c.reported_at <= end, *conditions(f))).scalar_one()
        exported = min(total, limit)
        rows = (export_row(c, rt.geo, zone, lang) for c in case_rows(conn, f, start, end, limit, stream=True))
        info = [
            (tl("info_scope", lang), scope_label(rt.geo, f, lang)),
            (tl("info_period", lang), f"{tl('period_' + f.period, lang)} "
                                      f"({local_time(start, zone)} – {local_time(end, zone)}, {rt.settings.timezone})"),
            (tl("info_filters", lang), describe_filters(f, lang) or tl("info_none", lang)),
            (tl("info_as_of", lang), local_time(now, zone)),
            (tl("info_total", lang), str(total)),
            (tl("info_rows", lang), str(exported)),
        ]
        if total > exported:
            info.append((tl("info_rows", lang), tl("info_truncated", lang, n=exported)))
        info.append((tl("demo_badge", lang), tl("info_demo", lang)))
        header = [tl(EXPORT_HEADERS[c], lang) for c in EXPORT_COLUMNS]
        yield Export(filters=f, as_of=now, timezone=rt.settings.timezone, header=header, rows=rows,
                     total=total, exported=exported, info=[(k, safe_cell(v)) for k, v in info])


def csv_chunks(export: Export) -> Iterator[bytes]:
    """The CSV file in chunks: UTF-8 with a byte order mark (Excel then reads Chinese
    correctly), CRLF lines, the header first."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([safe_cell(h) for h in export.header])
    yield ("\ufeff" + buf.getvalue()).encode("utf-8")
    batch: list[list[str]] = []
    for row in export.rows:
        batch.append(row)
        if len(batch) >= CSV_CHUNK_ROWS:
            yield _csv_lines(batch)
            batch = []
    if batch:
        yield _csv_lines(batch)


def _csv_lines(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue().encode("utf-8")


def write_xlsx(export: Export, lang: str, fh: BinaryIO) -> None:
    """The cases on one sheet (strings only, never formulas), what was exported on a second,
    written to ``fh`` as the rows come (``XlsxStream``)."""
    with XlsxStream(fh) as book:
        book.sheet(tl("sheet_cases", lang), XLSX_WIDTHS[: len(export.header)],
                   [safe_cell(h) for h in export.header], export.rows, freeze_header=True)
        book.sheet(tl("sheet_info", lang), (14, 80), None, ([k, v] for k, v in export.info), bold_first=True)


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _col(i: int) -> str:
    name = ""
    i += 1
    while i:
        i, rem = divmod(i - 1, 26)
        name = chr(65 + rem) + name
    return name


class XlsxStream:
    """A minimal .xlsx (Office Open XML) writer for tables of text that streams: each row is
    written into the zip as it comes, nothing is kept. Every cell is an inline string (never a
    formula or a number); one bold style. Written by hand because the libraries measured
    (xlsxwriter in constant-memory mode, openpyxl write-only) stay below 20,000 rows of 11
    cells per second (bench/exports.py)."""

    NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

    def __init__(self, fh: BinaryIO):
        self.zip = zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED, compresslevel=1)
        self.names: list[str] = []

    def __enter__(self) -> "XlsxStream":
        return self

    def __exit__(self, *exc) -> None:
        try:
            if exc[0] is None:
                self._finish()
        finally:
            self.zip.close()

    def sheet(self, name: str, widths, header: list[str] | None, rows, *, freeze_header: bool = False,
              bold_first: bool = False) -> None:
        self.names.append(name)
        n = len(self.names)
        with self.zip.open(f"xl/worksheets/sheet{n}.xml", "w") as raw:
            out = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            out.write(f'{self.HEAD}<worksheet xmlns="{self.NS}">')
            if freeze_header:
                out.write('<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" '
                          'activePane="bottomLeft" state="frozen"/></sheetView></sheetViews>')
            else:
                out.write('<sheetViews><sheetView workbookViewId="0"/></sheetViews>')
            out.write("<cols>" + "".join(f'<col min="{i}" max="{i}" width="{w}" customWidth="1"/>'
                                         for i, w in enumerate(widths, 1)) + "</cols><sheetData>")
            cols = [_col(i) for i in range(64)]
            r = 0
            if header is not None:
                r = 1
                out.write(self._row(r, header, cols, bold_upto=len(header)))
            illegal = XML_ILLEGAL.search
            for row in rows:
                r += 1
                if illegal("".join(row)):  # rare: clean each cell only then
                    row = [XML_ILLEGAL.sub("", v) for v in row]
                out.write(self._row(r, row, cols, bold_upto=1 if bold_first else 0))
            out.write("</sheetData></worksheet>")
            out.flush()
            out.detach()

    @staticmethod
    def _row(r: int, cells, cols, bold_upto: int = 0) -> str:
        parts = [f'<row r="{r}">']
        for i, v in enumerate(cells):
            style = ' s="1"' if i < bold_upto else ""
            parts.append(f'<c r="{cols[i]}{r}" t="inlineStr"{style}><is><t xml:space="preserve">'
                         f'{_esc(v)}</t></is></c>')
        parts.append("</row>")
        return "".join(parts)

    def _finish(self) -> None:
        n = len(self.names)
        sheets = "".join(f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/'
                         f'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>' for i in range(1, n + 1))
        self.zip.writestr("[Content_Types].xml", (
            f'{self.HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/styles.xml" ContentType="application/'
            f'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>{sheets}</Types>'))
        self.zip.writestr("_rels/.rels", (
            f'{self.HEAD}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{self.REL}/officeDocument" Target="xl/workbook.xml"/>'
            '</Relationships>'))
        self.zip.writestr("xl/workbook.xml", (
            f'{self.HEAD}<workbook xmlns="{self.NS}" xmlns:r="{self.REL}"><sheets>'
            + "".join(f'<sheet name="{_esc(name[:31])}" sheetId="{i}" r:id="rId{i}"/>'
                      for i, name in enumerate(self.names, 1)) + "</sheets></workbook>"))
        self.zip.writestr("xl/_rels/workbook.xml.rels", (
            f'{self.HEAD}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            + "".join(f'<Relationship Id="rId{i}" Type="{self.REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
                      for i in range(1, n + 1))
            + f'<Relationship Id="rId{n + 1}" Type="{self.REL}/styles" Target="styles.xml"/></Relationships>'))
        self.zip.writestr("xl/styles.xml", (
            f'{self.HEAD}<styleSheet xmlns="{self.NS}">'
            '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
            '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
            '<fills count="2"><fill><patternFill patternType="none"/></fill>'
            '<fill><patternFill patternType="gray125"/></fill></fills>'
            '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
            '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
            '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
            '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
            '</styleSheet>'))


def export_filename(export: Export, ext: str) -> str:
    """ASCII only: luqiao-cases-<district|town|grid code>-<period>-<local time>.<ext>."""
    f = export.filters
    scope = f.grid or f.town or "district"
    stamp = export.as_of.astimezone(ZoneInfo(export.timezone)).strftime("%Y%m%d-%H%M")
    return f"luqiao-cases-{scope}-{f.period}-{stamp}.{ext}"
