"""The camera registry (demo data/cameras.csv), nearest/paging, simulated frames, offline state."""
from __future__ import annotations

import io
import math
import time
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from PIL import Image, ImageChops

from dashboard.config import Settings
from dashboard.demo.camera_frames import cjk_font_source, render_frame
from dashboard.geo import cameras as C
from dashboard.geo.cameras import Camera, CameraRegistry

XINQIAO = "331004103"
COLUMNS = "id,name,town_code,village_code,grid_code,lon,lat,kind,url,status"


@pytest.fixture(scope="module")
def demo_settings(tmp_path_factory):
    # a fresh instance dir: a developer's imported instance/geo/cameras.csv must not be used
    return Settings.from_env({}).with_(instance_dir=tmp_path_factory.mktemp("instance"))


@pytest.fixture(scope="module")
def reg(demo_settings):
    return CameraRegistry(demo_settings)


def haversine_m(lat1, lon1, lat2, lon2):
    r = 6_371_008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 2 * r * math.asin(math.sqrt(a))


def online_camera(reg, now):
    """A sim camera online now and for the next 10-minute slot (no drop-out during a test)."""
    return next(c for c in reg.by_town(XINQIAO)
                if reg.is_online(c, now) and reg.is_online(c, now + timedelta(seconds=C.OFFLINE_SLOT_S)))


# --------------------------------------------------------------------------- registry

def test_registry_loads_the_demo_cameras(reg):
    assert len(reg) == len(reg.all()) == 4840
    assert reg.count() == 4840
    assert reg.count(XINQIAO) == len(reg.by_town(XINQIAO)) == 1800
    assert sum(reg.count(t) for t in reg.towns()) == 4840 and len(reg.towns()) == 12
    cam = reg.get("CAM-331004103-0001")
    assert cam is not None and cam.town_code == XINQIAO and cam.grid_code.startswith(XINQIAO)
    assert cam.kind == "sim" and cam.url == "" and cam.name.startswith("新桥镇")
    assert reg.get("CAM-nope") is None and reg.by_town("999999999") == () and reg.count("999999999") == 0
    assert {c.kind for c in reg.all()} == {"sim"}
    assert all(c.town_code == XINQIAO for c in reg.by_town(XINQIAO))
    assert sum(c.status == "offline" for c in reg.all()) == 145  # 3 % of each town (data/README)
    ids = [c.id for c in reg.all()]
    assert ids == sorted(ids) and len(set(ids)) == 4840


def test_an_imported_registry_in_instance_geo_overrides_the_demo(tmp_path):
    geo = tmp_path / "geo"
    geo.mkdir()
    (geo / "cameras.csv").write_text(
        COLUMNS + "\n"
        "B-2,桥头,331004103,331004103001,331004103001-01,121.41,28.52,hls,https://cam.example/b2.m3u8,online\n"
        "A-1,路口,331004103,331004103001,331004103001-01,121.42,28.53,MJPEG,https://cam.example/a1,offline\n",
        encoding="utf-8")
    reg = CameraRegistry(Settings.from_env({}).with_(instance_dir=tmp_path))
    assert [c.id for c in reg.all()] == ["A-1", "B-2"]
    a = reg.get("A-1")
    assert a.kind == "mjpeg" and a.url == "https://cam.example/a1" and a.status == "offline"
    now = datetime.now(timezone.utc)
    assert not reg.is_online(a, now) and reg.last_seen(a, now) is None  # real camera: not watched
    assert reg.is_online(reg.get("B-2"), now)


# --------------------------------------------------------------------------- nearest

def brute_force(reg, lat, lon, k, town=None):
    cams = reg.by_town(town) if town else reg.all()
    return sorted(((haversine_m(lat, lon, c.lat, c.lon), c.id) for c in cams))[:k]


