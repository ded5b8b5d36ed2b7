"""The routing table (data/routing.csv): its proposals, and a bad table refused naming the row
and column."""
from __future__ import annotations

import csv

import pytest

from dashboard.config import DATA_DIR
from dashboard.core import routing
from dashboard.core.domain import categories, departments
from dashboard.core.routing import RoutingError, load_routing, propose

SHIPPED = (DATA_DIR / "routing.csv").read_text(encoding="utf-8")
LUNAN, FENGJIANG, BINHAI = "331004001", "331004006", "331004400"


def shipped_rows() -> list[dict]:
    with open(DATA_DIR / "routing.csv", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def table(tmp_path, text):
    p = tmp_path / "routing.csv"
    p.write_text(text, encoding="utf-8")
    return load_routing(p)


def test_proposals_follow_the_shipped_table():
    defaults = {r["category"]: r["department"] for r in shipped_rows() if not r["town"]}
    for category, expected in [("fire_hazard", "消防救援大队"), ("dispute", "司法调解中心"),
                               ("illegal_construction", "综合行政执法局")]:
        assert defaults[category] == expected
        assert propose(category, LUNAN) == propose(category, None) == expected
    # every category has a default, every department is one of data/departments.csv by name
    assert set(defaults) == set(categories())
    names = {d.name_zh for d in departments().values()}
    assert {r["department"] for r in shipped_rows()} <= names


def test_a_town_override_wins_over_the_default():
    overrides = {(r["category"], r["town"]): r["department"] for r in shipped_rows() if r["town"]}
    assert overrides[("environment", FENGJIANG)] == "生态环境分局"
    assert propose("environment", FENGJIANG) == propose("environment", BINHAI) == "生态环境分局"
    assert propose("environment", LUNAN) == "综合行政执法局"        # no override: the default
    for (category, town), dept in overrides.items():
        assert propose(category, town) == dept


def test_an_override_in_an_edited_table(tmp_path):
    r = table(tmp_path, SHIPPED + f"dispute,{LUNAN},公安分局\n")
    assert r.propose("dispute", LUNAN) == "公安分局"
    assert r.propose("dispute", FENGJIANG) == "司法调解中心"
    with pytest.raises(KeyError, match="unknown category"):
        r.propose("alien_landing", LUNAN)


def test_the_table_is_read_once_per_process(monkeypatch):
    routing.routing_in.cache_clear()
    calls = []
    real = routing.load_routing
    monkeypatch.setattr(routing, "load_routing", lambda *a: calls.append(1) or real(*a))
    propose("garbage", LUNAN), propose("dispute", LUNAN)
    assert calls == [1]
    routing.routing_in.cache_clear()


def replace_line(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new)


# Each bad table: (text, row, column, words the message must hold). Rows are numbered as a
# spreadsheet numbers them: the header is row 1, the shipped table's first category row 2.
BAD = [
    (SHIPPED.replace("fire_hazard,,", "fire_hazzard,,"), 2, "category", "unknown category 'fire_hazzard'"),
    (SHIPPED + "garbage,331004999,住建局\n", 23, "town", "unknown town '331004999'"),
    (SHIPPED.replace("dispute,,司法调解中心", "dispute,,调解委员会"), 5, "department",
     "unknown department '调解委员会'"),
    (SHIPPED.replace("dispute,,司法调解中心", "dispute,,mediation"), 5, "department", "write its name 司法调解中心"),
    (SHIPPED + "garbage,,住建局\n", 23, "town", "a second row for garbage, the district-wide default (first in row 15)"),
    (SHIPPED + f"environment,{FENGJIANG},住建局\n", 23, "town",
     f"a second row for environment, town {FENGJIANG} (first in row 22)"),
    (SHIPPED.replace("environment,,综合行政执法局\n", ""), 19, "town",
     "category environment has no default row (one with the town empty); rows 19, 20, 21 are town overrides only"),
    (SHIPPED.replace("category,town,department", "category,department,town"), 1, "town",
     "the header must be category,town,department"),
    (SHIPPED + "garbage,住建局\n", 23, "department", "2 fields; every row has 3"),
]


@pytest.mark.parametrize("text,row,column,words", BAD)
def test_a_bad_table_is_refused_naming_row_and_column(tmp_path, text, row, column, words):
    with pytest.raises(RoutingError) as exc:
        table(tmp_path, text)
    assert (exc.value.row, exc.value.column) == (row, column)
    assert str(exc.value).startswith(f"routing.csv row {row}, column {column}: ")
    assert words in str(exc.value)


def test_a_category_with_no_row_at_all_is_named(tmp_path):
    with pytest.raises(RoutingError) as exc:
        table(tmp_path, SHIPPED.replace("flood_risk,,应急管理局\n", ""))
    assert exc.value.column == "town" and exc.value.row is None
    assert "category flood_risk has no default row" in str(exc.value)


def test_blank_lines_and_a_spreadsheet_bom_are_fine_and_rows_keep_their_numbers(tmp_path):
    r = table(tmp_path, "\ufeff" + SHIPPED.replace("dispute,,", "\ndispute,,"))
    assert r.propose("dispute", LUNAN) == "司法调解中心"
    with pytest.raises(RoutingError) as exc:
        table(tmp_path, "\ufeff" + SHIPPED.replace("dispute,,司法调解中心", "\ndispute,,调解委员会"))
    assert exc.value.row == 6
