"""Camera HTTP API (a Flask blueprint on the Dash server): registry, sim snapshots, MJPEG.

| method and path | what |
|---|---|
| ``GET /api/v1/cameras?town=&near=lat,lon&k=&page=&size=`` | JSON list of cameras |
| ``GET /api/v1/cameras/<id>`` | one camera (``404`` unknown) |
| ``GET /cameras/<id>/snapshot.jpg[?w=320|480|640|960]`` | a frame of a sim camera |
| ``GET /cameras/<id>/mjpeg[?seconds=N&w=...]`` | MJPEG stream of a sim camera, ~2 fps, ≤ 10 min |

Each camera has ``feed: {type, src}``: for sim cameras ``type`` is ``snapshot`` and ``src`` this
server's snapshot URL (``mjpeg`` holds the stream URL); for the others ``type`` is the
registry's ``kind`` (mjpeg, snapshot, hls, embed) and ``src`` its URL, loaded by the browser.
An offline camera's snapshot/stream answers ``503`` with ``{"error", "id", "last_seen"}``.

Scope: a camera belongs to a town (``town_code``). A principal bound to a town (an operator, a
town's kiosk) sees only that town's cameras: the list is its town's (``town`` = another town is
403) and another town's camera answers 404 like an unknown one; handlers and reporters have no
camera views (403). See ``access.resolve_town``.

MJPEG streams hold a worker thread for their whole life: run gunicorn with threads
(``-k gthread --threads 16``); the sync worker would be blocked and killed by its timeout.
At most ``MAX_STREAMS`` streams per process (then ``503``).
"""
from __future__ import annotations

import math
import threading
import time
from datetime import datetime, timezone
from urllib.parse import quote

from flask import Blueprint, Response, current_app, request, url_for

from dashboard.core import access
from dashboard.demo.camera_frames import render_frame
from dashboard.geo.cameras import FRAME_STEP, Camera, CameraRegistry
from dashboard.web.errors import json_error, json_response
from dashboard.web.security import require_principal

bp = Blueprint("camera_api", __name__)

MAX_STREAM_SECONDS = 600
MAX_STREAMS = 32            # concurrent MJPEG streams per process
MAX_K = 100
MAX_PAGE_SIZE = 100
WIDTHS = {320: 180, 480: 270, 640: 360, 960: 540}
MJPEG_BOUNDARY = "frame"

_init_lock = threading.Lock()


def registry() -> CameraRegistry:
    """The app's one CameraRegistry, loaded on first use."""
    ext = current_app.extensions
    reg = ext.get("griddash.cameras")
    if reg is None:
        with _init_lock:
            reg = ext.get("griddash.cameras")
            if reg is None:
                reg = ext["griddash.cameras"] = CameraRegistry(ext["griddash"].settings)
    return reg


def _streams() -> threading.BoundedSemaphore:
    ext = current_app.extensions
    sem = ext.get("griddash.camera_streams")
    if sem is None:
        with _init_lock:
            sem = ext.setdefault("griddash.camera_streams", threading.BoundedSemaphore(MAX_STREAMS))
    return sem




class _Urls:
    """Snapshot/stream URLs built once per request (url_for per camera is slow for 4,840)."""

    def __init__(self):
        mark = "__CAMERA_ID__"
        self.snap = url_for("camera_api.snapshot", camera_id=mark)
        self.mjpeg = url_for("camera_api.mjpeg", camera_id=mark)
        self.mark = mark

    def feed(self, cam: Camera) -> dict:
        if cam.kind == "sim":
            cid = quote(cam.id, safe="")
            return {"type": "snapshot", "src": self.snap.replace(self.mark, cid),
                    "mjpeg": self.mjpeg.replace(self.mark, cid)}
        return {"type": cam.kind, "src": cam.url}


def _camera_json(reg: CameraRegistry, cam: Camera, now: datetime, urls: _Urls,
                 distance_m: float | None = None) -> dict:
    online = reg.is_online(cam, now)
    seen = None if online else reg.last_seen(cam, now)
    body = {"id": cam.id, "name": cam.name, "town_code": cam.town_code,
            "village_code": cam.village_code, "grid_code": cam.grid_code,
            "lat": cam.lat, "lon": cam.lon, "kind": cam.kind,
            "status": "online" if online else "offline",
            "last_seen": seen.isoformat() if seen else None,
            "feed": urls.feed(cam)}
    if distance_m is not None:
        body["distance_m"] = round(distance_m, 1)
    return body


