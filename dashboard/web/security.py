"""Sign-in, sessions, API keys, kiosk links, CSRF and rate limits on the Flask server.

Who is asking is decided here, once per request, and kept in ``flask.g.principal``:

1. an API key in ``Authorization: Bearer gdk_...`` or ``X-API-Key`` (phones, other systems);
   a request with a key is judged by the key alone, so it needs no CSRF token;
2. otherwise the signed session cookie (HttpOnly, SameSite=Lax): a user who signed in at
   ``/login``, or a kiosk that opened its ``/kiosk/<token>`` link. Every state-changing request
   made with the cookie, Dash's callback requests included, must carry the CSRF token
   (Flask-WTF). Dash's renderer sends it by itself: it copies the ``_csrf_token`` cookie into an
   ``X-CSRFToken`` header.

Then the gate: public paths (sign-in, static files, health, Open311's own key handling) pass;
anything else without a principal gets 401 (API, callbacks) or a redirect to /login (pages);
a page the role may not open gets 403. What each role may see and do is ``dashboard.core.access``.
"""
from __future__ import annotations

import secrets
import time
from urllib.parse import quote, urlsplit

from flask import Blueprint, Response, current_app, g, redirect, render_template_string, request, session
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf, validate_csrf
from werkzeug.middleware.proxy_fix import ProxyFix

from dashboard.core import access
from dashboard.core.access import AccessDenied, Principal
from dashboard.core.domain import departments
from dashboard.i18n import lang_of
from dashboard.store.accounts import Accounts
from dashboard.web.errors import json_error

bp = Blueprint("auth", __name__)
csrf = CSRFProtect()

CSRF_COOKIE = "_csrf_token"
SESSION_REFRESH_S = 600  # re-issue the session cookie (sliding expiry) at most this often
PUBLIC_PREFIXES = ("/assets/", "/_dash-component-suites/", "/open311/")
PUBLIC_PATHS = {"/login", "/healthz", "/favicon.ico", "/api/v1/openapi.json", "/api/v1/categories"}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
MACHINE_PREFIXES = ("/api/", "/_dash-", "/cameras/")    # answered 401, never sent to the sign-in page
JSON_PREFIXES = MACHINE_PREFIXES + ("/leaders/export",)  # refusals answered as JSON


# --------------------------------------------------------------------------- who is asking

def current_principal() -> Principal | None:
    return g.get("principal")


def require_principal() -> Principal:
    p = g.get("principal")
    if p is None:
        raise AccessDenied("sign in or send an API key", status=401)
    return p


def accounts() -> Accounts:
    return current_app.extensions["griddash.accounts"]


def _request_key() -> str | None:
    authz = request.headers.get("Authorization", "")
    if authz[:7].lower() == "bearer ":
        return authz[7:].strip()
    return request.headers.get("X-API-Key")


def _rate_key() -> str:
    """An API key has one allowance wherever it is used; a browser session its own (several
    wall screens may share one kiosk link); anyone else, their address."""
    p = g.get("principal")
    if p is None:
        return f"addr:{get_remote_address()}"
    return f"{p.kind}:{p.id}" if g.get("by_key") else f"{p.kind}:{p.id}:{session.get('sid', '')}"


# --------------------------------------------------------------------------- pages

def page_of(path: str) -> tuple[str, str | None] | None:
    """(page, town) for a Dash page path, None for anything else."""
    parts = [p for p in path.split("/") if p]
    if parts == ["screen"]:
        return "screen", None
    if len(parts) == 2 and parts[0] == "screen":
        return "screen", parts[1]
    if parts and parts[0] in ("console", "leaders"):
        return parts[0], None
    return None


def home_of(p: Principal) -> str:
    if p.role == "screen":
        return f"/screen/{p.town}" if p.town else "/screen"
    if p.role in ("operator", "handler"):
        return "/console"
    if p.role == "leader":
        return "/leaders"
    if p.role == "admin":
        return "/screen"
    return "/api/v1/openapi.json"


def check_page(p: Principal, page: tuple[str, str | None]) -> None:
    """AccessDenied unless ``p`` may open the Dash page ``page`` (as ``page_of`` gives it)."""
    name, town = page
    if not access.may_open(p, name):
        raise AccessDenied(f"role {p.role} may not open {name}")
    if name == "screen":
        access.resolve_town(p, town)


# --------------------------------------------------------------------------- the gate

