"""The big screen in real headless Chromium: layout at wall resolutions, live updates,
camera tiles, and the live/stale indicator through a Redis outage."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait as _Wait

from layouts.screen import STABLE_IDS
from liveapp import visit

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
XINQIAO = (28.5231, 121.4147)


def WebDriverWait(driver, timeout, poll_frequency=0.2):
    """A wait that retries when Dash re-rendered the element between finding and reading it."""
    return _Wait(driver, timeout, poll_frequency=poll_frequency,
                 ignored_exceptions=(StaleElementReferenceException,))


def report(**over):
    body = {"category": "fire_hazard", "description": "测试：商户违规使用明火", "lat": XINQIAO[0],
            "lon": XINQIAO[1], "reporter": "浏览器测试"}
    body.update(over)
    return body


def wait_live(driver, timeout=30):
    WebDriverWait(driver, timeout).until(
        lambda d: "live" in d.find_element(By.ID, "live-status").get_attribute("class").split())


def open_screen(driver, url):
    visit(driver, url)
    wait = WebDriverWait(driver, 30)
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "path.gd-grid")) == 635)
    wait_live(driver)


@pytest.mark.parametrize("width,height", [(1920, 1080), (3840, 2160)])
def test_screen_fits_the_wall_with_every_stable_id(browser_factory, live_server, width, height):
    live_server.post_report(report())
    driver = browser_factory(width, height)
    open_screen(driver, live_server.url + "/screen")
    WebDriverWait(driver, 15).until(lambda d: d.find_element(By.ID, "kpi-reports-today").text not in ("", "–"))
    WebDriverWait(driver, 15).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#camera-wall img"))
    time.sleep(1.5)  # let the camera images and the chart draw for the screenshot
    sizes = driver.execute_script(
        "const e = document.documentElement, b = document.body;"
        "return [innerWidth, innerHeight, e.scrollWidth, e.scrollHeight, b.scrollWidth, b.scrollHeight];")
    vw, vh, sw, sh, bw, bh = sizes
    assert (vw, vh) == (width, height)
    assert sw <= vw and sh <= vh and bw <= vw and bh <= vh, f"scrolls: {sizes}"
    for el_id in STABLE_IDS:
        el = driver.find_element(By.ID, el_id)
        assert el.is_displayed(), el_id
        r = el.rect
        assert r["x"] >= 0 and r["y"] >= 0 and r["x"] + r["width"] <= vw + 1 and r["y"] + r["height"] <= vh + 1, el_id
    # Nothing in the panels is cut off sideways: KPI values fit their cards.
    clipped = driver.execute_script(
        "return Array.from(document.querySelectorAll('.sc-kpi-value'))"
        ".filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.id)")
    assert clipped == []
    # Everything the page loaded came from the app itself: no CDN, no outside fonts or tiles.
    origins = driver.execute_script(
        "return Array.from(new Set(performance.getEntriesByType('resource')"
        ".map(e => new URL(e.name).origin)))")
    assert origins == [live_server.url], origins
    # hls.js is loaded only where an HLS tile needs it, not with every screen.
    names = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert not [n for n in names if "hls" in n]
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"screen-{width}x{height}.png"))


def test_new_red_incident_on_map_and_ticker_within_2s(browser, live_server):
    open_screen(browser, live_server.url + "/screen")
    red_before = int(browser.find_element(By.ID, "kpi-open-red").text.replace(",", ""))
    res = live_server.post_report(report())
    assert res.status_code == 202
    iid = res.json()["id"]
    t0 = time.monotonic()
    WebDriverWait(browser, 2, poll_frequency=0.05).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, f'#grid-map [data-incident="{iid}"]')
        and d.find_elements(By.CSS_SELECTOR, f'#incident-ticker [data-incident="{iid}"]'))
    elapsed = time.monotonic() - t0
    print(f"incident on map and ticker after {elapsed:.2f}s")
    marker = browser.find_element(By.CSS_SELECTOR, f'#grid-map [data-incident="{iid}"]')
    # Red is a red triangle: colour and shape, for colour-blind viewers too.
    assert marker.find_element(By.TAG_NAME, "polygon").get_attribute("fill").lower() == "#ff3b30"
    assert "gd-pulse" in marker.find_element(By.XPATH, "..").get_attribute("class")
    WebDriverWait(browser, 2).until(
        lambda d: int(d.find_element(By.ID, "kpi-open-red").text.replace(",", "")) == red_before + 1)
    # Its grid turns red (restyled through hideout; the grid GeoJSON is not reloaded).
    assert len(browser.find_elements(By.CSS_SELECTOR, "path.gd-grid-r")) == 1
    ticker = browser.find_element(By.CSS_SELECTOR, f'#incident-ticker [data-incident="{iid}"]')
    assert "测试：商户违规使用明火" in ticker.text


def test_text_from_reports_stays_text(browser, live_server):
    evil = '<img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>'
    res = live_server.post_report(report(description=evil, category="garbage"))
    iid = res.json()["id"]
    open_screen(browser, live_server.url + "/screen")
    WebDriverWait(browser, 5).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, f'#incident-ticker [data-incident="{iid}"]'))
    assert browser.title != "pwned"
    assert evil in browser.find_element(By.ID, "incident-ticker").text


def test_camera_tiles_show_images(browser, live_server):
    open_screen(browser, live_server.url + "/screen/331004103")
    WebDriverWait(browser, 20).until(lambda d: d.execute_script(
        "const imgs = document.querySelectorAll('#camera-wall img');"
        "return imgs.length > 0 && Array.from(imgs).every(i => i.complete && i.naturalWidth > 0);"))
    tiles = browser.find_elements(By.CSS_SELECTOR, "#camera-wall .sc-cam")
    assert len(tiles) == 9  # 3×3 by default
    assert all(t.get_attribute("data-camera").startswith("CAM-331004103-") for t in tiles)
    first = browser.find_element(By.CSS_SELECTOR, "#camera-wall img").get_attribute("src")
    WebDriverWait(browser, 10).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "#camera-wall img").get_attribute("src") != first)


def test_indicator_goes_stale_without_redis_and_recovers(browser_factory, app_factory, tmp_path):
    from dashboard.embedded import EmbeddedRedis

    redis_server = EmbeddedRedis(tmp_path / "redis-outage", persist=True).start()
    try:
        server = app_factory(redis_server.url)
        driver = browser_factory(1920, 1080)
        open_screen(driver, server.url + "/screen")
        redis_server.stop()
        t0 = time.monotonic()
        WebDriverWait(driver, 25, poll_frequency=0.2).until(
            lambda d: "stale" in d.find_element(By.ID, "live-status").get_attribute("class").split())
        print(f"stale after {time.monotonic() - t0:.1f}s without Redis")
        assert driver.find_element(By.ID, "live-status").text == "数据中断"
        redis_server.start()
        t1 = time.monotonic()
        wait_live(driver, timeout=30)
        print(f"live again {time.monotonic() - t1:.1f}s after Redis came back")
        # Recovered without a reload, and new reports flow again.
        res = server.post_report(report())
        assert res.status_code == 202
        WebDriverWait(driver, 10).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, f'[data-incident="{res.json()["id"]}"]'))
    finally:
        redis_server.stop()


def test_clicking_a_marker_or_its_grid_opens_the_detail_panel(browser, live_server):
    res = live_server.post_report(report(category="dispute", urgency="yellow",
                                         description="测试：邻里纠纷需调解"))
    iid, grid = res.json()["id"], res.json()["grid"]
    open_screen(browser, live_server.url + "/screen/331004103")
    marker = WebDriverWait(browser, 10).until(
        lambda d: d.find_element(By.CSS_SELECTOR, f'#grid-map [data-incident="{iid}"]'))
    marker.find_element(By.XPATH, "..").click()
    panel = WebDriverWait(browser, 10).until(
        lambda d: d.find_element(By.ID, "detail-panel") if "hidden" not in
        d.find_element(By.ID, "detail-panel").get_attribute("class") else None)
    WebDriverWait(browser, 5).until(lambda d: "测试：邻里纠纷需调解" in panel.text)
    assert "矛盾纠纷" in panel.text and "上报" in panel.text          # category and timeline
    assert len(panel.find_elements(By.CSS_SELECTOR, ".sc-detail-cams .sc-cam")) == 4  # nearest cameras
    browser.find_element(By.ID, "detail-close").click()
    WebDriverWait(browser, 5).until(lambda d: "hidden" in d.find_element(By.ID, "detail-panel").get_attribute("class"))
    # The grid's own panel lists its open cases; a case in it opens the case.
    browser.execute_script(
        "const map = document.querySelector('#grid-map');"
        "const paths = Array.from(document.querySelectorAll('path.gd-grid-y'));"
        "paths[0].dispatchEvent(new MouseEvent('click', {bubbles: true, clientX: paths[0].getBoundingClientRect().x + 2, clientY: paths[0].getBoundingClientRect().y + 2}));")
    WebDriverWait(browser, 10).until(lambda d: "hidden" not in d.find_element(By.ID, "detail-panel").get_attribute("class"))
    grid_name = live_server_grid_name(grid)
    WebDriverWait(browser, 5).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "#detail-panel .sc-detail-head").text == grid_name)
    case = browser.find_element(By.CSS_SELECTOR, "#detail-panel button.sc-case")
    assert "测试：邻里纠纷需调解" in case.text
    case.click()
    WebDriverWait(browser, 5).until(lambda d: "矛盾纠纷" in d.find_element(By.CSS_SELECTOR, "#detail-panel .sc-detail-head").text)


def live_server_grid_name(code):
    from dashboard.config import Settings
    from dashboard.geo import Geography
    return Geography(Settings.from_env({})).grids[code].name


def test_english_switch(browser, live_server):
    open_screen(browser, live_server.url + "/screen")
    assert "全区" in browser.find_element(By.CSS_SELECTOR, ".sc-title").text
    browser.find_element(By.ID, "lang-switch").click()
    WebDriverWait(browser, 10).until(lambda d: "District" in d.find_element(By.CSS_SELECTOR, ".sc-title").text)
    wait_live(browser)
    assert browser.find_element(By.ID, "live-status").text == "LIVE"
    assert "Reports today" in browser.find_element(By.CSS_SELECTOR, ".sc-kpis").text