def test_nearest_is_the_true_nearest(reg):
    lats = np.array([c.lat for c in reg.all()])
    lons = np.array([c.lon for c in reg.all()])
    rng = np.random.default_rng(7)
    points = [(float(rng.uniform(lats.min(), lats.max())), float(rng.uniform(lons.min(), lons.max())))
              for _ in range(25)]
    points.append((reg.get("CAM-331004103-0100").lat, reg.get("CAM-331004103-0100").lon))
    for lat, lon in points:
        for k, town in ((1, None), (4, None), (12, None), (4, XINQIAO)):
            got = reg.nearest(lat, lon, k=k, town=town)
            want = brute_force(reg, lat, lon, k, town)
            assert [n.camera.id for n in got] == [cid for _, cid in want], (lat, lon, k, town)
            for n, (d, _) in zip(got, want):
                assert n.distance_m == pytest.approx(d, rel=2e-3, abs=0.5)
            dists = [n.distance_m for n in got]
            assert dists == sorted(dists)
            if town:
                assert all(n.camera.town_code == town for n in got)
    on_camera = reg.nearest(*points[-1], k=1)[0]
    assert on_camera.camera.id == "CAM-331004103-0100" and on_camera.distance_m < 0.01


def test_nearest_edge_cases(reg):
    cam = reg.by_town("331004400")[0]  # 滨海工业城: 120 cameras
    assert len(reg.nearest(cam.lat, cam.lon, k=500, town="331004400")) == 120
    assert reg.nearest(cam.lat, cam.lon, k=4, town="999999999") == []
    assert reg.nearest(cam.lat, cam.lon, k=0) == []


def test_nearest_is_fast(reg):
    t0 = time.perf_counter()
    for _ in range(200):
        reg.nearest(28.5231, 121.4147, k=4)
    assert (time.perf_counter() - t0) / 200 < 0.005


# --------------------------------------------------------------------------- paging

@pytest.mark.parametrize("size", [4, 9, 16, 7])
def test_pages_cover_a_town_without_repeats(reg, size):
    pages = reg.pages(XINQIAO, size)
    assert pages == math.ceil(1800 / size)
    seen = []
    for p in range(pages):
        chunk = reg.page(XINQIAO, p, size)
        assert 0 < len(chunk) <= size
        assert chunk == reg.page(XINQIAO, p, size)  # stable
        seen.extend(c.id for c in chunk)
    assert len(seen) == len(set(seen)) == 1800
    assert seen == [c.id for c in reg.by_town(XINQIAO)]
    assert reg.page(XINQIAO, pages, size) == ()


def test_paging_all_towns_and_bad_arguments(reg):
    ids = [c.id for p in range(reg.pages(None, 16)) for c in reg.page(None, p, 16)]
    assert len(ids) == len(set(ids)) == 4840
    with pytest.raises(ValueError):
        reg.page(XINQIAO, 0, 0)
    with pytest.raises(ValueError):
        reg.page(XINQIAO, -1, 16)


# --------------------------------------------------------------------------- frames

NOW = datetime(2026, 11, 26, 1, 30, 0, tzinfo=timezone.utc)  # 09:30 in Luqiao


