"""SLA clocks: deadlines per category and urgency, lateness, and what the clock does about it.
The one place for these rules (see docs/sla.md).

* ``data/sla.csv`` gives, per ``category`` and ``urgency`` (``*`` for any), the deadlines
  (``accept_hours``, ``close_hours``) and, optionally, what the clock does to the urgency
  (``warn_urgency`` in the last ``warn_share`` of a window, ``late_urgency`` once a deadline
  has passed; empty or absent: nothing). A case takes the row for its category and urgency,
  else the stricter of the category's and the urgency's rows, else the default row.
  Deadlines follow the urgency the case was *reported* with, so that a raised urgency does
  not shorten its own deadline.
* Urgency (red/yellow/green) is the triage colour given by people; lateness
  (``SlaPolicy.lateness``: "overdue", "due_soon" or None) is the clock's own signal. The
  shipped table leaves urgency alone.
* A case past its deadline is escalated one level (grid → village → town → district) once per
  missed deadline, when ``auto_escalate`` is on.

``dashboard.workers.sla_watcher`` applies this to the open cases, as events through the same
checked append as an operator's.
"""
from __future__ import annotations

import csv
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from dashboard.config import data_dir
from dashboard.core.domain import LEVELS, NAMESPACE, OPEN_STATUSES, URGENCIES, URGENCY_RANK, Event, categories

ACTOR = "SLA"
COLUMNS = ("category", "urgency", "accept_hours", "close_hours")
OPTIONAL_COLUMNS = ("warn_urgency", "late_urgency")
_OPEN = frozenset(OPEN_STATUSES)
OVERDUE, DUE_SOON = "overdue", "due_soon"


@dataclass(frozen=True)
class Deadlines:
    accept_by: datetime
    close_by: datetime


@dataclass(frozen=True)
class Rule:
    """One row of the table: the two windows from the report, and the urgency the clock asks
    for near (``warn_urgency``) and past (``late_urgency``) a deadline; None: no change."""
    accept: timedelta
    close: timedelta
    warn_urgency: str | None = None
    late_urgency: str | None = None


@dataclass(frozen=True)
class _Resolved:
    """A rule as the clock uses it, computed once per (category, base urgency): the windows,
    the elapsed time from which each one is "due soon", and the urgency asked for."""
    rule: Rule
    accept_warn_from: timedelta
    close_warn_from: timedelta
    warn_urgency: str | None
    late_urgency: str | None


def _higher(a: str | None, b: str | None) -> str | None:
    """The more urgent of two optional urgencies."""
    if a is None or b is None:
        return a or b
    return a if URGENCY_RANK[a] >= URGENCY_RANK[b] else b


