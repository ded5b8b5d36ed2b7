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
