"""Accounts, API keys and kiosk links on both databases; the sign-in form, sessions and limits."""
from __future__ import annotations

import subprocess
import sys

import pytest
from people import PASSWORD, TOWN

from dashboard.store.accounts import AccountError, Accounts


@pytest.fixture
def acc(store, geo):
    return Accounts(store.engine, "test-secret", towns=geo.towns, departments={"综合行政执法局"}, ttl=0)


def test_passwords_are_scrypt_hashes_and_checked(acc, store):
    acc.add_user("zhang", "operator", password=PASSWORD, town=TOWN)
    with store.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT password_hash FROM users").scalar_one()
    assert stored.startswith("scrypt:") and PASSWORD not in stored
    assert acc.authenticate("zhang", PASSWORD).town == TOWN
    assert acc.authenticate("zhang", PASSWORD + "x") is None
    assert acc.authenticate("nobody", PASSWORD) is None
    acc.set_disabled("zhang", True)
    assert acc.authenticate("zhang", PASSWORD) is None


@pytest.mark.parametrize("args,problem", [
    (("ab", "operator"), "needs --town"),
    (("a", "admin"), "username"),
    (("x y", "admin"), "username"),
    (("ok_name", "boss"), "role must be"),
    (("ok_name", "screen"), "role must be"),
    (("ok_name", "handler"), "--department"),
])
def test_bad_accounts_are_refused(acc, args, problem):
    with pytest.raises(AccountError, match=problem):
        acc.add_user(*args, password=PASSWORD)
    assert acc.list_users() == []


def test_short_password_unknown_town_and_duplicate(acc):
    with pytest.raises(AccountError, match="at least"):
        acc.add_user("li", "admin", password="short")
    with pytest.raises(AccountError, match="unknown town"):
        acc.add_user("li", "operator", password=PASSWORD, town="999")
    acc.add_user("li", "admin", password=PASSWORD)
    with pytest.raises(AccountError, match="exists"):
        acc.add_user("li", "admin", password=PASSWORD)


def test_api_keys_act_as_their_user_until_revoked(acc):
    acc.add_user("phone", "reporter", town=TOWN)
    kid, key = acc.create_key("phone", name="陈君辉的手机")
    p = acc.authenticate_key(key)
    assert (p.kind, p.role, p.username) == ("key", "reporter", "phone")
    assert acc.authenticate_key(key[:-1] + ("A" if key[-1] != "A" else "B")) is None  # one character off
    assert acc.authenticate_key("gdk_nothing") is None and acc.authenticate_key("") is None
    assert acc.authenticate("phone", "") is None  # a keys-only account has no password
    acc.revoke_key(kid)
    assert acc.authenticate_key(key) is None
    with pytest.raises(AccountError):
        acc.revoke_key(kid)


def test_a_disabled_users_keys_stop(acc):
    acc.add_user("sys", "reporter")
    _kid, key = acc.create_key("sys")
    acc.set_disabled("sys", True)
    assert acc.authenticate_key(key) is None


def test_kiosk_tokens_are_signed_and_revocable(acc, store, geo):
    kid, token = acc.create_kiosk(TOWN, name="wall")
    assert acc.load_kiosk(acc.kiosk_id(token)).town == TOWN
    forged = Accounts(store.engine, "another-secret", towns=geo.towns).create_kiosk(None)[1]
    assert acc.kiosk_id(forged) is None  # signed with another key
    assert acc.kiosk_id(token[:-2] + "xx") is None
    acc.revoke_key(kid)
    assert acc.load_kiosk(kid) is None


def test_the_command_line_manages_users_and_keys(settings, subprocess_env):
    def run(*args, stdin=None):
        return subprocess.run([sys.executable, "-m", "dashboard", *args], input=stdin, env=subprocess_env,
                              capture_output=True, text=True, timeout=60)

    res = run("users", "add", "wang", "--role", "operator", "--town", TOWN, "--password-stdin",
              stdin=PASSWORD + "\n")
    assert res.returncode == 0, res.stderr
    res = run("users", "add", "wang2", "--role", "operator", "--password-stdin", stdin=PASSWORD + "\n")
    assert res.returncode != 0 and "--town" in res.stderr
    assert run("users", "add", "phone", "--role", "reporter", "--no-password").returncode == 0
    res = run("keys", "create", "--user", "phone")
    key = res.stdout.split()[-1]
    assert key.startswith("gdk_")
    res = run("keys", "create", "--kiosk", "--town", TOWN)
    assert "/kiosk/" in res.stdout
    listing = run("users", "list").stdout
    assert "wang" in listing and "phone" in listing and "wang2" not in listing
    assert run("users", "disable", "wang").returncode == 0
    assert "disabled" in run("users", "list").stdout
    assert run("keys", "revoke", "1").returncode == 0
    assert "revoked" in run("keys", "list").stdout
    assert run("users", "disable", "nobody").returncode != 0


# --------------------------------------------------------------------------- the web side

