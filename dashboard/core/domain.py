"""The domain: categories, urgency, incidents and their lifecycle events.

This module is the one place for these rules:

* the four work platforms and the report categories under them (``data/categories.csv``),
* urgency levels and their colours,
* the lifecycle: which event may follow which status, and how an incident's state is
  folded from its events (events are the truth; the stored incident row is a projection).
"""
from __future__ import annotations

import csv
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from dashboard.config import data_dir

# A fixed namespace so that derived ids (e.g. the "reported" event of an incident) are stable.
NAMESPACE = uuid.UUID("6f1d8a52-3f0e-4c1b-9a57-2b8f0c4e7d11")


class Urgency(str, Enum):
    RED = "red"
    YELLOW = "yellow"
    GREEN = "green"

    @property
    def rank(self) -> int:
        return URGENCY_RANK[self.value]


URGENCIES = ("red", "yellow", "green")  # 红 / 黄 / 绿, most urgent first
URGENCY_RANK = dict(zip(URGENCIES, (3, 2, 1)))
# Colours chosen to stay distinct on a dark wall screen and under deuteranopia and protanopia
# (red is a light vermilion, green a blue-green: they differ in lightness and in blue, not only
# in red/green); shapes make them readable without colour. assets/griddash.css repeats them as
# CSS variables (--gd-red, --gd-yellow, --gd-green) for the page's text. ``symbol`` is the
# shape as a character, for text (lists, tickers, tables).
URGENCY_STYLE = {
    "red": {"color": "#e8402f", "shape": "triangle", "symbol": "▲", "zh": "红色（紧急）", "en": "Red (urgent)"},
    "yellow": {"color": "#ffe135", "shape": "square", "symbol": "■", "zh": "黄色（较急）", "en": "Yellow (soon)"},
    "green": {"color": "#1fc7a8", "shape": "circle", "symbol": "●", "zh": "绿色（一般）", "en": "Green (routine)"},
}


PLATFORMS = {
    "public_order": {"zh": "综治工作", "en": "Public order"},
    "market": {"zh": "市场监管", "en": "Market supervision"},
    "enforcement": {"zh": "综合执法", "en": "Law enforcement"},
    "services": {"zh": "便民服务", "en": "Citizen services"},
}


@dataclass(frozen=True)
class Category:
    code: str
    platform: str
    name_zh: str
    name_en: str
    urgency: str

    def as_dict(self) -> dict:
        return {
            "code": self.code,
            "platform": self.platform,
            "platform_name": PLATFORMS[self.platform]["zh"],
            "platform_name_en": PLATFORMS[self.platform]["en"],
            "name": self.name_zh,
            "name_en": self.name_en,
            "default_urgency": self.urgency,
        }


def load_categories(path: Path | None = None) -> dict[str, Category]:
    path = path or data_dir() / "categories.csv"
    out: dict[str, Category] = {}
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            cat = Category(row["code"], row["platform"], row["name_zh"], row["name_en"], row["urgency"])
            if cat.platform not in PLATFORMS:
                raise ValueError(f"category {cat.code}: unknown platform {cat.platform}")
            if cat.urgency not in URGENCY_RANK:
                raise ValueError(f"category {cat.code}: unknown urgency {cat.urgency}")
            out[cat.code] = cat
    return out


def categories() -> dict[str, Category]:
    """The categories of this process's data folder (``DATA_DIR``), read once per folder."""
    return categories_in(data_dir())


@lru_cache(maxsize=4)
def categories_in(folder: Path) -> dict[str, Category]:
    return load_categories(folder / "categories.csv")


@dataclass(frozen=True)
class Department:
    code: str
    name_zh: str
    name_en: str
    platforms: tuple[str, ...]


def departments() -> dict[str, Department]:
    """The departments cases are assigned to (data/departments.csv, seeded for the demo)."""
    return departments_in(data_dir())


