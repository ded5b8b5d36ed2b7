"""The leaders' exports at district scale: 50,000 rows of CSV and Excel, time and memory.

    .venv/bin/python bench/exports.py                                   # SQLite, 120,000 cases
    .venv/bin/python bench/exports.py --backends sqlite postgresql --pg postgresql://postgres@127.0.0.1:5432/test

Fills a fresh database with ``--cases`` cases over a year (bench/console_list.py's filler), then
exports the district's year, newest first, at the cap (``EXPORT_LIMIT``, 50,000 rows), the way
``GET /leaders/export.csv|xlsx`` does: ``exports.open_export`` streaming the rows from one read
transaction into ``csv_chunks`` or ``write_xlsx`` (``XlsxStream``, row by row into the zip). The **baseline,
measured in the same run**, is the previous way: every row read into a list first, the Excel
file built by openpyxl's write-only workbook. Prints the median seconds of ``--repeat`` runs,
rows per second, the ratio to the baseline and the peak of Python memory (tracemalloc, a
separate run). Targets: Excel at 20,000 rows/s or more; each streamed export's memory peak
below a tenth of the baseline's. Exit status 0 only if every target holds.
"""
from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from console_list import fill  # noqa: E402

from dashboard.config import Settings  # noqa: E402
from dashboard.core.access import Principal  # noqa: E402
from dashboard.geo.geography import Geography  # noqa: E402
from dashboard.queries import exports, leaders  # noqa: E402
from dashboard.store.incidents import Store  # noqa: E402

ADMIN = Principal("user", 1, "bench", "admin")
EXCEL_ROWS_PER_S = 20_000


def baseline_xlsx(rt, f, lang: str) -> int:
    """The previous export: all rows in a list, then openpyxl's write-only workbook."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    with exports.open_export(rt, ADMIN, f, lang) as ex:
        rows = list(ex.rows)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("cases")
    for row in [ex.header, *rows]:
        cells = []
        for v in row:
            cell = WriteOnlyCell(ws, value=v)
            cell.data_type = "s"
            cells.append(cell)
        ws.append(cells)
    buf = io.BytesIO()
    wb.save(buf)
    return len(rows)


def baseline_csv(rt, f, lang: str) -> int:
    with exports.open_export(rt, ADMIN, f, lang) as ex:
        rows = list(ex.rows)
    ex.rows = iter(rows)
    b"".join(exports.csv_chunks(ex))
    return len(rows)


def streamed_csv(rt, f, lang: str) -> int:
    with exports.open_export(rt, ADMIN, f, lang) as ex, tempfile.TemporaryFile() as fh:
        for chunk in exports.csv_chunks(ex):
            fh.write(chunk)
        return ex.exported


def streamed_xlsx(rt, f, lang: str) -> int:
    with exports.open_export(rt, ADMIN, f, lang) as ex, tempfile.TemporaryFile() as fh:
        exports.write_xlsx(ex, lang, fh)
        return ex.exported


def measure(fn, rt, f, repeat: int) -> tuple[float, int, float]:
    rows = fn(rt, f, "zh")  # warm
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(rt, f, "zh")
        runs.append(time.perf_counter() - t0)
    tracemalloc.start()
    fn(rt, f, "zh")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return statistics.median(runs), rows, peak / 2**20


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=120_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--backends", nargs="+", default=["sqlite"], choices=["sqlite", "postgresql"])
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    args = ap.parse_args()
    now = datetime.now(timezone.utc).replace(microsecond=0)
    settings = Settings.from_env({}, make_secret=False)
    geo = Geography(settings)
    ok = True
    for backend in args.backends:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/bench.sqlite3" if backend == "sqlite" else args.pg
            store = Store.from_url(url)
            store.drop_all()
            store.create_all()
            t0 = time.perf_counter()
            fill(store, args.cases, now)
            print(f"\n{backend}: {args.cases:,} cases over a year, filled in {time.perf_counter() - t0:.0f} s")
            rt = SimpleNamespace(store=store, geo=geo, settings=settings)
            f = leaders.parse_query({"period": "year"})
            results = {name: measure(fn, rt, f, args.repeat) for name, fn in (
                ("CSV, baseline (list)", baseline_csv), ("CSV, streamed", streamed_csv),
                ("Excel, baseline (openpyxl)", baseline_xlsx), ("Excel, streamed", streamed_xlsx))}
            print(f"{'export of the year, newest first':34} {'rows':>7} {'s':>7} {'rows/s':>9} {'ratio':>6} {'peak MiB':>9}")
            for name, (secs, rows, peak) in results.items():
                base = results["CSV, baseline (list)" if name.startswith("CSV") else "Excel, baseline (openpyxl)"]
                print(f"{name:34} {rows:>7,} {secs:>7.2f} {rows / secs:>9,.0f} {secs / base[0]:>6.2f} {peak:>9.1f}")
            xs, xrows, xpeak = results["Excel, streamed"]
            cs, _, cpeak = results["CSV, streamed"]
            checks = [(f"Excel ≥ {EXCEL_ROWS_PER_S:,} rows/s", xrows / xs >= EXCEL_ROWS_PER_S),
                      ("Excel memory < 1/10 of baseline", xpeak < results["Excel, baseline (openpyxl)"][2] / 10),
                      ("CSV memory < 1/10 of baseline", cpeak < results["CSV, baseline (list)"][2] / 10)]
            for what, held in checks:
                print(f"  {'holds' if held else 'MISSED'}: {what}")
                ok &= held
            store.drop_all()
            store.engine.dispose()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