def _authenticate() -> Response | None:
    g.principal = None
    g.by_key = False
    g.bad_key = False
    path = request.path
    raw_key = _request_key()
    if raw_key is None and path.startswith("/open311/"):
        # Open311 sends its key as a parameter; an oversized form is left to open311.py to refuse
        small = (request.content_length or 0) <= current_app.extensions["griddash.settings"].max_body_bytes
        raw_key = request.values.get("api_key") if small else request.args.get("api_key")
    if raw_key is not None:
        p = accounts().authenticate_key(raw_key)
        if p is None and path.startswith("/open311/"):
            g.bad_key = True  # Open311 answers in its own error format (dashboard/web/open311.py)
        elif p is None:
            return _deny(AccessDenied("invalid or revoked API key", status=401))
        else:
            g.principal, g.by_key = p, True
    elif "uid" in session or "kiosk" in session:
        if "uid" in session:  # disabled, a new password, or signed out: the session ends now
            p = accounts().load_user(session["uid"], session.get("pv", ""))
            if p is not None and _ended(session.get("sid")):
                p = None
        else:  # a wall never signs out: only revoking its link ends it
            p = accounts().load_kiosk(session["kiosk"])
        if p is None:
            session.clear()
        else:
            g.principal = p
            if time.time() - session.get("t", 0) > SESSION_REFRESH_S:
                session["t"] = int(time.time())
    public = path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES) or path.startswith("/kiosk/")
    if g.principal is None and not public:
        if request.method == "GET" and not path.startswith(MACHINE_PREFIXES):
            return redirect(f"/login?next={quote(request.full_path.rstrip('?'))}")
        return _deny(AccessDenied("sign in or send an API key", status=401))
    if request.method in UNSAFE and not g.by_key and not path.startswith("/open311/"):
        csrf.protect()  # raises CSRFError -> 400
        # the cookie that carried the token is valid: _after need not check it again
        g.csrf_cookie_ok = request.headers.get("X-CSRFToken") == request.cookies.get(CSRF_COOKIE)
    if public:
        return None
    p = g.principal
    q = request.query_string.decode()
    if path == "/":
        return redirect(home_of(p) + (f"?{q}" if q else ""))
    page = page_of(path) if request.method == "GET" else None
    if page is not None:
        try:
            check_page(p, page)
        except AccessDenied as exc:
            return _deny(exc)
        if page == ("screen", None) and access.town_scope(p):  # a town's own screen
            return redirect(f"/screen/{access.town_scope(p)}" + (f"?{q}" if q else ""))
    return None


def _deny(exc: AccessDenied) -> Response:
    lang = lang_of(request.args.get("lang"))
    if request.path.startswith(JSON_PREFIXES) or request.is_json:
        return json_error(exc.status, exc.message,
                          headers={"WWW-Authenticate": "Bearer"} if exc.status == 401 else None)
    return Response(render_template_string(DENIED_PAGE, status=exc.status, message=exc.message, lang=lang),
                    status=exc.status, mimetype="text/html")


def _too_many(exc) -> Response:
    """A rate limit was hit: say which, in the format the caller reads (Open311 answers in its
    own format: its blueprint has its own handler)."""
    message = f"too many requests ({exc.description}); slow down and retry later"
    if request.path.startswith(JSON_PREFIXES):
        return json_error(429, message)
    lang = lang_of(request.args.get("lang"))
    return _login_page(lang, "Too many sign-in attempts from this address; wait a minute" if lang == "en"
                       else "此地址登录尝试过于频繁，请稍后再试", status=429)


def _after(resp: Response) -> Response:
    """Give signed-in browsers the CSRF token as a cookie that Dash's renderer can read."""
    if g.get("principal") is not None and not g.get("by_key") and not g.get("csrf_cookie_ok"):
        have = request.cookies.get(CSRF_COOKIE)
        ok = False
        if have:
            try:
                validate_csrf(have)
                ok = True
            except Exception:
                ok = False
        if not ok:
            resp.set_cookie(CSRF_COOKIE, generate_csrf(), samesite="Strict", httponly=False,
                            secure=current_app.config["SESSION_COOKIE_SECURE"], path="/")
    if g.get("principal") is not None and resp.mimetype in ("text/html", "application/json") \
            and not request.path.startswith(("/assets/", "/_dash-component-suites/")):
        # pages and data behind sign-in are not kept: after sign-out, Back shows the sign-in page
        resp.headers["Cache-Control"] = "no-store"
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    resp.headers.setdefault("Referrer-Policy", "same-origin")
    return resp


# --------------------------------------------------------------------------- sign-in

def _safe_next(target: str | None) -> str:
    if not target:
        return ""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return ""
    return target


def _backoff_key(username: str) -> str:
    return f"auth:fail:{username.lower()[:64]}"


