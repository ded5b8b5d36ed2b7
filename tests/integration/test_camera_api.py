"""The camera API on the real app (Flask test client): registry, snapshots, MJPEG streams."""
from __future__ import annotations

import gc
import inspect
import io
import socket
import threading
import time
from datetime import datetime, timedelta, timezone

from PIL import Image

from dashboard.geo.cameras import OFFLINE_SLOT_S
from dashboard.web import cameras as camera_api

XINQIAO_TOWN = "331004103"
XINQIAO = (28.5231, 121.4147)  # a point in 新桥镇


def registry(app):
    with app.app_context():
        return camera_api.registry()


def online_camera(app):
    """A sim camera that stays online for this test (no drop-out now or in the next slot)."""
    reg, now = registry(app), datetime.now(timezone.utc)
    return next(c for c in reg.by_town(XINQIAO_TOWN)
                if reg.is_online(c, now) and reg.is_online(c, now + timedelta(seconds=OFFLINE_SLOT_S)))


def jpeg(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    assert img.format == "JPEG"
    return img


def test_one_registry_per_app(app):
    assert registry(app) is registry(app) is app.extensions["griddash.cameras"]
    assert len(registry(app)) == 4840


def test_snapshot_of_a_sim_camera_is_a_fresh_jpeg(client, app):
    cam = online_camera(app)
    res = client.get(f"/cameras/{cam.id}/snapshot.jpg")
    assert res.status_code == 200
    assert res.mimetype == "image/jpeg"
    assert "no-store" in res.headers["Cache-Control"]
    assert jpeg(res.data).size == (480, 270)
    small = client.get(f"/cameras/{cam.id}/snapshot.jpg?w=320")
    assert small.status_code == 200 and jpeg(small.data).size == (320, 180)
    bad = client.get(f"/cameras/{cam.id}/snapshot.jpg?w=333")
    assert bad.status_code == 400 and "w must be" in bad.get_json()["error"]


def test_offline_camera_answers_503_with_last_seen(client, app):
    cam = next(c for c in registry(app).all() if c.status == "offline")
    for path in (f"/cameras/{cam.id}/snapshot.jpg", f"/cameras/{cam.id}/mjpeg?seconds=1"):
        res = client.get(path)
        assert res.status_code == 503, path
        assert res.mimetype == "application/json"
        body = res.get_json()
        assert body["error"] == "camera offline" and body["id"] == cam.id
        seen = datetime.fromisoformat(body["last_seen"])
        assert seen.utcoffset() == timedelta(hours=8)
        assert datetime.now(timezone.utc) - timedelta(days=10) <= seen <= datetime.now(timezone.utc)
        assert res.headers.get("Retry-After")
    info = client.get(f"/api/v1/cameras/{cam.id}").get_json()
    assert info["status"] == "offline" and info["last_seen"] == body["last_seen"]


def test_unknown_camera_is_404(client):
    for path in ("/cameras/CAM-nope/snapshot.jpg", "/cameras/CAM-nope/mjpeg",
                 "/api/v1/cameras/CAM-nope"):
        res = client.get(path)
        assert res.status_code == 404, path
        assert res.get_json()["error"] == "unknown camera"


def test_camera_detail(client, app):
    cam = online_camera(app)
    res = client.get(f"/api/v1/cameras/{cam.id}")
    assert res.status_code == 200
    body = res.get_json()
    assert body["id"] == cam.id and body["name"] == cam.name and body["town_code"] == XINQIAO_TOWN
    assert body["grid_code"] == cam.grid_code and body["kind"] == "sim" and body["status"] == "online"
    assert (body["lat"], body["lon"]) == (cam.lat, cam.lon) and body["last_seen"] is None
    assert body["feed"] == {"type": "snapshot", "src": f"/cameras/{cam.id}/snapshot.jpg",
                            "mjpeg": f"/cameras/{cam.id}/mjpeg"}


def test_list_near_a_point_is_sorted_by_distance(client, app):
    res = client.get(f"/api/v1/cameras?near={XINQIAO[0]},{XINQIAO[1]}&k=8")
    assert res.status_code == 200
    items = res.get_json()
    assert len(items) == 8
    dists = [c["distance_m"] for c in items]
    assert dists == sorted(dists) and dists[-1] < 2000
    want = registry(app).nearest(*XINQIAO, k=8)
    assert [c["id"] for c in items] == [n.camera.id for n in want]
    first = items[0]
    assert set(first) >= {"id", "name", "town_code", "grid_code", "lat", "lon", "kind", "status", "feed"}
    assert first["feed"]["type"] == "snapshot"
    assert client.get(first["feed"]["src"]).status_code in (200, 503)  # the URL is the app's own
    # default k, town filter, bad input
    assert len(client.get(f"/api/v1/cameras?near={XINQIAO[0]},{XINQIAO[1]}").get_json()) == 4
    in_town = client.get(f"/api/v1/cameras?near={XINQIAO[0]},{XINQIAO[1]}&k=5&town=331004001").get_json()
    assert len(in_town) == 5 and {c["town_code"] for c in in_town} == {"331004001"}
    for q in ("near=abc", "near=28.5", "near=28.5,121.4&k=0", "near=28.5,121.4&k=x", "near=nan,121"):
        assert client.get(f"/api/v1/cameras?{q}").status_code == 400, q


def test_list_by_town_and_pages(client):
    res = client.get(f"/api/v1/cameras?town={XINQIAO_TOWN}")
    items = res.get_json()
    assert res.status_code == 200 and len(items) == 1800 and res.headers["X-Total-Count"] == "1800"
    assert {c["town_code"] for c in items} == {XINQIAO_TOWN}
    assert sum(c["status"] == "offline" for c in items) >= 54  # 3 % listed offline
    seen = []
    page = 0
    while True:
        res = client.get(f"/api/v1/cameras?town={XINQIAO_TOWN}&page={page}&size=16")
        chunk = res.get_json()
        if not chunk:
            break
        assert res.headers["X-Page-Count"] == "113"
        seen.extend(c["id"] for c in chunk)
        page += 1
    assert page == 113 and seen == [c["id"] for c in items]
    assert len(client.get("/api/v1/cameras").get_json()) == 4840
    assert client.get("/api/v1/cameras?town=999999999").get_json() == []


def test_non_sim_cameras_are_loaded_by_the_browser(settings, rt):
    geo = settings.instance_dir / "geo"
    geo.mkdir(parents=True, exist_ok=True)
    (geo / "cameras.csv").write_text(
        "id,name,town_code,village_code,grid_code,lon,lat,kind,url,status\n"
        "H-1,桥头,331004103,331004103001,331004103001-01,121.41,28.52,hls,https://cam.example/h1.m3u8,online\n"
        "E-1,路口,331004103,331004103001,331004103001-01,121.42,28.53,embed,https://go2rtc.example/stream.html?src=e1,online\n",
        encoding="utf-8")
    from app import create_app
    server = create_app(rt.settings, runtime=rt).server
    server.extensions["griddash.accounts"].add_user("cams", "admin")
    client = server.test_client()
    client.environ_base["HTTP_X_API_KEY"] = server.extensions["griddash.accounts"].create_key("cams")[1]
    items = {c["id"]: c for c in client.get("/api/v1/cameras").get_json()}
    assert items["H-1"]["feed"] == {"type": "hls", "src": "https://cam.example/h1.m3u8"}
    assert items["E-1"]["feed"] == {"type": "embed", "src": "https://go2rtc.example/stream.html?src=e1"}
    for path in ("/cameras/H-1/snapshot.jpg", "/cameras/E-1/mjpeg"):
        res = client.get(path)
        assert res.status_code == 404
        assert "not a server-rendered camera" in res.get_json()["error"]


def mjpeg_parts(res) -> list[bytes]:
    ctype = res.headers["Content-Type"]
    assert ctype.startswith("multipart/x-mixed-replace")
    boundary = ctype.split("boundary=", 1)[1].encode()
    parts = []
    for chunk in res.data.split(b"--" + boundary)[1:]:
        if chunk.startswith(b"--"):
            break  # closing boundary
        head, _, body = chunk.partition(b"\r\n\r\n")
        assert b"Content-Type: image/jpeg" in head
        body = body[:-2] if body.endswith(b"\r\n") else body
        assert f"Content-Length: {len(body)}".encode() in head
        parts.append(body)
    return parts


def test_mjpeg_stream_sends_frames_and_ends(client, app):
    cam = online_camera(app)
    t0 = time.monotonic()
    res = client.get(f"/cameras/{cam.id}/mjpeg?seconds=2")
    elapsed = time.monotonic() - t0
    assert res.status_code == 200
    assert "no-store" in res.headers["Cache-Control"]
    parts = mjpeg_parts(res)
    assert len(parts) >= 2
    assert all(jpeg(p).size == (480, 270) for p in parts)
    assert len(set(parts)) >= 2  # the picture moves
    assert elapsed < 4
    assert client.get(f"/cameras/{cam.id}/mjpeg?seconds=0").status_code == 400


def test_mjpeg_stream_ends_when_the_client_leaves_and_frees_its_slot(client, app):
    cam = online_camera(app)
    held = []
    try:
        for _ in range(camera_api.MAX_STREAMS):
            res = client.get(f"/cameras/{cam.id}/mjpeg", buffered=False)
            assert res.status_code == 200
            held.append(res)
        full = client.get(f"/cameras/{cam.id}/mjpeg", buffered=False)
        assert full.status_code == 503 and "too many camera streams" in full.get_json()["error"]
    finally:
        for res in held:
            res.close()
    # a 10-minute stream: read a frame, disconnect; the generator ends and the slot is free,
    # over and over (more often than there are slots)
    for _ in range(camera_api.MAX_STREAMS + 8):
        res = client.get(f"/cameras/{cam.id}/mjpeg?w=320", buffered=False)
        assert res.status_code == 200
        first = next(iter(res.response))
        assert first.startswith(b"--frame\r\nContent-Type: image/jpeg")
        t0 = time.monotonic()
        res.close()
        assert time.monotonic() - t0 < 1


def live_streams() -> list:
    """MJPEG generators of this process that are still running."""
    gc.collect()
    return [g for g in gc.get_objects()
            if inspect.isgenerator(g) and g.__name__ == "frames"
            and g.gi_code.co_filename == camera_api.__file__
            and inspect.getgeneratorstate(g) != inspect.GEN_CLOSED]


def test_mjpeg_generator_ends_when_a_real_http_client_disconnects(app, api_key):
    from werkzeug.serving import make_server

    cam = online_camera(app)
    key = api_key("admin")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert live_streams() == []
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock.sendall(f"GET /cameras/{cam.id}/mjpeg HTTP/1.1\r\nHost: x\r\n"
                     f"Authorization: Bearer {key}\r\n\r\n".encode())
        got = b""
        while got.count(b"Content-Type: image/jpeg") < 2:
            chunk = sock.recv(65536)
            assert chunk, f"the server closed the connection: {got[:300]!r}"
            got += chunk
        assert got.startswith(b"HTTP/1.1 200")
        assert len(live_streams()) == 1
        sock.close()
        deadline = time.monotonic() + 5
        while live_streams() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert live_streams() == []
    finally:
        server.shutdown()
        thread.join(5)