def test_sign_in_sets_a_safe_cookie_and_the_gate_needs_it(app, accounts, anon):
    assert anon.get("/console").status_code == 302
    assert anon.get("/api/v1/incidents/00000000-0000-0000-0000-000000000000").status_code == 401
    form = anon.get("/login").get_data(as_text=True)
    csrf = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    res = anon.post("/login", data={"username": "op", "password": PASSWORD, "csrf_token": csrf},
                    no_csrf=True)
    assert res.status_code == 302 and res.headers["Location"] == "/console"
    cookie = next(h for h in res.headers.getlist("Set-Cookie") if h.startswith("griddash_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert anon.get("/console").status_code == 200


def test_sign_in_without_csrf_token_is_refused(app, accounts, anon):
    anon.get("/login")
    res = anon.post("/login", data={"username": "op", "password": PASSWORD}, no_csrf=True)
    assert res.status_code == 400 and "CSRF" in res.get_data(as_text=True)


def test_next_never_leaves_the_site(app, accounts, anon):
    for nxt in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        form = anon.get("/login").get_data(as_text=True)  # each sign-in starts a new session
        csrf = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        res = anon.post("/login", data={"username": "op", "password": PASSWORD, "csrf_token": csrf,
                                        "next": nxt}, no_csrf=True)
        assert res.status_code == 302 and res.headers["Location"] == "/console", nxt


def test_disabling_a_user_ends_its_session(app, login, accounts):
    c = login("op")
    assert c.get("/console").status_code == 200
    accounts.set_disabled("op", True)
    assert c.get("/console").status_code == 302  # back to the sign-in page


def test_sign_in_attempts_per_address_are_limited(rt, settings):
    from app import create_app

    server = create_app(settings.with_(rate_limit_login="3 per minute"), runtime=rt).server
    c = server.test_client()
    statuses = []
    for _ in range(5):
        form = c.get("/login").get_data(as_text=True)
        csrf = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        statuses.append(c.post("/login", data={"username": "x", "password": "y", "csrf_token": csrf}).status_code)
    assert statuses[:3] == [401, 401, 401] and statuses[3:] == [429, 429]
    assert "登录尝试过于频繁" in c.post("/login", data={"username": "x", "password": "y", "csrf_token": csrf}
                                       ).get_data(as_text=True)


def test_an_open311_client_over_its_limit_is_answered_in_open311_format(rt, settings, accounts_for):
    from app import create_app

    server = create_app(settings.with_(rate_limit_api="3 per minute"), runtime=rt).server
    key = accounts_for(server).create_key("worker")[1]
    c = server.test_client()
    codes = [c.get(f"/open311/v2/services.json?api_key={key}").status_code for _ in range(4)]
    assert codes[:3] == [200, 200, 200] and codes[3] == 429, codes
    body = c.get(f"/open311/v2/services.json?api_key={key}").get_json()
    assert body[0]["code"] == 429 and "too many requests" in body[0]["description"]
    xml = c.get(f"/open311/v2/services.xml?api_key={key}")
    assert xml.status_code == 429 and b"<errors>" in xml.data and b"too many requests" in xml.data


def test_api_requests_are_limited_per_key(rt, settings, accounts_for):
    from app import create_app

    server = create_app(settings.with_(rate_limit_api="4 per minute"), runtime=rt).server
    acc = accounts_for(server)
    one, two = acc.create_key("worker")[1], acc.create_key("worker")[1]
    c = server.test_client()

    def get(key):
        return c.get("/api/v1/kpis", headers={"Authorization": f"Bearer {key}"}).status_code

    first = [get(one) for _ in range(6)]
    assert first[4:] == [429, 429] and 429 not in first[:4], first
    assert get(two) != 429  # another key has its own allowance
    res = c.get("/api/v1/kpis", headers={"Authorization": f"Bearer {one}"})
    assert res.status_code == 429 and int(res.headers["Retry-After"]) > 0
    assert "too many requests" in res.get_json()["error"]


def _sign_in(client, username="op"):
    form = client.get("/login").get_data(as_text=True)
    csrf = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    res = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf},
                      no_csrf=True)
    assert res.status_code == 302
    return next(h for h in res.headers.getlist("Set-Cookie") if h.startswith("griddash_session="))


def test_a_copied_session_cookie_dies_with_its_sign_out(app, accounts):
    c = app.test_client()
    cookie = _sign_in(c).split(";", 1)[0].split("=", 1)[1]
    thief = app.test_client()
    thief.set_cookie("griddash_session", cookie)
    assert thief.get("/console").status_code == 200
    c.get("/console")
    assert c.post("/logout").status_code == 302
    assert thief.get("/console").status_code == 302  # to the sign-in page


def test_a_new_password_ends_every_session(app, accounts):
    c = app.test_client()
    _sign_in(c)
    assert c.get("/console").status_code == 200
    accounts.set_password("op", "a brand new password")
    assert c.get("/console").status_code == 302


def test_a_kiosk_link_does_not_replace_a_signed_in_users_session(app, accounts, login):
    _kid, token = accounts.create_kiosk(None, name="wall")
    c = login("op")
    res = c.get(f"/kiosk/{token}")
    assert res.status_code == 403 and "sign out first" in res.get_data(as_text=True)
    assert c.get("/console").status_code == 200  # still the operator


def test_account_writes_wait_for_the_persister_instead_of_failing(acc, store):
    """While another writer holds the database (the persister storing a batch), making an
    account waits for it rather than failing with "database is locked"."""
    import threading
    import time as _time

    held = threading.Event()

    def writer():
        with store._write_conn() as conn, conn.begin():
            conn.exec_driver_sql("UPDATE users SET display_name = display_name")
            held.set()
            _time.sleep(1.0)

    t = threading.Thread(target=writer)
    t.start()
    held.wait(5)
    acc.add_user("busy", "admin", password=PASSWORD)
    t.join()
    assert [u["username"] for u in acc.list_users()] == ["busy"]


def test_browser_sessions_sharing_a_kiosk_link_have_their_own_allowance(rt, settings, accounts_for):
    from app import create_app

    server = create_app(settings.with_(rate_limit_api="3 per minute"), runtime=rt).server
    _kid, token = accounts_for(server).create_kiosk(None, name="wall")
    walls = [server.test_client() for _ in range(2)]
    for w in walls:
        assert w.get(f"/kiosk/{token}").status_code == 302
    first = [walls[0].get("/api/v1/kpis").status_code for _ in range(4)]
    assert first[-1] == 429 and 429 not in first[:3]
    assert walls[1].get("/api/v1/kpis").status_code == 200
