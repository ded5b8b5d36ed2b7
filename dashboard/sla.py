"""SLA clocks: deadlines per category and urgency, urgency that rises with the clock, and
automatic escalation of overdue cases. The one place for these rules.

* ``data/sla.csv`` (``category,urgency,accept_hours,close_hours``, ``*`` for any) gives the
  deadlines: the row for the category and urgency, else the stricter of the category's and
  the urgency's rows, else the default.
  Deadlines follow the urgency the case was *reported* with, so that urgency raised by the
  clock does not shorten its own deadline.
* While a case waits for its next deadline (acceptance, then closing), its urgency rises to at
  least yellow in the last quarter of the window and to red once the deadline has passed.
* A case past its deadline is escalated one level (grid → village → town → district) once per
  missed deadline, when ``auto_escalate`` is on.

``SlaWatcher`` applies this to the open cases every ``interval`` seconds, as events through the
same checked actions as an operator's (``dashboard.commands``), so every screen shows the same
colours and the audit trail records who (``SLA``) changed what and when.
"""
from __future__ import annotations

import csv
import logging
import threading
import uuid
from dataclasses import dataclass
from functools import lru_cache
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .config import DATA_DIR
from .domain import LEVELS, NAMESPACE, OPEN_STATUSES, URGENCY_RANK, Event

log = logging.getLogger(__name__)
ACTOR = "SLA"
CLAIM_TTL_S = 40 * 86400


@dataclass(frozen=True)
class Deadlines:
    accept_by: datetime
    close_by: datetime


@dataclass(frozen=True)
class Rule:
    accept: timedelta
    close: timedelta


class SlaPolicy:
    def __init__(self, rules: dict[tuple[str, str], Rule], auto_escalate: bool = True,
                 warn_share: float = 0.25):
        if ("*", "*") not in rules:
            raise ValueError("the SLA table needs a default row: *,*,accept_hours,close_hours")
        self.rules = rules
        self.auto_escalate = auto_escalate
        self.warn_share = warn_share

    @classmethod
    def load(cls, path: Path | None = None, **kw) -> "SlaPolicy":
        rules = {}
        with open(path or DATA_DIR / "sla.csv", encoding="utf-8", newline="") as fh:
            for n, row in enumerate(csv.DictReader(fh), start=2):
                try:
                    accept, close = float(row["accept_hours"]), float(row["close_hours"])
                except (TypeError, ValueError):
                    raise ValueError(f"sla.csv line {n}: hours must be numbers") from None
                if not 0 < accept <= close:
                    raise ValueError(f"sla.csv line {n}: need 0 < accept_hours <= close_hours")
                urgency = row["urgency"].strip()
                if urgency != "*" and urgency not in URGENCY_RANK:
                    raise ValueError(f"sla.csv line {n}: unknown urgency {urgency!r}")
                rules[(row["category"].strip(), urgency)] = Rule(timedelta(hours=accept), timedelta(hours=close))
        return cls(rules, **kw)

    def rule(self, category: str, urgency: str) -> Rule:
        """The row for exactly this category and urgency; else the stricter of the category's
        row and the urgency's row (a red fire hazard gets the red deadlines when those are
        shorter); else the default row."""
        if (category, urgency) in self.rules:
            return self.rules[(category, urgency)]
        found = [self.rules[k] for k in ((category, "*"), ("*", urgency)) if k in self.rules]
        if found:
            return Rule(min(r.accept for r in found), min(r.close for r in found))
        return self.rules[("*", "*")]

    def deadlines(self, category: str, base_urgency: str, reported_at: datetime) -> Deadlines:
        r = self.rule(category, base_urgency)
        return Deadlines(reported_at + r.accept, reported_at + r.close)

    # ------------------------------------------------------------------ the clock
    def pending(self, case: dict) -> tuple[str, datetime, timedelta] | None:
        """The deadline the case waits for now: ("accept"|"close", when, window), or None."""
        if case["status"] not in OPEN_STATUSES:
            return None
        d = self.deadlines(case["category"], case["base_urgency"], case["reported_at"])
        r = self.rule(case["category"], case["base_urgency"])
        if case.get("accepted_at") is None:
            return "accept", d.accept_by, r.accept
        return "close", d.close_by, r.close

    def clock_urgency(self, case: dict, now: datetime) -> str:
        """The urgency the clock asks for: never below the case's current urgency."""
        current = case["urgency"]
        p = self.pending(case)
        if p is None:
            return current
        _, due, window = p
        wanted = "red" if now > due else "yellow" if due - now <= window * self.warn_share else "green"
        return wanted if URGENCY_RANK[wanted] > URGENCY_RANK[current] else current

    def due_events(self, case: dict, now: datetime) -> list[Event]:
        """The events the clock owes this case now (urgency rise, escalation). Their ids are
        derived from the case and the deadline, so a repeated round adds nothing new."""
        p = self.pending(case)
        if p is None:
            return []
        stage, due, _ = p
        out = []
        iid = case["id"]
        wanted = self.clock_urgency(case, now)
        if wanted != case["urgency"]:
            out.append(Event(id=uuid.uuid5(NAMESPACE, f"{iid}:sla-urgency:{stage}:{wanted}"), incident_id=iid,
                             type="urgency_changed", at=now, actor=ACTOR, data={"urgency": wanted},
                             note=f"临近或超过{'受理' if stage == 'accept' else '办结'}时限"))
        level = case.get("level") or "grid"
        if self.auto_escalate and now > due and level != LEVELS[-1]:
            target = LEVELS[LEVELS.index(level) + 1]
            out.append(Event(id=uuid.uuid5(NAMESPACE, f"{iid}:sla-escalate:{stage}"), incident_id=iid,
                             type="escalated", at=now, actor=ACTOR, data={"level": target},
                             note=f"超过{'受理' if stage == 'accept' else '办结'}时限，自动上报{target}"))
        return out


@lru_cache(maxsize=1)
def default_policy() -> SlaPolicy:
    """The deployment's SLA table (data/sla.csv), loaded once per process."""
    return SlaPolicy.load()


class SlaWatcher:
    """Every ``interval`` seconds: the clock's events for every open case, through the checked
    actions. Safe to run in several processes: the second to try the same step is refused."""

    def __init__(self, runtime, policy: SlaPolicy | None = None, interval: float = 30.0, clock=None):
        self.rt = runtime
        self.policy = policy or SlaPolicy.load()
        self.interval = interval
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self._stop = threading.Event()
        self.appended = 0

    def stop(self) -> None:
        self._stop.set()

    def run_once(self) -> int:
        """One round over the open cases. Each clock event is claimed once in Redis under its
        derived id (SET NX) before it is appended, so a slow persister (the database shows
        the old urgency for a while) or a second watcher never repeats a step."""
        from .commands import ActionError, Commands, head_key

        cmds = Commands(self.rt.redis, self.rt.store, self.rt.settings.stream)
        r = self.rt.redis
        now = self.clock()
        done = 0
        for case in self.rt.store.open_cases_for_sla():
            for ev in self.policy.due_events(case, now):
                claim = f"sla:{ev.id}"
                if not r.set(claim, 1, nx=True, ex=CLAIM_TTL_S):
                    continue
                try:
                    cmds.ensure_head(case["id"])
                    cmds.append(ev, int(r.hget(head_key(case["id"]), "v")))
                    done += 1
                except ActionError:
                    r.delete(claim)  # the case moved on meanwhile (or was closed): next round
                    break
        self.appended += done
        return done

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception as exc:  # Redis or database away: try again next round
                log.warning("SLA watcher: %s", exc)
            self._stop.wait(self.interval)
