"""The routing table (流转): which department a case of a category goes to, by town.

``data/routing.csv`` has one row per ``category,town,department``. An empty ``town`` is the
district-wide default for the category; a town code (``data/towns.csv``) is an override for that
town, and it wins. Every category of ``data/categories.csv`` needs its default row. Departments
are named by their ``name_zh`` in ``data/departments.csv``, the name a case's projection stores.

This module is the one place for the rule: ``propose(category, town_code)``. A bad table is
refused when it is first read, naming the row (as a spreadsheet numbers them: the header is row
1) and the column. See docs/routing.md.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from itertools import zip_longest
from pathlib import Path

from dashboard.config import data_dir
from dashboard.core.domain import categories, departments

COLUMNS = ("category", "town", "department")


class RoutingError(ValueError):
    """A bad routing table. ``row`` is the row of the file (the header is row 1), ``None`` for a
    problem of no single row; ``column`` the column concerned."""

    def __init__(self, name: str, row: int | None, column: str, what: str):
        self.row, self.column = row, column
        where = f"row {row}, column {column}" if row is not None else f"column {column}"
        super().__init__(f"{name} {where}: {what}")


@dataclass(frozen=True)
class Routing:
    defaults: dict[str, str]                # category -> department (name_zh)
    overrides: dict[tuple[str, str], str]   # (category, town code) -> department (name_zh)

    def propose(self, category: str, town_code: str | None) -> str:
        """The department a case of ``category`` in ``town_code`` goes to: the town's own row
        if there is one, else the category's default. KeyError for an unknown category."""
        dept = self.overrides.get((category, town_code or ""))
        if dept is None:
            try:
                dept = self.defaults[category]
            except KeyError:
                raise KeyError(f"no routing for unknown category {category!r}") from None
        return dept


def _town_codes() -> set[str]:
    with open(data_dir() / "towns.csv", encoding="utf-8", newline="") as fh:
        return {row["code"] for row in csv.DictReader(fh)}


def load_routing(path: Path | None = None) -> Routing:
    """Read and check the table against the categories, towns and departments. Raises
    RoutingError naming the row and column of the first problem."""
    path = Path(path or data_dir() / "routing.csv")
    name = path.name
    cats = categories()
    towns = _town_codes()
    names = {d.name_zh for d in departments().values()}
    by_code = {d.code: d.name_zh for d in departments().values()}
    defaults: dict[str, str] = {}
    overrides: dict[tuple[str, str], str] = {}
    first_row: dict[tuple[str, str], int] = {}
    with open(path, encoding="utf-8-sig", newline="") as fh:  # a spreadsheet may save a BOM
        reader = csv.reader(fh)
        header = [h.strip() for h in next(reader, [])]
        for want, got in zip_longest(COLUMNS, header):
            if want != got:
                raise RoutingError(name, 1, want or got, f"the header must be {','.join(COLUMNS)}, "
                                                         f"not {','.join(header)}")
        for cells in reader:
            row = reader.line_num
            if not any(c.strip() for c in cells):
                continue  # a blank line
            if len(cells) != len(COLUMNS):
                column = COLUMNS[len(cells)] if len(cells) < len(COLUMNS) else COLUMNS[-1]
                raise RoutingError(name, row, column, f"{len(cells)} fields; every row has {len(COLUMNS)}: "
                                                      f"{','.join(COLUMNS)}")
            category, town, dept = (c.strip() for c in cells)
            if category not in cats:
                raise RoutingError(name, row, "category", f"unknown category {category!r} (the codes of "
                                                          "data/categories.csv)")
            if town and town not in towns:
                raise RoutingError(name, row, "town", f"unknown town {town!r} (a code of data/towns.csv, or "
                                                      "empty for the district-wide default)")
            if dept not in names:
                hint = f"; write its name {by_code[dept]}" if dept in by_code else ""
                raise RoutingError(name, row, "department", f"unknown department {dept!r} (the name_zh of "
                                                            f"data/departments.csv{hint})")
            key = (category, town)
            if key in first_row:
                what = f"town {town}" if town else "the district-wide default"
                raise RoutingError(name, row, "town", f"a second row for {category}, {what} "
                                                      f"(first in row {first_row[key]})")
            first_row[key] = row
            if town:
                overrides[key] = dept
            else:
                defaults[category] = dept
    for category in cats:
        if category not in defaults:
            rows = sorted(r for (c, _), r in first_row.items() if c == category)
            has = f"; rows {', '.join(map(str, rows))} are town overrides only" if rows else ""
            raise RoutingError(name, rows[0] if rows else None, "town",
                               f"category {category} has no default row (one with the town empty){has}")
    return Routing(defaults, overrides)


def routing() -> Routing:
    """The deployment's routing table (``DATA_DIR``/routing.csv), loaded once per folder."""
    return routing_in(data_dir())


@lru_cache(maxsize=4)
def routing_in(folder: Path) -> Routing:
    return load_routing(folder / "routing.csv")


def propose(category: str, town_code: str | None) -> str:
    """The department (``name_zh``) a case of ``category`` in ``town_code`` is routed to: the
    town's override if the table has one, else the category's district-wide default."""
    return routing().propose(category, town_code)