def _backoff_wait(username: str) -> int:
    """Seconds this username must wait before the next attempt (0 = may try now)."""
    k = _backoff_key(username)
    try:
        fails, last = current_app.extensions["griddash"].redis.mget(k, k + ":at")
    except Exception:  # Redis down: no backoff (the per-address limit still holds)
        return 0
    after = current_app.extensions["griddash.settings"].login_backoff_after
    if int(fails or 0) < after:
        return 0
    wait = min(2 ** (int(fails) - after) * 15, 900)  # 15 s, 30 s, 1 min ... at most 15 min
    return max(0, int(wait - (time.time() - float(last or 0)) + 0.999))


def _note_failure(username: str) -> None:
    r = current_app.extensions["griddash"].redis
    k = _backoff_key(username)
    pipe = r.pipeline()
    pipe.incr(k)
    pipe.expire(k, 3600)
    pipe.set(k + ":at", time.time(), ex=3600)
    pipe.execute()


def _login_page(lang: str, error: str | None = None, *, username: str = "", nxt: str = "",
                status: int = 200, headers: dict | None = None) -> Response:
    body = render_template_string(LOGIN_PAGE, lang=lang, error=error, username=username, next=nxt,
                                  csrf=generate_csrf(),
                                  demo=current_app.extensions["griddash.settings"].demo_accounts)
    return Response(body, status=status, headers=headers, mimetype="text/html")


@bp.get("/login")
def login_form():
    lang = lang_of(request.args.get("lang"))
    p = current_principal()
    if p is not None and request.args.get("next"):
        return redirect(_safe_next(request.args.get("next")) or home_of(p))
    return _login_page(lang, nxt=_safe_next(request.args.get("next")))


@bp.post("/login")
def login_submit():
    lang = lang_of(request.args.get("lang") or request.form.get("lang"))
    username = (request.form.get("username") or "").strip()[:64]
    password = request.form.get("password") or ""
    nxt = _safe_next(request.form.get("next"))

    def again(message: str, status: int, headers=None):
        return _login_page(lang, message, username=username, nxt=nxt, status=status, headers=headers)

    wait = _backoff_wait(username) if username else 0
    if wait:
        msg = (f"Too many failed sign-ins for this account; try again in {wait} s" if lang == "en"
               else f"该账号登录失败次数过多，请 {wait} 秒后再试")
        return again(msg, 429, {"Retry-After": str(wait)})
    p = accounts().authenticate(username, password) if username and password else None
    if p is None:
        if username:
            _note_failure(username)
        return again("Wrong username or password" if lang == "en" else "用户名或密码错误", 401)
    current_app.extensions["griddash"].redis.delete(_backoff_key(username), _backoff_key(username) + ":at")
    session.clear()  # a new session: nothing of an earlier one survives sign-in
    session.permanent = True
    session["uid"] = p.id
    session["pv"] = accounts().stamp(p.id)
    session["sid"] = secrets.token_urlsafe(12)
    session["t"] = int(time.time())
    current_app.logger.info("sign-in: %s (%s)", p.username, p.role)
    return redirect(nxt or home_of(p) + (f"?lang={lang}" if lang == "en" else ""))


def _ended_key(sid: str) -> str:
    return f"auth:ended:{sid}"


def _ended(sid: str | None) -> bool:
    """Was this session signed out? (A copy of its cookie must not outlive the sign-out.)"""
    if not sid:
        return False
    try:
        return bool(current_app.extensions["griddash"].redis.exists(_ended_key(sid)))
    except Exception:  # Redis down: the signature and the account checks still hold
        return False


@bp.post("/logout")
def logout():
    sid = session.get("sid")
    if sid:
        hours = current_app.extensions["griddash.settings"].session_hours
        try:
            current_app.extensions["griddash"].redis.set(_ended_key(sid), 1, ex=int(hours * 3600) + 60)
        except Exception:
            current_app.logger.warning("sign-out of session %s not recorded (Redis unavailable)", sid)
    session.clear()
    resp = redirect("/login")
    resp.delete_cookie(CSRF_COOKIE, path="/")
    return resp


@bp.get("/kiosk/<token>")
def kiosk(token: str):
    """A wall screen's link: no password; the signed token names a revocable kiosk key."""
    key_id = accounts().kiosk_id(token)
    p = accounts().load_kiosk(key_id) if key_id is not None else None
    if p is None:
        return _deny(AccessDenied("this screen link is invalid or has been revoked", status=403))
    if "uid" in session:  # a link (or an image) must not swap a signed-in user's session
        return _deny(AccessDenied("you are signed in: sign out first to turn this browser into a screen"))
    session.clear()
    session.permanent = True
    session["kiosk"] = p.id
    session["sid"] = secrets.token_urlsafe(12)
    session["t"] = int(time.time())
    q = request.query_string.decode()
    return redirect(home_of(p) + (f"?{q}" if q else ""))


# --------------------------------------------------------------------------- wiring

