"""What each kind of camera becomes on the wall (no browser needed for the structure)."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from dashboard.config import Settings
from dashboard.geo.cameras import Camera, CameraRegistry
from layouts.components import camera_tile

NOW = datetime(2026, 11, 26, 4, 0, tzinfo=timezone.utc)
TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def cams():
    return CameraRegistry(Settings.from_env({}))


def cam(kind, url="", status="online"):
    return Camera(id=f"CAM-X-{kind}", name="新桥镇上保村第2网格 路口球机", town_code="331004103",
                  village_code="v", grid_code="g", lon=121.41, lat=28.52, kind=kind, url=url, status=status)


def props(component):
    return component.to_plotly_json()["props"]


@pytest.mark.parametrize("kind,url,tag,attr", [
    ("sim", "", "Img", "data-snapshot"),
    ("snapshot", "http://cam.local/snap.jpg", "Img", "data-snapshot"),
    ("mjpeg", "http://cam.local/stream.mjpg", "Img", None),
    ("hls", "http://cam.local/live.m3u8", "Video", "data-hls"),
    ("embed", "http://go2rtc.local/stream.html?src=x", "Iframe", "data-embed"),
])
def test_each_kind_gets_its_player(cams, kind, url, tag, attr):
    tile = camera_tile(cam(kind, url), cams, NOW, TZ, "zh")
    media = props(tile)["children"][0]
    assert type(media).__name__ == tag
    p = props(media)
    if attr:
        assert attr in p
    if kind == "sim":
        assert p["src"].startswith("/cameras/CAM-X-sim/snapshot.jpg")
    elif kind in ("snapshot", "mjpeg", "embed"):
        assert p["src"] == url
    else:
        assert p["data-hls"] == url


def test_offline_camera_shows_a_placeholder_with_last_seen(cams):
    tile = camera_tile(cam("sim", status="offline"), cams, NOW, TZ, "zh")
    assert "sc-cam-offline" in props(tile)["className"]
    placeholder = props(tile)["children"][0]
    texts = [props(c)["children"] for c in props(placeholder)["children"]]
    assert texts[0] == "离线" and texts[1].startswith("最后在线")