def _int_arg(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    try:
        v = int(raw)
    except ValueError:
        raise _BadArg(f"{name} must be an integer") from None
    if not lo <= v <= hi:
        raise _BadArg(f"{name} must be between {lo} and {hi}")
    return v


class _BadArg(ValueError):
    pass


@bp.errorhandler(_BadArg)
def _bad_arg(exc: _BadArg):
    return json_error(400, str(exc))


def _visible_camera(camera_id: str) -> Camera | None:
    """The camera, if it exists and the principal may see it (None otherwise, alike)."""
    bound = access.resolve_town(require_principal(), None)  # 403 for roles without camera views
    cam = registry().get(camera_id)
    if cam is None or (bound is not None and cam.town_code != bound):
        return None
    return cam


@bp.get("/api/v1/cameras")
def list_cameras():
    reg = registry()
    town = access.resolve_town(require_principal(), request.args.get("town"))
    now = datetime.now(timezone.utc)
    urls = _Urls()
    near = request.args.get("near", "").strip()
    if near:
        try:
            lat, lon = (float(v) for v in near.split(","))
        except ValueError:
            raise _BadArg("near must be 'lat,lon' (WGS84 degrees)") from None
        if not (math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
            raise _BadArg("near must be 'lat,lon' (WGS84 degrees)")
        k = _int_arg("k", 4, 1, MAX_K)
        found = reg.nearest(lat, lon, k=k, town=town)
        return json_response([_camera_json(reg, n.camera, now, urls, n.distance_m) for n in found],
                     headers={"Cache-Control": "no-store"})
    headers = {"Cache-Control": "no-store", "X-Total-Count": str(reg.count(town))}
    if "page" in request.args or "size" in request.args:
        size = _int_arg("size", 16, 1, MAX_PAGE_SIZE)
        page = _int_arg("page", 0, 0, 1_000_000)
        cams = reg.page(town, page, size)
        headers["X-Page-Count"] = str(reg.pages(town, size))
    else:
        cams = reg.by_town(town) if town else reg.all()
    return json_response([_camera_json(reg, c, now, urls) for c in cams], headers=headers)


@bp.get("/api/v1/cameras/<camera_id>")
def get_camera(camera_id: str):
    reg = registry()
    cam = _visible_camera(camera_id)
    if cam is None:
        return json_error(404, "unknown camera")
    return json_response(_camera_json(reg, cam, datetime.now(timezone.utc), _Urls()),
                 headers={"Cache-Control": "no-store"})


def _sim_camera(camera_id: str) -> tuple[CameraRegistry, Camera | None, Response | None]:
    """The sim camera, or an error response (404 unknown / not sim, 503 offline)."""
    reg = registry()
    cam = _visible_camera(camera_id)
    if cam is None:
        return reg, None, json_error(404, "unknown camera")
    if cam.kind != "sim":
        return reg, None, json_error(404, "not a server-rendered camera; load its feed directly",
                                 feed={"type": cam.kind, "src": cam.url})
    now = datetime.now(timezone.utc)
    if not reg.is_online(cam, now):
        seen = reg.last_seen(cam, now)
        return reg, None, json_error(503, "camera offline", id=cam.id,
                                 last_seen=seen.isoformat() if seen else None)
    return reg, cam, None


def _size() -> tuple[int, int]:
    w = _int_arg("w", 480, 1, 10_000)
    if w not in WIDTHS:
        raise _BadArg(f"w must be one of {sorted(WIDTHS)}")
    return w, WIDTHS[w]


@bp.get("/cameras/<camera_id>/snapshot.jpg")
def snapshot(camera_id: str):
    reg, cam, err = _sim_camera(camera_id)
    if err is not None:
        return err
    w, h = _size()
    jpeg = render_frame(cam, datetime.now(timezone.utc), w, h, tz=reg.settings.timezone)
    return Response(jpeg, mimetype="image/jpeg", headers={"Cache-Control": "no-store"})


@bp.get("/cameras/<camera_id>/mjpeg")
def mjpeg(camera_id: str):
    reg, cam, err = _sim_camera(camera_id)
    if err is not None:
        return err
    w, h = _size()
    raw = request.args.get("seconds", "").strip()
    try:
        seconds = float(raw) if raw else MAX_STREAM_SECONDS
    except ValueError:
        raise _BadArg("seconds must be a number") from None
    if not (math.isfinite(seconds) and seconds > 0):
        raise _BadArg("seconds must be > 0")
    seconds = min(seconds, MAX_STREAM_SECONDS)
    sem = _streams()
    if not sem.acquire(blocking=False):
        return json_error(503, f"too many camera streams (max {MAX_STREAMS} per process); "
                           "use the snapshot URL")

    def frames():
        # Ends at the deadline, when the camera drops out, or when the client goes away
        # (the server then closes this generator at its next yield, within FRAME_STEP s).
        deadline = time.monotonic() + seconds
        head = f"--{MJPEG_BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: ".encode()
        while True:
            now = datetime.now(timezone.utc)
            if not reg.is_online(cam, now):
                break
            jpeg = render_frame(cam, now, w, h, tz=reg.settings.timezone)
            yield head + str(len(jpeg)).encode() + b"\r\n\r\n" + jpeg + b"\r\n"
            wait = FRAME_STEP - (time.time() % FRAME_STEP) + 0.005  # align: viewers share frames
            if time.monotonic() + wait > deadline:
                break
            time.sleep(wait)
        yield f"--{MJPEG_BOUNDARY}--\r\n".encode()

    resp = Response(frames(), content_type=f"multipart/x-mixed-replace; boundary={MJPEG_BOUNDARY}",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
    resp.call_on_close(sem.release)
    return resp