def init_app(server, rt, settings) -> Accounts:
    from datetime import timedelta

    server.config.update(
        SESSION_COOKIE_NAME="griddash_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.cookie_secure,
        SESSION_REFRESH_EACH_REQUEST=False,  # refreshed by _authenticate, not on every poll
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_hours),
        WTF_CSRF_CHECK_DEFAULT=False,        # checked in _authenticate, where keys are exempt
        WTF_CSRF_TIME_LIMIT=None,            # a wall screen runs for days on one page
        WTF_CSRF_SSL_STRICT=settings.cookie_secure,
        RATELIMIT_STORAGE_URI=rt.redis_url,
        RATELIMIT_STORAGE_OPTIONS={"socket_timeout": 2},
        RATELIMIT_SWALLOW_ERRORS=True,       # Redis down: sign-in still works, unlimited
        RATELIMIT_KEY_PREFIX="griddash-limits",
    )
    if settings.trusted_proxies:
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=settings.trusted_proxies,
                                   x_proto=settings.trusted_proxies)
    acc = Accounts(rt.store.engine, settings.secret_key, towns=rt.geo.towns,
                   departments={d.name_zh for d in departments().values()})
    server.extensions["griddash.accounts"] = acc
    server.extensions["griddash.settings"] = settings
    server.before_request(_authenticate)  # first: the limiter's keys need the principal
    csrf.init_app(server)
    limiter = Limiter(key_func=get_remote_address, default_limits=[], strategy="moving-window",
                      headers_enabled=True)
    limiter.init_app(server)
    server.extensions["griddash.limiter"] = limiter
    # sign-in (and sign-out) attempts per address
    limiter.limit(settings.rate_limit_login, methods=["POST"], key_func=get_remote_address)(bp)
    server.register_blueprint(bp)
    server.after_request(_after)
    server.register_error_handler(AccessDenied, _deny)
    server.register_error_handler(429, _too_many)
    server.register_error_handler(CSRFError, lambda e: _deny(AccessDenied(
        f"missing or invalid CSRF token ({e.description}); reload the page", status=400)))
    return acc


def limit_api(server, blueprint, limit: str) -> None:
    """The per-key (or per-account, or per-address) request limit on an API blueprint."""
    server.extensions["griddash.limiter"].limit(limit, key_func=_rate_key)(blueprint)


LOGIN_PAGE = """<!doctype html>
<html lang="{{ 'en' if lang == 'en' else 'zh-CN' }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ 'Sign in' if lang == 'en' else '登录' }} · 路桥区全科网格综合指挥平台</title>
<link rel="stylesheet" href="/assets/griddash.css"></head>
<body class="login-body"><main class="login-box">
<h1>{{ 'Luqiao grid governance command center' if lang == 'en' else '路桥区全科网格综合指挥平台' }}</h1>
<form method="post" action="/login{{ '?lang=en' if lang == 'en' else '' }}" id="login-form">
<input type="hidden" name="csrf_token" value="{{ csrf }}">
<input type="hidden" name="next" value="{{ next }}">
<label>{{ 'Username' if lang == 'en' else '用户名' }}
<input name="username" id="login-username" autocomplete="username" required maxlength="64" value="{{ username }}"></label>
<label>{{ 'Password' if lang == 'en' else '密码' }}
<input name="password" id="login-password" type="password" autocomplete="current-password" required></label>
{% if error %}<p class="login-error" id="login-error" role="alert">{{ error }}</p>{% endif %}
<button type="submit" id="login-submit">{{ 'Sign in' if lang == 'en' else '登录' }}</button>
</form>
<p class="login-lang"><a href="/login?lang={{ 'zh' if lang == 'en' else 'en' }}{{ '&next=' ~ (next|urlencode) if next else '' }}">{{ '中文' if lang == 'en' else 'English' }}</a></p>
{% if demo %}<p class="login-demo">{{ 'Demo accounts: see instance/DEMO-ACCOUNTS.txt (printed at start).' if lang == 'en' else '演示账号见 instance/DEMO-ACCOUNTS.txt（启动时已打印）。' }}</p>{% endif %}
</main></body></html>"""

DENIED_PAGE = """<!doctype html>
<html lang="{{ 'en' if lang == 'en' else 'zh-CN' }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ status }}</title><link rel="stylesheet" href="/assets/griddash.css"></head>
<body class="login-body"><main class="login-box" id="denied">
<h1>{{ status }} · {{ ('Not allowed' if status == 403 else 'Not found') if lang == 'en' else ('无权访问' if status == 403 else '未找到') }}</h1>
<p>{{ message }}</p><p><a href="/">{{ 'Home' if lang == 'en' else '返回首页' }}</a></p>
</main></body></html>"""
