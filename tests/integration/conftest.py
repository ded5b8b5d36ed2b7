"""The real app on real Redis and both databases, without background threads."""
from __future__ import annotations

import pytest
from flask.testing import FlaskClient

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
    server = create_app(rt.settings, runtime=rt).server
    server.test_client_class = CsrfClient
    return server


from people import DEPARTMENT, OTHER_TOWN, PASSWORD, TOWN, USERS  # noqa: F401  (also for tests)


class CsrfClient(FlaskClient):
    """A test client that behaves like the browser: state-changing requests carry the CSRF
    token from the ``_csrf_token`` cookie in ``X-CSRFToken``, as Dash's renderer sends it."""

    def open(self, *args, **kwargs):
        method = kwargs.get("method") or "GET"
        cookie = self.get_cookie("_csrf_token")
        if method.upper() in ("POST", "PUT", "PATCH", "DELETE") and cookie is not None \
                and not kwargs.pop("no_csrf", False):
            headers = dict(kwargs.pop("headers", None) or {})
            headers.setdefault("X-CSRFToken", cookie.value)
            kwargs["headers"] = headers
        kwargs.pop("no_csrf", None)
        return super().open(*args, **kwargs)


@pytest.fixture
def accounts_for():
    """``accounts_for(server)``: that server's accounts with one user of every role (``USERS``),
    password ``PASSWORD``."""
    def make(server):
        acc = server.extensions["griddash.accounts"]
        for name, (role, town, dept) in USERS.items():
            acc.add_user(name, role, password=PASSWORD, town=town, department=dept)
        return acc
    return make


@pytest.fixture
def accounts(app, accounts_for):
    """The app's accounts with one user of every role (``USERS``), password ``PASSWORD``."""
    return accounts_for(app)


@pytest.fixture
def login(app, accounts):
    """``login(username)``: a client signed in as that user (through the real sign-in form)."""
    def sign_in(username: str) -> CsrfClient:
        c = app.test_client()
        c.get("/login")
        token = c.get_cookie("_csrf_token")
        form = c.get("/login").get_data(as_text=True)
        csrf = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        resp = c.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf},
                      no_csrf=True)
        assert resp.status_code == 302, (username, resp.status_code, resp.get_data(as_text=True)[:300])
        del token
        c.get(resp.headers["Location"].split("?")[0])  # picks up the CSRF cookie
        return c
    return sign_in


@pytest.fixture
def client(app, login):
    """A client signed in as the administrator (every route open)."""
    return login("admin")


@pytest.fixture
def anon(app):
    """A client that has not signed in."""
    return app.test_client()


@pytest.fixture
def api_key(accounts):
    """``api_key(username)``: a new API key acting as that user."""
    def make(username: str) -> str:
        return accounts.create_key(username, name="test")[1]
    return make


@pytest.fixture
def drain(rt):
    """``drain()``: run a persister until the stream has nothing left to store."""
    from dashboard.stream.persister import Persister

    def run():
        p = Persister(rt.redis, rt.store, rt.settings, name="test-drain")
        p.ensure_group()
        idle = 0
        while idle < 2:  # own backlog, then new entries, until two reads come back empty
            idle = idle + 1 if p.step() == 0 else 0
        return p

    return run
