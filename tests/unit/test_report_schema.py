"""What a report's ``photos`` may hold: this app's stored photos, or http(s) links."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from dashboard.core.schemas import ReportIn, is_own_photo_url

BASE = {"category": "fire_hazard", "description": "测试", "lat": 28.52, "lon": 121.41, "reporter": "网格员"}
OWN = "/api/v1/incidents/6c1f0d3e-0000-4000-8000-000000000001/photos/" + "a" * 64 + ".jpg"


@pytest.mark.parametrize("url", ["https://img.example.cn/p/1.jpg", "http://10.0.0.5/photo.png", OWN])
def test_accepted_photo_urls(url):
    assert ReportIn.model_validate({**BASE, "photos": [url]}).photos == [url]


@pytest.mark.parametrize("url", ["//tracker.example/p.gif", "/kiosk/abc", "javascript:alert(1)",
                                 "data:image/png;base64,AAAA", "https:///nohost", "ftp://x/y.jpg",
                                 "https://x.example/a b.jpg", OWN.replace(".jpg", ".svg")])
def test_refused_photo_urls(url):
    with pytest.raises(ValidationError, match="http"):
        ReportIn.model_validate({**BASE, "photos": [url]})


def test_only_stored_photos_count_as_own():
    assert is_own_photo_url(OWN)
    assert not is_own_photo_url("https://img.example.cn/p/1.jpg")
    assert not is_own_photo_url(OWN + "?x=1") and not is_own_photo_url(None)
