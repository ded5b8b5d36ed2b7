"""The real app on real Redis and both databases, without background threads."""
from __future__ import annotations

import pytest

from dashboard.runtime import Runtime


@pytest.fixture
def rt(settings):
    runtime = Runtime.start(settings, background=False)
    yield runtime
    runtime.close()


@pytest.fixture
def app(rt):
    """The Flask server of the whole app (every blueprint registered by create_app)."""
    from app import create_app
    return create_app(rt.settings, runtime=rt).server


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def drain(rt):
    """``drain()``: run a persister until the stream has nothing left to store."""
    from dashboard.stream import Persister

    def run():
        p = Persister(rt.redis, rt.store, rt.settings, name="test-drain")
        p.ensure_group()
        idle = 0
        while idle < 2:  # own backlog, then new entries, until two reads come back empty
            idle = idle + 1 if p.step() == 0 else 0
        return p

    return run