@lru_cache(maxsize=4)
def departments_in(folder: Path) -> dict[str, Department]:
    out = {}
    with open(folder / "departments.csv", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            plats = tuple(p for p in row["platforms"].split(";") if p)
            unknown = [p for p in plats if p not in PLATFORMS]
            if unknown:
                raise ValueError(f"department {row['code']}: unknown platform {unknown}")
            out[row["code"]] = Department(row["code"], row["name_zh"], row["name_en"], plats)
    return out


# --------------------------------------------------------------------------- lifecycle

class Status(str, Enum):
    REPORTED = "reported"        # 上报, waiting to be accepted (受理)
    ACCEPTED = "accepted"        # 受理
    ASSIGNED = "assigned"        # 交办 (to a department or handler)
    IN_PROGRESS = "in_progress"  # 办理中
    RESOLVED = "resolved"        # 办结, waiting for feedback
    CLOSED = "closed"            # 反馈 and closed


OPEN_STATUSES = ("reported", "accepted", "assigned", "in_progress", "resolved")
STATUS_NAMES = {
    "reported": ("待受理", "Reported"),
    "accepted": ("已受理", "Accepted"),
    "assigned": ("已交办", "Assigned"),
    "in_progress": ("办理中", "In progress"),
    "resolved": ("已办结", "Resolved"),
    "closed": ("已反馈结案", "Closed"),
}

LEVELS = ("grid", "village", "town", "district")  # 网格 / 村(社区) / 镇(街道) / 区
ESCALATION_LEVELS = LEVELS[1:]  # where a case can be sent up to
LEVEL_NAMES = {"grid": ("网格", "Grid"), "village": ("村社", "Village"),
               "town": ("镇街", "Town"), "district": ("区级", "District")}

_ANY_OPEN = frozenset(OPEN_STATUSES)
# The one table of allowed transitions: event type -> (statuses it may follow, status after).
# A ``None`` target keeps the status (supervision, escalation, urgency changes, notes).
TRANSITIONS: dict[str, tuple[frozenset, str | None]] = {
    "reported": (frozenset({None}), "reported"),
    "accepted": (frozenset({"reported"}), "accepted"),
    "routed": (frozenset({"accepted", "assigned"}), "assigned"),
    "assigned": (frozenset({"accepted", "assigned"}), "assigned"),
    "returned": (frozenset({"assigned", "in_progress"}), "accepted"),
    "started": (frozenset({"assigned"}), "in_progress"),
    "resolved": (frozenset({"assigned", "in_progress"}), "resolved"),
    "closed": (frozenset({"resolved"}), "closed"),
    "reopened": (frozenset({"resolved", "closed"}), "accepted"),
    "supervised": (_ANY_OPEN, None),
    "escalated": (_ANY_OPEN, None),
    "urgency_changed": (_ANY_OPEN, None),
    "noted": (_ANY_OPEN | {"closed"}, None),
}
EVENT_TYPES = tuple(TRANSITIONS)


def allowed_events(status: str | None) -> list[str]:
    return [t for t, (sources, _) in TRANSITIONS.items() if status in sources]


def reported_event_id(incident_id: uuid.UUID) -> uuid.UUID:
    """The id of an incident's "reported" event, derived so that a repeated post is idempotent."""
    return uuid.uuid5(NAMESPACE, f"{incident_id}:reported")


def utc(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        raise ValueError("naive datetime: times must carry a timezone")
    return dt.astimezone(timezone.utc)


@dataclass
class Event:
    """One lifecycle event. ``data`` holds the event type's own fields."""
    id: uuid.UUID
    incident_id: uuid.UUID
    type: str
    at: datetime
    actor: str = ""
    note: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    stream_pos: int = 0  # order in the stream (set when stored)


@dataclass
class IncidentState:
    """The projection of an incident's events. KPI timestamps come from the events."""
    id: uuid.UUID
    reported_at: datetime
    town_code: str
    village_code: str
    grid_code: str
    category: str
    platform: str
    description: str
    lat: float
    lon: float
    reporter: str
    base_urgency: str
    urgency: str
    photos: list[str]
    source: str
    submitted_by: str | None = None  # the account or API key's user that posted the report
    status: str = "reported"
    accepted_at: datetime | None = None
    assigned_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    department: str | None = None
    handler: str | None = None
    level: str = "grid"
    resolved_level: str | None = None
    supervised_count: int = 0
    version: int = 0
    last_event_at: datetime | None = None
    rejected: list[str] = field(default_factory=list)  # ids of events the state did not allow

    @property
    def is_open(self) -> bool:
        return self.status != "closed"


def fold(events: Iterable[Event]) -> IncidentState | None:
    """Rebuild an incident from its events.

    Statuses follow the stream order (the case head enforced it when the events were
    appended); levels follow event time: ``level`` replays the applied level changes sorted by
    their ``at``, and ``resolved_level`` is the level reached by the applied level changes at
    or before the resolution's ``at``, wherever they stand in the stream (an escalation stored
    late, with a time after the resolution, does not change the level the case was resolved
    at). Level changes are the escalations and the routes (流转) that name a ``level``; a route
    to a level counts like an escalation to that level, in its time (``_level_after``).

    Returns ``None`` while the "reported" event is not among them (an action can reach the
    database before its report when several persisters work in parallel; the incident appears
    once its report is stored). Events that the state does not allow are kept in the log but
    do not change the state; their ids are listed in ``rejected``.
    """
    ordered = sorted(events, key=lambda e: (e.stream_pos, e.at))
    report = next((e for e in ordered if e.type == "reported"), None)
    if report is None:
        return None
    d = report.data
    st = IncidentState(
        id=report.incident_id, reported_at=report.at, town_code=d["town"], village_code=d["village"],
        grid_code=d["grid"], category=d["category"], platform=d["platform"],
        description=d["description"], lat=d["lat"], lon=d["lon"], reporter=d["reporter"],
        base_urgency=d["urgency"], urgency=d["urgency"], photos=list(d.get("photos") or []),
        source=d.get("source", "api"), submitted_by=d.get("submitted_by"),
        status=None,  # type: ignore[arg-type]
    )
    escalations: list[Event] = []  # the level changes: escalations, routes naming a level
    for ev in ordered:
        rule = TRANSITIONS.get(ev.type)
        if rule is None or st.status not in rule[0]:
            st.rejected.append(str(ev.id))
            continue
        _apply(st, ev)
        if ev.type == "escalated" or (ev.type == "routed" and ev.data.get("level")):
            escalations.append(ev)
        if rule[1] is not None:
            st.status = rule[1]
        st.version += 1
        st.last_event_at = ev.at if st.last_event_at is None else max(st.last_event_at, ev.at)
    escalations.sort(key=lambda e: (e.at, e.stream_pos))  # a tie keeps the stream order
    st.level = _level_after(escalations)
    st.resolved_level = (None if st.resolved_at is None
                         else _level_after(e for e in escalations if e.at <= st.resolved_at))
    return st


def _level_after(escalations: Iterable[Event]) -> str:
    """The level reached from "grid" by these level changes, in the order given: one naming a
    higher level moves there; any other escalation moves one level up (never past the
    district); a route to a level not above the current one leaves it (the route moves the
    case to a named level, it does not step up)."""
    level = LEVELS[0]
    for ev in escalations:
        target = ev.data.get("level")
        if target in LEVELS and LEVELS.index(target) > LEVELS.index(level):
            level = target
        elif ev.type == "escalated" and LEVELS.index(level) < len(LEVELS) - 1:
            level = LEVELS[LEVELS.index(level) + 1]
    return level


def _apply(st: IncidentState, ev: Event) -> None:
    """One applied event's effect on the state (the level is settled by ``fold``, in event
    time, from the applied escalations and routes naming a level)."""
    d = ev.data
    t = ev.type
    if t == "accepted":
        st.accepted_at = st.accepted_at or ev.at
    elif t in ("assigned", "routed"):
        if d.get("department", st.department) != st.department:
            st.handler = None  # another department: its own handler, if the step names one
        st.department = d.get("department", st.department)
        st.handler = d.get("handler", st.handler)
        st.assigned_at = st.assigned_at or ev.at
    elif t == "returned":
        st.department = None
        st.handler = None
    elif t == "resolved":
        st.resolved_at = ev.at
        # photos of the result (dashboard/stream/commands.py PHOTO_ACTIONS) join the case's photos
        st.photos.extend(u for u in d.get("photos") or [] if u not in st.photos)
    elif t == "closed":
        st.closed_at = ev.at
    elif t == "reopened":
        st.resolved_at = None
        st.closed_at = None
    elif t == "supervised":
        st.supervised_count += 1
    elif t == "urgency_changed":
        if d.get("urgency") in URGENCY_RANK:
            st.urgency = d["urgency"]