class SlaPolicy:
    def __init__(self, rules: dict[tuple[str, str], Rule], auto_escalate: bool = True,
                 warn_share: float = 0.25):
        if ("*", "*") not in rules:
            raise ValueError("the SLA table needs a default row: *,*,accept_hours,close_hours")
        if not 0 <= warn_share <= 1:
            raise ValueError("warn_share must be between 0 and 1")
        self.rules = rules
        self.auto_escalate = auto_escalate
        self.warn_share = warn_share
        self._cache: dict[tuple[str, str], _Resolved] = {}

    @classmethod
    def load(cls, path: Path | None = None, **kw) -> "SlaPolicy":
        """Read the table. ``warn_urgency`` and ``late_urgency`` are optional columns (a table
        without them loads, and changes no urgency). Errors name the line and the column."""
        path = Path(path or data_dir() / "sla.csv")
        name = path.name
        known_categories = categories()
        rules: dict[tuple[str, str], Rule] = {}
        seen: dict[tuple[str, str], int] = {}
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in reader.fieldnames or []]
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                raise ValueError(f"{name} line 1: missing column(s) {', '.join(missing)}")
            unknown = [h for h in header if h not in COLUMNS + OPTIONAL_COLUMNS]
            if unknown:
                raise ValueError(f"{name} line 1: unknown column(s) {', '.join(unknown)}; "
                                 f"known: {', '.join(COLUMNS + OPTIONAL_COLUMNS)}")
            reader.fieldnames = header
            for n, row in enumerate(reader, start=2):
                def bad(column: str, what: str) -> ValueError:
                    return ValueError(f"{name} line {n}, column {column}: {what}")

                if None in row:
                    raise ValueError(f"{name} line {n}: more fields than columns")
                cell = {k: (v or "").strip() for k, v in row.items()}
                category, urgency = cell["category"], cell["urgency"]
                if category != "*" and category not in known_categories:
                    raise bad("category", f"unknown category {category!r}")
                if urgency != "*" and urgency not in URGENCY_RANK:
                    raise bad("urgency", f"unknown urgency {urgency!r} (red, yellow, green or *)")
                hours = {}
                for column in ("accept_hours", "close_hours"):
                    try:
                        hours[column] = float(cell[column])
                    except ValueError:
                        raise bad(column, f"hours must be numbers, not {cell[column]!r}") from None
                if not 0 < hours["accept_hours"] <= hours["close_hours"]:
                    raise bad("close_hours" if hours["accept_hours"] > 0 else "accept_hours",
                              "need 0 < accept_hours <= close_hours")
                raise_to = {}
                for column in OPTIONAL_COLUMNS:
                    value = cell.get(column, "")
                    if value and value not in URGENCY_RANK:
                        raise bad(column, f"unknown urgency {value!r} (red, yellow, green or empty)")
                    raise_to[column] = value or None
                key = (category, urgency)
                if key in seen:
                    raise bad("urgency", f"a second row for {category},{urgency} (first on line {seen[key]})")
                seen[key] = n
                rules[key] = Rule(timedelta(hours=hours["accept_hours"]), timedelta(hours=hours["close_hours"]),
                                  **raise_to)
        return cls(rules, **kw)

    # ------------------------------------------------------------------ the table
    def _resolved(self, category: str, urgency: str) -> _Resolved:
        key = (category, urgency)
        got = self._cache.get(key)
        if got is None:
            r = self._lookup(category, urgency)
            keep = 1 - self.warn_share
            got = self._cache[key] = _Resolved(
                r, r.accept * keep, r.close * keep, r.warn_urgency,
                _higher(r.warn_urgency, r.late_urgency))  # a late case has passed the warning too
        return got

    def _lookup(self, category: str, urgency: str) -> Rule:
        if (category, urgency) in self.rules:
            return self.rules[(category, urgency)]
        found = [self.rules[k] for k in ((category, "*"), ("*", urgency)) if k in self.rules]
        if len(found) == 1:
            return found[0]
        if found:
            a, b = found
            return Rule(min(a.accept, b.accept), min(a.close, b.close),
                        _higher(a.warn_urgency, b.warn_urgency), _higher(a.late_urgency, b.late_urgency))
        return self.rules[("*", "*")]

    def rule(self, category: str, urgency: str) -> Rule:
        """The row for exactly this category and urgency; else the stricter of the category's
        row and the urgency's row (shorter windows, the higher urgency asked for: a red fire
        hazard gets the red deadlines when those are shorter); else the default row."""
        return self._resolved(category, urgency).rule

    def deadlines(self, category: str, base_urgency: str, reported_at: datetime) -> Deadlines:
        r = self.rule(category, base_urgency)
        return Deadlines(reported_at + r.accept, reported_at + r.close)

    def windows(self, category_codes, urgencies=URGENCIES) -> dict:
        """(category, base urgency) -> (accept hours, close hours) for every pair, and
        ("*", "*") for anything else: the table in the form a SQL query can sort by
        (``dashboard.store.incidents.Store.case_page``)."""
        out = {("*", "*"): self._hours(self.rule("*", "*"))}
        for c in category_codes:
            for u in urgencies:
                out[(c, u)] = self._hours(self.rule(c, u))
        return out

    @staticmethod
    def _hours(r: Rule) -> tuple[float, float]:
        return r.accept.total_seconds() / 3600, r.close.total_seconds() / 3600

    # ------------------------------------------------------------------ the clock
    def pending(self, case: dict) -> tuple[str, datetime, timedelta] | None:
        """The deadline the case waits for now: ("accept"|"close", when, window), or None."""
        if case["status"] not in _OPEN:
            return None
        r = self.rule(case["category"], case["base_urgency"])
        if case.get("accepted_at") is None:
            return "accept", case["reported_at"] + r.accept, r.accept
        return "close", case["reported_at"] + r.close, r.close

    def lateness(self, case: dict, now: datetime) -> str | None:
        """The case's lateness now, the one definition for every screen and alarm:

        * ``"overdue"``: it waits for a deadline that has passed (not accepted after
          ``accept_by``, or not closed after ``close_by``);
        * ``"due_soon"``: it is in the last ``warn_share`` of the window it waits for;
        * ``None``: closed, or in time. At the deadline itself a case is still in time.

        ``case`` needs ``status``, ``category``, ``base_urgency``, ``reported_at`` and
        ``accepted_at``. Cheap: one dictionary look-up and one subtraction per case.
        """
        if case["status"] not in _OPEN:
            return None
        res = self._cache.get((case["category"], case["base_urgency"])) \
            or self._resolved(case["category"], case["base_urgency"])
        elapsed = now - case["reported_at"]
        if case.get("accepted_at") is None:
            window, warn_from = res.rule.accept, res.accept_warn_from
        else:
            window, warn_from = res.rule.close, res.close_warn_from
        if elapsed > window:
            return OVERDUE
        if elapsed >= warn_from:
            return DUE_SOON
        return None

    def clock_urgency(self, case: dict, now: datetime) -> str:
        """The urgency the clock asks for under this table: the case's current urgency unless
        its row names a higher one for its lateness (``warn_urgency`` when due soon, the higher
        of ``warn_urgency`` and ``late_urgency`` when overdue). Never lowers an urgency."""
        current = case["urgency"]
        state = self.lateness(case, now)
        if state is None:
            return current
        res = self._resolved(case["category"], case["base_urgency"])
        wanted = res.late_urgency if state == OVERDUE else res.warn_urgency
        return wanted if wanted and URGENCY_RANK[wanted] > URGENCY_RANK[current] else current

    def due_events(self, case: dict, now: datetime) -> list[Event]:
        """The events the clock owes this case now (an urgency change if the table asks for
        one, an escalation per missed deadline). Their ids are derived from the case and the
        deadline, so a repeated round adds nothing new."""
        p = self.pending(case)
        if p is None:
            return []
        stage = p[0]
        out = []
        iid = case["id"]
        wanted = self.clock_urgency(case, now)
        if wanted != case["urgency"]:
            out.append(Event(id=uuid.uuid5(NAMESPACE, f"{iid}:sla-urgency:{stage}:{wanted}"), incident_id=iid,
                             type="urgency_changed", at=now, actor=ACTOR, data={"urgency": wanted},
                             note=f"临近或超过{'受理' if stage == 'accept' else '办结'}时限"))
        level = case.get("level") or "grid"
        if self.auto_escalate and level != LEVELS[-1] and self.lateness(case, now) == OVERDUE:
            target = LEVELS[LEVELS.index(level) + 1]
            out.append(Event(id=uuid.uuid5(NAMESPACE, f"{iid}:sla-escalate:{stage}"), incident_id=iid,
                             type="escalated", at=now, actor=ACTOR, data={"level": target},
                             note=f"超过{'受理' if stage == 'accept' else '办结'}时限，自动上报{target}"))
        return out


def default_policy() -> SlaPolicy:
    """The deployment's SLA table (``DATA_DIR``/sla.csv), loaded once per folder."""
    return policy_in(data_dir())


@lru_cache(maxsize=4)
def policy_in(folder: Path) -> SlaPolicy:
    return SlaPolicy.load(folder / "sla.csv")
