"""The big screen in real headless Chromium: layout at wall resolutions, live updates,
camera tiles, and the live/stale indicator through a Redis outage."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from liveapp import visit
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait as _Wait

from layouts.screen import STABLE_IDS

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


# Every visible text node of the page with its computed font size, in CSS pixels.
TEXT_SIZES_JS = """
const out = [];
const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
let n;
while ((n = walk.nextNode())) {
    const text = n.textContent.trim();
    const el = n.parentElement;
    if (!text || !el || el.closest('script, style, title, noscript')) continue;
    if (!el.getClientRects().length) continue;                      // display: none
    const cs = getComputedStyle(el);
    if (cs.visibility === 'hidden' || cs.opacity === '0') continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    out.push([text.slice(0, 40), parseFloat(cs.fontSize), el.tagName, el.className && el.className.baseVal !== undefined
              ? el.className.baseVal : el.className]);
}
return out;
"""

# Simulated colour-vision deficiency (Machado et al. 2009, severity 1), applied to the page
# with an SVG colour-matrix filter for the screenshots.
CVD_MATRICES = {
    "deuteranopia": "0.367322 0.860646 -0.227968 0 0  0.280085 0.672501 0.047413 0 0  "
                    "-0.011820 0.042940 0.968881 0 0  0 0 0 1 0",
    "protanopia": "0.152286 1.052583 -0.204868 0 0  0.114503 0.786281 0.099216 0 0  "
                  "-0.003882 -0.048116 1.051998 0 0  0 0 0 1 0",
}
CVD_JS = """
const ns = 'http://www.w3.org/2000/svg';
const svg = document.createElementNS(ns, 'svg');
svg.setAttribute('width', '0'); svg.setAttribute('height', '0'); svg.style.position = 'absolute';
svg.innerHTML = '<filter id="cvd" color-interpolation-filters="linearRGB"><feColorMatrix type="matrix" values="'
                + arguments[0] + '"/></filter>';
