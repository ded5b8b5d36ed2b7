from __future__ import annotations

import pytest

from dashboard.config import Settings


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
