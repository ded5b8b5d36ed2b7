"""Callbacks of the big screen's camera wall. Thin: the follow rule lives in dashboard/core/camera_wall.py,
the tiles are drawn in the browser (assets/griddash_cameras.js).

* camera-tick (15 s): touring pages of the scope's cameras;
* red-alerts (from the live callback, whenever the red cases waiting for acceptance change):
  the wall follows them one at a time with the cameras nearest to the case
  (``camera_wall.next_state``: each holds the wall at least ``FOLLOW_HOLD_S``).

The server sends the wall as data (``camera-wall-data``), and only when it changed::

    {"key": "follow:<case id>" | "tour:<page>",   # stable while the same set is shown
     "following": <case id> | None,
     "tiles": [{"id", "name" (short caption), "title" (full name), "online": bool,
                "seen": "MM-DD HH:MM" | None (offline: last picture), "kind",
                "src": snapshot URL (sim: this server's, w=480; snapshot: the camera's) or
                       the stream / player URL (mjpeg, hls, embed)}],
     "texts": {"camera_offline", "camera_last_seen"}}   # the placeholder's words, localized

The browser keeps one element per tile and swaps a tile's picture only once the next one has
loaded, so a page turn or a new follow never blanks a tile.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from urllib.parse import quote
from zoneinfo import ZoneInfo

import orjson
from dash import ClientsideFunction, Input, Output, State, no_update

from dashboard.core import access, camera_wall
from dashboard.i18n import t
from dashboard.web.security import require_principal
from layouts.components import short_name

SNAPSHOT_WIDTH = 480  # one of camera_api.WIDTHS; the detail panel's small tiles use 320


def tile_data(cam, cams, now: datetime, tz) -> dict:
    """One tile of the wall as data for assets/griddash_cameras.js."""
    online = cams.is_online(cam, now)
    seen = None
    if not online:
        ts = cams.last_seen(cam, now)
        seen = ts.astimezone(tz).strftime("%m-%d %H:%M") if ts else None
    if cam.kind == "sim":
        src = f"/cameras/{quote(cam.id, safe='')}/snapshot.jpg?w={SNAPSHOT_WIDTH}"
    else:
        src = cam.url
    return {"id": cam.id, "name": short_name(cam.name), "title": cam.name, "online": online,
            "seen": seen, "kind": cam.kind, "src": src}


def digest(value) -> str:
    return hashlib.blake2b(orjson.dumps(value, option=orjson.OPT_SORT_KEYS), digest_size=8).hexdigest()


def wall_size(cfg) -> int:
    size = cfg.get("wall") if isinstance(cfg, dict) else None
    return size if size in (2, 3, 4) else 3


def register(app, services) -> None:
    rt, cams = services.runtime, services.cameras
    tz = ZoneInfo(rt.settings.timezone)

    @app.callback(
        Output("follow", "data"),
        Output("camera-wall-data", "data"),
        Output("camera-mode", "children"),
        Input("camera-tick", "n_intervals"),
        Input("red-alerts", "data"),
        State("follow", "data"),
        State("screen-config", "data"),
    )
    def refresh_wall(n, alerts, follow, cfg):
        scope, lang = access.resolve_town(require_principal(), cfg["scope"]), cfg.get("lang", "zh")
        size = wall_size(cfg)
        now = datetime.now(timezone.utc)
        now_ms = int(now.timestamp() * 1000)
        alerts = [a for a in (alerts if isinstance(alerts, list) else [])
                  if isinstance(a, dict) and (not scope or a.get("town") == scope)]
        prev = follow if isinstance(follow, dict) else {}
        state = camera_wall.next_state(prev, alerts, now_ms)
        case = state["id"]
        if case is not None:
            chosen = [near.camera for near in cams.nearest(state["lat"], state["lon"], k=size * size, town=scope)]
            key = f"follow:{case}"
            mode = f" · {t('camera_follow', lang)}: {state['label']}"
        else:
            pages = cams.pages(scope, size * size)
            page = (n if isinstance(n, int) and n > 0 else 0) % pages
            chosen = cams.page(scope, page, size * size)
            key = f"tour:{page}"
            mode = f" · {t('camera_page', lang)} {page + 1}/{pages}"
        wall = {"key": key, "following": case, "tiles": [tile_data(c, cams, now, tz) for c in chosen],
                "texts": {k: t(k, lang) for k in ("camera_offline", "camera_last_seen")}}
        sent = digest(wall)
        # The store holds the follow state and what this viewer was last sent (a digest).
        new_follow = {**state, "sent": sent, "mode": mode}
        return (no_update if new_follow == follow else new_follow,
                no_update if prev.get("sent") == sent else wall,
                no_update if prev.get("mode") == mode else mode)

    app.clientside_callback(
        ClientsideFunction(namespace="griddash_cameras", function_name="render"),
        Output("camera-wall-rendered", "data"),
        Input("camera-wall-data", "data"),
    )
