"""The first page in real headless Chromium: grid polygons, and a live incident's marker."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = pytest.mark.browser

XINQIAO = (28.5231, 121.4147)


def test_grids_drawn_and_published_incident_appears_as_marker(browser, live_server):
    browser.get(live_server.url + "/")
    wait = WebDriverWait(browser, 30)
    # All 635 grid polygons are drawn as SVG paths in the map's overlay pane.
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".leaflet-overlay-pane path")) >= 635)
    assert len(browser.find_elements(By.CSS_SELECTOR, ".leaflet-overlay-pane path")) == 635
    wait.until(EC.text_to_be_present_in_element((By.ID, "live-status"), "实时"))
    assert browser.find_elements(By.CSS_SELECTOR, "[data-incident]") == []

    res = live_server.post_report({"category": "fire_hazard", "description": "测试：商户违规使用明火",
                                   "lat": XINQIAO[0], "lon": XINQIAO[1], "reporter": "浏览器测试"})
    assert res.status_code == 202
    iid = res.json()["id"]
    t0 = time.monotonic()
    WebDriverWait(browser, 10, poll_frequency=0.1).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, f'[data-incident="{iid}"]'))
    elapsed = time.monotonic() - t0
    marker = browser.find_element(By.CSS_SELECTOR, f'[data-incident="{iid}"]')
    # A red case is drawn as a red triangle (shape as well as colour).
    assert marker.find_element(By.TAG_NAME, "polygon").get_attribute("fill").lower() == "#ff3b30"
    assert browser.find_element(By.ID, "open-red").text == "1"
    # Its grid is coloured red too (restyled through hideout, not reloaded).
    red_fills = browser.execute_script(
        "return Array.from(document.querySelectorAll('.leaflet-overlay-pane path'))"
        ".filter(p => p.getAttribute('fill') === '#ff3b30').length")
    assert red_fills == 1
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "first-page-1920x1080.png"))
    assert elapsed < 5, f"marker took {elapsed:.1f}s"
