"""DEMO DATA: accounts for trying the embedded default, made once on an empty user table.

Their passwords are random, printed once at start and kept in ``instance/DEMO-ACCOUNTS.txt``
(mode 0600). Nothing here runs unless DEMO_ACCOUNTS is on (the embedded default's setting);
a production database starts with no account at all: ``python -m dashboard users add``.
"""
from __future__ import annotations

import os
import secrets

from dashboard.config import Settings
from dashboard.store.accounts import Accounts

# username, role, town, department, display name
DEMO_USERS = [
    ("admin", "admin", None, None, "演示·管理员"),
    ("leader", "leader", None, None, "演示·区领导"),
    ("jinqing", "operator", "331004106", None, "演示·金清镇值班员"),
    ("xinqiao", "operator", "331004103", None, "演示·新桥镇值班员"),
    ("chengguan", "handler", None, "综合行政执法局", "演示·执法局承办人"),
    ("gridworker", "reporter", "331004106", None, "演示·金清镇网格员"),
]


def ensure_demo_accounts(acc: Accounts, settings: Settings) -> str | None:
    """Create the demo accounts, an API key and two kiosk links if there is no user yet; print
    them once and return the text (None when accounts existed already)."""
    if acc.has_users():
        return None
    lines = ["DEMO ACCOUNTS (demo data; delete them before real use: python -m dashboard users disable NAME)",
             ""]
    for username, role, town, dept, name in DEMO_USERS:
        if dept is not None and acc.departments is not None and dept not in acc.departments:
            dept = sorted(acc.departments)[0]
        password = secrets.token_urlsafe(9)
        acc.add_user(username, role, password=password, town=town, department=dept, display_name=name)
        where = town or dept or "district"
        lines.append(f"  {username:<11} {password:<14} {role:<9} {where}")
    _kid, key = acc.create_key("gridworker", name="demo phone")
    base = f"http://{settings.host}:{settings.port}"
    _k1, district = acc.create_kiosk(None, name="demo district wall")
    _k2, town = acc.create_kiosk("331004103", name="demo 新桥镇 wall")
    lines += ["", f"  API key of gridworker: {key}",
              f"  kiosk, district screen: {base}/kiosk/{district}",
              f"  kiosk, 新桥镇 screen:    {base}/kiosk/{town}", ""]
    text = "\n".join(lines)
    path = settings.instance_dir / "DEMO-ACCOUNTS.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text + "\n")
    print(text, flush=True)
    return text