def open_jpeg(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    assert img.format == "JPEG"
    return img


def test_render_frame_is_a_jpeg_of_the_asked_size(reg):
    cam = reg.get("CAM-331004103-0001")
    img = open_jpeg(render_frame(cam, NOW))
    assert img.size == (480, 270) and img.mode == "RGB"
    assert open_jpeg(render_frame(cam, NOW, 320, 180)).size == (320, 180)
    assert open_jpeg(render_frame(cam, NOW, 960, 540, tz=reg.settings.timezone)).size == (960, 540)
    with pytest.raises(ValueError):
        render_frame(cam, NOW.replace(tzinfo=None))  # naive datetimes are ambiguous
    for place in ("河道监控", "出租房楼道", "路口球机"):  # the scene variants render too
        other = next(c for c in reg.all() if place in c.name)
        assert open_jpeg(render_frame(other, NOW)).size == (480, 270)


def test_frames_move_over_time_and_are_shared_within_a_step(reg):
    cam = reg.get("CAM-331004103-0002")
    a = render_frame(cam, NOW)
    assert render_frame(cam, NOW + timedelta(seconds=C.FRAME_STEP / 2)) is a  # cached, shared
    for later in (1, 3, 5):
        b = render_frame(cam, NOW + timedelta(seconds=later))
        assert b != a
        diff = ImageChops.difference(open_jpeg(a), open_jpeg(b)).convert("L")
        # real motion, not just JPEG noise: a good number of pixels change a lot
        assert sum(diff.point(lambda v: 255 if v > 60 else 0).histogram()[255:]) > 200, later
    # different cameras look different
    assert render_frame(reg.get("CAM-331004103-0003"), NOW) != a


def test_frame_rendering_is_cheap(reg):
    cams = reg.by_town("331004001")[:16]
    for c in cams:  # the static scenes are built once per camera
        render_frame(c, NOW)
    t0 = time.perf_counter()
    n = 0
    for step in range(1, 11):
        for c in cams:
            render_frame(c, NOW + timedelta(seconds=step * 7.3))
            n += 1
    per_frame = (time.perf_counter() - t0) / n
    assert per_frame < 0.015, f"{per_frame * 1000:.1f} ms per frame"


def test_a_cjk_font_is_found():
    src = cjk_font_source()
    if src is None:
        pytest.skip("no CJK font installed (Debian: apt-get install fonts-noto-cjk)")
    from PIL import ImageFont
    font = ImageFont.truetype(src[0], 20, index=src[1])
    # missing glyphs would all be the same .notdef box
    assert bytes(font.getmask("演")) != bytes(font.getmask("示"))


# --------------------------------------------------------------------------- online state

def test_cameras_listed_offline_are_offline_with_a_stable_last_seen(reg):
    now = NOW
    offline = [c for c in reg.all() if c.status == "offline"]
    assert len(offline) == 145
    for cam in offline[:20]:
        assert not reg.is_online(cam, now)
        seen = reg.last_seen(cam, now)
        assert seen is not None and seen.utcoffset() == timedelta(hours=8)  # Asia/Shanghai
        assert now - timedelta(days=10) <= seen <= now
        assert reg.last_seen(cam, now + timedelta(hours=1)) == seen  # not moving with the clock


def test_sim_cameras_drop_out_deterministically_for_a_slot(reg):
    cams = reg.by_town(XINQIAO)[:200]
    online = [c for c in cams if c.status == "online"]
    base = int(NOW.timestamp() // C.OFFLINE_SLOT_S) * C.OFFLINE_SLOT_S
    dropped = None
    for slot in range(500):
        t = datetime.fromtimestamp(base + slot * C.OFFLINE_SLOT_S, timezone.utc)
        down = [c for c in online if not C.is_online(c, t)]
        assert len(down) <= 0.05 * len(online)  # a small share
        if down and dropped is None:
            dropped = (down[0], t)
    assert dropped is not None
    cam, t = dropped
    mid = t + timedelta(seconds=123)
    assert not reg.is_online(cam, mid) and not reg.is_online(cam, t)
    seen = reg.last_seen(cam, mid)
    assert seen is not None and seen <= t and (t - seen).total_seconds() % C.OFFLINE_SLOT_S == 0
    assert reg.last_seen(cam, mid) == seen  # the same answer every time (and in every process)
    assert reg.last_seen(online_camera(reg, NOW), NOW) is None


def test_real_cameras_follow_the_registry_status():
    cam = Camera("X-1", "测试", XINQIAO, "331004103001", "331004103001-01", 121.41, 28.52,
                 "snapshot", "https://cam.example/x.jpg", "online")
    for minutes in range(0, 60 * 24 * 14, 10):  # never drops out like the sim cameras
        assert C.is_online(cam, NOW + timedelta(minutes=minutes))
