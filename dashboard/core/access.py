"""Roles and scope: the one place that says who may see and do what.

Every page, callback and API route asks these functions, with the ``Principal`` the server
took from the session cookie, the API key or the kiosk token (``dashboard.web.security``), never
with anything the client sent about itself.

Roles (README.md, "Accounts and roles"):

=========  =======================================  ===========================================
role       sees                                     may do
=========  =======================================  ===========================================
admin      everything                               every action; accounts and keys (CLI)
leader     every town (read); leaders' view          supervise (督办)
operator   own town only                            every case action in own town
handler    cases assigned to own department          start, resolve, return (办理, 办结, 退回)
reporter   own reports only (API key)               post reports
screen     one town or the district (kiosk link)    nothing (read-only big screen)
=========  =======================================  ===========================================
"""
from __future__ import annotations

from dataclasses import dataclass

from dashboard.core.actions import ACTIONS

ROLES = ("admin", "leader", "operator", "handler", "reporter", "screen")
ROLE_NAMES = {
    "admin": ("系统管理员", "Administrator"),
    "leader": ("区领导", "District leader"),
    "operator": ("镇街值班员", "Town operator"),
    "handler": ("部门承办人", "Department handler"),
    "reporter": ("网格员/对接系统", "Grid worker / system"),
    "screen": ("大屏", "Screen kiosk"),
}
ACCOUNT_ROLES = tuple(r for r in ROLES if r != "screen")  # a screen is a kiosk link, not an account
# Roles whose accounts are bound to one town (operator always; screen when its token says so).
TOWN_ROLES = {"operator"}

ALL_ACTIONS = frozenset(ACTIONS)
ROLE_ACTIONS: dict[str, frozenset] = {
    "admin": ALL_ACTIONS,
    "operator": ALL_ACTIONS,
    "leader": frozenset({"supervise"}),
    "handler": frozenset({"start", "resolve", "return"}),
    "reporter": frozenset(),
    "screen": frozenset(),
}
# Pages (Dash paths) each role may open.
PAGE_ROLES: dict[str, frozenset] = {
    "screen": frozenset({"admin", "leader", "operator", "screen"}),
    "console": frozenset({"admin", "leader", "operator", "handler"}),
    "leaders": frozenset({"admin", "leader", "operator"}),
}
REPORT_ROLES = frozenset({"admin", "operator", "reporter"})


class AccessDenied(Exception):
    """Raised by the checks below; the web layer answers 403 (or 404 where existence itself
    would leak: a case of another town is "not found")."""

    def __init__(self, message: str, status: int = 403):
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Principal:
    """Who is asking. ``town`` None = the whole district (for the roles that have a town)."""
    kind: str            # "user" | "key" | "kiosk"
    id: int
    username: str
    role: str
    town: str | None = None
    department: str | None = None   # the department's name as cases carry it (handler)
    display_name: str = ""

    @property
    def scope_key(self) -> str:
        """A key for cached results: two principals with the same key see the same data."""
        if self.role in ("admin", "leader"):
            return "district"
        if self.role == "handler":
            return f"dept:{self.department}"
        if self.role == "reporter":
            return f"reporter:{self.username}"
        return f"town:{self.town}" if self.town else "district"

    @property
    def label(self) -> str:
        return self.display_name or self.username


def town_scope(p: Principal) -> str | None:
    """The town a principal is bound to, or None for the whole district."""
    if p.role in ("admin", "leader"):
        return None
    return p.town


def resolve_town(p: Principal, requested: str | None) -> str | None:
    """The town a view shows (None = the district): what was asked for, if the principal may
    see it. Nothing, "" or "district" asks for the district; a principal bound to a town asking
    for it gets its town; asking for another town, or a role without town views, is denied."""
    bound = town_scope(p)
    if p.role in ("reporter", "handler"):
        raise AccessDenied("this role has no town views")
    requested = (requested or "").strip()
    if requested in ("", "district"):
        return bound
    if bound is None or requested == bound:
        return requested
    raise AccessDenied(f"not allowed outside town {bound}")


def may_open(p: Principal, page: str) -> bool:
    return p.role in PAGE_ROLES.get(page, ())


def require_page(p: Principal, page: str) -> Principal:
    """For the callbacks of a page: the same rule as opening it."""
    if not may_open(p, page):
        raise AccessDenied(f"role {p.role} may not use {page}")
    return p


def case_visible(p: Principal, case: dict) -> bool:
    """May ``p`` see this case? ``case`` has at least town_code, department and submitted_by."""
    if p.role in ("admin", "leader"):
        return True
    if p.role in ("operator", "screen"):
        return p.town is None or case.get("town_code") == p.town
    if p.role == "handler":
        return bool(p.department) and case.get("department") == p.department
    if p.role == "reporter":
        return case.get("submitted_by") == p.username
    return False


def require_case(p: Principal, case: dict | None) -> dict:
    """The case, if ``p`` may see it; otherwise AccessDenied(404): a case outside one's scope
    answers exactly like a case that does not exist."""
    if case is None or not case_visible(p, case):
        raise AccessDenied("no such case", status=404)
    return case


def allowed_actions(p: Principal, case: dict) -> frozenset:
    if not case_visible(p, case):
        return frozenset()
    return ROLE_ACTIONS.get(p.role, frozenset())


def require_action(p: Principal, case: dict | None, action: str) -> dict:
    case = require_case(p, case)
    if action not in allowed_actions(p, case):
        raise AccessDenied(f"role {p.role} may not {action} this case")
    return case


def require_report(p: Principal, town: str | None = None) -> None:
    """May ``p`` post a report (located in ``town``, when known)? A town's operator reports
    only inside its town."""
    if p.role not in REPORT_ROLES:
        raise AccessDenied(f"role {p.role} may not post reports")
    if town is not None and p.role in TOWN_ROLES and p.town and town != p.town:
        raise AccessDenied(f"operators of town {p.town} report only inside it; this point lies in town {town}")


def case_filter(p: Principal) -> dict:
    """Keyword filters for store queries that restrict rows to what ``p`` may see."""
    if p.role in ("admin", "leader"):
        return {}
    if p.role in ("operator", "screen"):
        return {"town": p.town} if p.town else {}
    if p.role == "handler":
        return {"department": p.department or "\x00none"}
    if p.role == "reporter":
        return {"submitted_by": p.username}
    return {"town": "\x00none"}
