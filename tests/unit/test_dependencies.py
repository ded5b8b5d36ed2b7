"""Dependencies match the code: everything the code imports is listed in requirements.txt (the
app) or requirements-dev.txt (tests, benchmarks, lint), pinned, and every runtime requirement is
used — imported, or named below with what uses it."""
from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP_CODE = ("app.py", "dashboard", "callbacks", "layouts")
DEV_CODE = ("tests", "bench")
# Runtime requirements used without an import of their own.
USED_WITHOUT_IMPORT = {
    "gunicorn": "the production web server (README, Production)",
    "hiredis": "redis-py's fast reply parser, picked up when installed",
    "psycopg": "SQLAlchemy's PostgreSQL driver (postgresql+psycopg://)",
    "flask-compress": "Dash(compress=True) gzips every answer with it",
}


def _requirements(name: str) -> dict[str, str]:
    out = {}
    for line in (ROOT / name).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-r"):
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)(\[[^\]]+\])?==([0-9][^\s;]*)", line)
        assert m, f"{name}: {line!r} is not pinned (name==version)"
        out[_norm(m.group(1))] = m.group(3)
    return out


def _norm(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()


def _imports(roots) -> set[str]:
    local = {p.stem for p in ROOT.rglob("*.py") if ".venv" not in p.parts} | {"dashboard", "callbacks", "layouts"}
    found = set()
    for root in roots:
        paths = [ROOT / root] if root.endswith(".py") else (ROOT / root).rglob("*.py")
        for path in paths:
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    found |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                    found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m not in local}


def _dists(modules: set[str]) -> dict[str, str]:
    where = packages_distributions()
    missing = sorted(m for m in modules if m not in where)
    assert not missing, f"imported but not installed by any listed requirement: {missing}"
    return {m: _norm(where[m][0]) for m in modules}


def test_every_requirement_is_pinned():
    assert len(_requirements("requirements.txt")) >= 20
    assert {"pytest", "ruff", "selenium"} <= set(_requirements("requirements-dev.txt"))


def test_what_the_app_imports_is_a_runtime_requirement():
    runtime = _requirements("requirements.txt")
    dists = _dists(_imports(APP_CODE))
    assert {"dash", "sqlalchemy", "redis"} <= set(dists.values())
    unlisted = sorted(f"{m} ({d})" for m, d in dists.items() if d not in runtime)
    assert not unlisted, f"imported by the app but not in requirements.txt: {unlisted}"


def test_what_tests_and_benchmarks_import_is_listed():
    listed = {**_requirements("requirements.txt"), **_requirements("requirements-dev.txt")}
    dists = _dists(_imports(DEV_CODE))
    unlisted = sorted(f"{m} ({d})" for m, d in dists.items() if d not in listed)
    assert not unlisted, f"imported by tests or benchmarks but not listed: {unlisted}"


def test_every_runtime_requirement_is_used():
    used = set(_dists(_imports(APP_CODE)).values()) | set(USED_WITHOUT_IMPORT)
    unused = sorted(set(_requirements("requirements.txt")) - used)
    assert not unused, f"in requirements.txt but nothing uses it: {unused}"
