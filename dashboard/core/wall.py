"""What the command-room wall paints, in one place: the grid fill rule, the cases that need the
command room now (alarms), and the order of the ticker. No Dash, no Redis, no SQL.

Urgency (轻重缓急, red / yellow / green) is a case's triage colour, set by the reporter and the
operators. Lateness (``SlaPolicy.lateness``: overdue, due soon) is a separate signal. The map
does not colour a grid by its most urgent open case: at district density (about 20 open cases
per grid) that paints nearly every grid red, and so does "any overdue case" (about one grid in
two has one). A grid's fill says whether it needs the command room *now* (docs/wall.md):

====== ===================================================================================
fill   the grid has at least one open case that ...
====== ===================================================================================
``r``  is red and still waits for acceptance (待受理), or is red and overdue
``y``  (no ``r``) waits for acceptance past its deadline, whatever its urgency, or is yellow
       and waits for acceptance
``g``  (no ``r``/``y``) is open: nothing waits for the command room (cases being handled,
       late closures included: those show as ringed markers and in the overdue count)
(none) the grid has no open case
====== ===================================================================================

An *alarm* is a red case that waits for acceptance, judged against the case's latest state
(its head in Redis, which every action goes through), not only the database projection.
"""
from __future__ import annotations

FILL_RANK = {"r": 3, "y": 2, "g": 1}
WAITING = "reported"  # the status of a case that waits for acceptance (受理)


def case_signal(row: dict, lateness: str | None) -> str:
    """The fill one open case asks of its grid: "r", "y" or "g" (see the table above)."""
    waiting = row["status"] == WAITING
    overdue = lateness == "overdue"
    if row["urgency"] == "red" and (waiting or overdue):
        return "r"
    if waiting and (overdue or row["urgency"] == "yellow"):
        return "y"
    return "g"


def is_alarm(row: dict) -> bool:
    """A red case that still waits for acceptance: named on the wall until it is accepted."""
    return row["urgency"] == "red" and row["status"] == WAITING


def grid_fill(signals: dict[str, str], grid: str, signal: str) -> None:
    """Fold one case's signal into ``signals`` (grid code -> fill): the strongest wins."""
    have = signals.get(grid)
    if have is None or FILL_RANK[signal] > FILL_RANK[have]:
        signals[grid] = signal


def alarm_order(rows: list[dict]) -> list[dict]:
    """Alarms, most urgent first: overdue before in time, then the longest waiting first."""
    return sorted(rows, key=lambda r: (not r.get("overdue"), r["reported_at"]))
