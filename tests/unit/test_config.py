from __future__ import annotations

import shutil
from dataclasses import fields
from datetime import timedelta
from pathlib import Path

import pytest

from dashboard.config import DATA_DIR, Settings, activate, markdown_table


def test_embedded_default_without_urls():
    s = Settings.from_env({})
    assert s.embedded_redis and s.database_url is None
    assert s.effective_database_url.startswith("sqlite:///") and s.effective_database_url.endswith(".sqlite3")
    assert s.simulate and s.run_persister and s.auto_migrate and s.sla_watch
    assert s.timezone == "Asia/Shanghai" and s.port == 8050


def test_production_urls_turn_embedded_helpers_off():
    s = Settings.from_env({"REDIS_URL": "redis://r:6379/0", "DATABASE_URL": "postgresql://u@db/x"})
    assert not s.embedded_redis and not s.simulate and not s.run_persister and not s.auto_migrate
    assert not s.sla_watch
    s2 = Settings.from_env({"REDIS_URL": "redis://r", "SIMULATOR": "on", "RUN_PERSISTER": "1", "PORT": "9000"})
    assert s2.simulate and s2.run_persister and s2.port == 9000


@pytest.mark.parametrize("env", [{"PORT": "eighty"}, {"SIMULATOR": "maybe"}, {"SIMULATOR_SPEED": "fast"}])
def test_bad_values_are_refused_with_the_variable_named(env):
    with pytest.raises(ValueError) as exc:
        Settings.from_env(env)
    assert list(env.values())[0] in str(exc.value)


def test_the_readme_table_is_the_settings_class():
    """README.md's "Configuration" table is ``markdown_table()``: every setting, its one
    default and what it means (regenerate it from ``dashboard.config.markdown_table``)."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Configuration\n", 1)[1].split("\n## ", 1)[0]
    table = "\n".join(line for line in section.splitlines() if line.startswith("|")) + "\n"
    assert table == markdown_table(), "README.md's table differs from dashboard.config.markdown_table():\n" + \
        markdown_table()


def test_each_variable_sets_one_setting_and_says_what_it_means():
    named = [(f.metadata.get("env"), f) for f in fields(Settings) if f.metadata.get("env")]
    names = [n for n, _ in named]
    assert len(names) == len(set(names)) and len(names) >= 35
    assert all(f.metadata["doc"] for _, f in named)
    assert "DATA_DIR" in names and "MAX_PHOTOS" in names


def test_a_variable_gives_its_setting_and_its_absence_the_one_default():
    s = Settings.from_env({"SESSION_HOURS": "2.5", "MAX_PHOTOS": "3", "DATA_DIR": "/srv/data", "TILE_URL": " "})
    assert (s.session_hours, s.max_photos, s.data_dir, s.tile_url) == (2.5, 3, Path("/srv/data"), None)
    d = Settings()
    blank = Settings.from_env({})
    for f in fields(Settings):
        if f.metadata.get("unset") is None and f.name not in ("secret_key", "instance_dir"):
            assert getattr(blank, f.name) == getattr(d, f.name), f.name


def test_data_dir_is_honoured_by_the_rules_read_from_data_files(tmp_path):
    """Categories, departments, SLA and routing tables come from DATA_DIR, not the project's."""
    from dashboard.core import domain, routing, sla
    for name in ("categories.csv", "departments.csv", "sla.csv", "routing.csv", "towns.csv"):
        shutil.copy(DATA_DIR / name, tmp_path / name)
    cats = (tmp_path / "categories.csv").read_text(encoding="utf-8")
    in_sla = {line.split(",")[0] for line in (DATA_DIR / "sla.csv").read_text(encoding="utf-8").splitlines()}
    first = next(c for c in domain.categories().values() if c.code not in in_sla)  # on the default row
    (tmp_path / "categories.csv").write_text(cats.replace(first.name_zh, "改过的名称", 1), encoding="utf-8")
    slas = (tmp_path / "sla.csv").read_text(encoding="utf-8").splitlines()
    header = slas[0].split(",")
    rows = [line.split(",") for line in slas[1:]]
    default_row = next(r for r in rows if r[0] == "*" and r[1] == "*")
    default_row[header.index("close_hours")] = "77"
    (tmp_path / "sla.csv").write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n", encoding="utf-8")
    try:
        activate(Settings(data_dir=tmp_path))
        assert domain.categories()[first.code].name_zh == "改过的名称"
        assert sla.default_policy().rule(first.code, "green").close == timedelta(hours=77)
        assert routing.routing() is routing.routing_in(tmp_path) and domain.departments()
    finally:
        activate(Settings.from_env({}, make_secret=False))
    assert domain.categories()[first.code].name_zh == first.name_zh
    assert sla.default_policy().rule(first.code, "green").close == timedelta(hours=120)


def test_only_the_settings_module_reads_the_environment():
    import ast
    root = Path(__file__).resolve().parents[2]
    readers = []
    for path in [root / "app.py", *(p for d in ("dashboard", "callbacks", "layouts") for p in (root / d).rglob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv") and \
                    isinstance(node.value, ast.Name) and node.value.id == "os":
                readers.append(str(path.relative_to(root)))
    assert readers and set(readers) == {"dashboard/config.py"}