document.body.appendChild(svg);
document.documentElement.style.filter = 'url(#cvd)';
"""


@pytest.mark.parametrize("width,height", [(1920, 1080), (3840, 2160)])
def test_screen_fits_the_wall_and_every_text_is_legible_from_five_metres(browser_factory, live_server, width,
                                                                         height):
    live_server.post_report(report())
    live_server.post_report(report(category="garbage", urgency="yellow", description="测试：垃圾未清运"))
    driver = browser_factory(width, height)
    open_screen(driver, live_server.url + "/screen")
    WebDriverWait(driver, 15).until(lambda d: d.find_element(By.ID, "kpi-reports-today").text not in ("", "–"))
    WebDriverWait(driver, 15).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#camera-wall img"))
    WebDriverWait(driver, 15).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#town-ranking .sc-rank-row"))
    WebDriverWait(driver, 15).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#trend-chart .xtick text"))
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
    # Read from five metres: every text on the wall is at least 2 % of the viewport's height
    # (map labels, cluster counts, chart ticks, camera names and the legend included).
    texts = driver.execute_script(TEXT_SIZES_JS)
    assert len(texts) > 80, texts                     # the wall is filled, not empty
    kinds = {t[3] for t in texts}
    assert any("gd-town-label" in str(k) or "sc-cam-name" in str(k) for k in kinds), kinds
    small = [t for t in texts if t[1] < 0.02 * vh - 0.01]
    assert not small, f"text below {0.02 * vh:.1f}px at {width}x{height}: {small[:12]}"
    # Map symbols scale with the wall: a marker is about 2.6 % of the height at both sizes.
    marker = driver.execute_script(
        "const s = document.querySelector('#grid-map .gd-marker svg, #grid-map .gd-cluster div');"
        "return s ? s.getBoundingClientRect().height : 0;")
    assert marker >= 0.025 * vh, marker
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
    if width == 1920:
        for name, matrix in CVD_MATRICES.items():
            driver.execute_script("document.documentElement.style.filter = '';"
                                  "document.querySelectorAll('svg > filter#cvd').forEach(f => f.parentNode.remove());")
            driver.execute_script(CVD_JS, matrix)
            time.sleep(0.3)
            driver.save_screenshot(str(ARTIFACTS / f"screen-{width}x{height}-{name}.png"))


def test_new_red_case_pinned_pulsing_with_alarm_within_2s(browser, live_server):
    # Enough routine cases around that the district zoom draws clusters.
    for i in range(12):
        live_server.post_report(report(category="garbage", urgency="green", description=f"测试：垃圾{i}",
                                       lat=XINQIAO[0] + 0.0004 * i, lon=XINQIAO[1] + 0.0003 * i))
    open_screen(browser, live_server.url + "/screen")
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#grid-map .gd-cluster"))
    red_before = int(browser.find_element(By.ID, "kpi-open-red").text.replace(",", ""))
    assert "hidden" in browser.find_element(By.ID, "alarm-banner").get_attribute("class")
    res = live_server.post_report(report())
    assert res.status_code == 202
    iid = res.json()["id"]
    t0 = time.monotonic()
    WebDriverWait(browser, 2, poll_frequency=0.05).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, f'#grid-map [data-incident="{iid}"]')
        and d.find_elements(By.CSS_SELECTOR, f'#alarm-banner [data-incident="{iid}"]')
        and d.find_elements(By.CSS_SELECTOR, f'#incident-ticker [data-incident="{iid}"]'))
    print(f"red case on the map, in the alarm banner and the ticker after {time.monotonic() - t0:.2f}s")
    marker = browser.find_element(By.CSS_SELECTOR, f'#grid-map [data-incident="{iid}"]')
    icon = marker.find_element(By.XPATH, "..")
    # Its own marker, not inside a cluster, pulsing, above the clusters; red is a triangle in the
    # red of dashboard/core/domain.py (shape and colour, for colour-blind viewers too).
    from dashboard.core.domain import URGENCY_STYLE
    assert marker.find_element(By.TAG_NAME, "polygon").get_attribute("fill").lower() == URGENCY_STYLE["red"]["color"]
    assert {"gd-alert", "gd-pulse"} <= set(icon.get_attribute("class").split())
    assert int(icon.value_of_css_property("z-index")) > max(
        int(c.find_element(By.XPATH, "..").value_of_css_property("z-index") or 0)
        for c in browser.find_elements(By.CSS_SELECTOR, "#grid-map .gd-cluster div"))
    banner = browser.find_element(By.ID, "alarm-banner")
    assert "hidden" not in banner.get_attribute("class")
    text = banner.text
    assert "新桥镇" in text and "消防安全隐患" in text and "红色事件待受理 1" in text
    WebDriverWait(browser, 2).until(
        lambda d: int(d.find_element(By.ID, "kpi-open-red").text.replace(",", "")) == red_before + 1)
    # Its grid turns red (restyled through hideout; the grid GeoJSON is not reloaded): one red
    # grid, though twelve routine cases wait in the same area.
    assert len(browser.find_elements(By.CSS_SELECTOR, "path.gd-grid-r")) == 1
    # The ticker keeps it pinned at the top, above newer routine reports.
    live_server.post_report(report(category="garbage", urgency="green", description="测试：更新的一般事件"))
    WebDriverWait(browser, 5).until(lambda d: "测试：更新的一般事件" in d.find_element(By.ID, "incident-ticker").text)
    first = browser.find_element(By.CSS_SELECTOR, "#incident-ticker .sc-tick")
    assert first.get_attribute("data-incident") == iid and "sc-tick-pinned" in first.get_attribute("class")
    # Accepted: the alarm ends, the marker stops pulsing and joins the others.
    res = live_server.session.post(f"{live_server.url}/api/v1/incidents/{iid}/actions",
                                   json={"action": "accept", "expected_version": 1}, timeout=10)
    assert res.status_code in (200, 202), res.text
    WebDriverWait(browser, 5).until(lambda d: "hidden" in d.find_element(By.ID, "alarm-banner").get_attribute("class"))
    WebDriverWait(browser, 5).until(lambda d: not d.find_elements(By.CSS_SELECTOR, "#grid-map .gd-alert"))
    assert not browser.find_elements(By.CSS_SELECTOR, "path.gd-grid-r")


def test_a_fresh_load_says_connecting_never_stale(browser, live_server):
    live_server.post_report(report())
    visit(browser, live_server.url + "/screen")
    seen = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < 8:
        try:
            seen.append(browser.find_element(By.ID, "live-status").get_attribute("class"))
        except Exception:
            pass
        time.sleep(0.1)
    states = [s.split()[-1] for s in seen if s]
    assert states and "stale" not in states and "revoked" not in states, states
    assert states[-1] == "live", states
    assert "connecting" in states or states[0] == "live"
    assert "hidden" in browser.find_element(By.ID, "wall-notice").get_attribute("class")


def test_town_wall_ranks_its_villages(browser, live_server):
    live_server.post_report(report())
    open_screen(browser, live_server.url + "/screen/331004103")
    rows = WebDriverWait(browser, 15).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#town-ranking .sc-rank-row:not(.sc-rank-head)"))
    assert len(rows) >= 5, [r.text for r in rows]
    assert "村社" in browser.find_element(By.CSS_SELECTOR, "#panel-ranking .sc-panel-title").text
    assert "近30天" in browser.find_element(By.CSS_SELECTOR, "#panel-ranking .sc-panel-title").text
    names = [r.find_element(By.CSS_SELECTOR, ".sc-rank-name").text for r in rows]
    assert all(n and not n.isdigit() for n in names), names
    # every panel states its own "as of"
    for el_id in ("kpi-asof-text", "ranking-asof-text", "trend-asof-text"):
        WebDriverWait(browser, 10).until(lambda d: "截至" in d.find_element(By.ID, el_id).text)


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
        # the whole wall dims and says since when it shows old data
        notice = driver.find_element(By.ID, "wall-notice")
        assert "数据中断" in notice.text and "hidden" not in notice.get_attribute("class")
        assert "sc-wall-stale" in driver.find_element(By.ID, "screen-root").get_attribute("class")
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
    from dashboard.geo.geography import Geography
    return Geography(Settings.from_env({})).grids[code].name


def test_english_switch(browser, live_server):
    open_screen(browser, live_server.url + "/screen")
    assert "全区" in browser.find_element(By.CSS_SELECTOR, ".sc-title").text
    assert browser.execute_script("return document.documentElement.lang") == "zh-CN"
    browser.find_element(By.ID, "lang-switch").click()
    WebDriverWait(browser, 10).until(lambda d: "District" in d.find_element(By.CSS_SELECTOR, ".sc-title").text)
    wait_live(browser)
    assert browser.find_element(By.ID, "live-status").text == "LIVE"
    assert "Reports today" in browser.find_element(By.CSS_SELECTOR, ".sc-kpis").text
    assert browser.execute_script("return document.documentElement.lang") == "en"
    # the English labels fit their places as the Chinese ones do (nothing cut off with "…")
    clipped = browser.execute_script(
        "return Array.from(document.querySelectorAll('.sc-title, .sc-kpi-label, .sc-rank-head span, "
        ".sc-panel-title, .sc-legend-row')).filter(e => e.scrollWidth > e.clientWidth + 1)"
        ".map(e => e.textContent)")
    assert clipped == [], clipped
