"""The leaders' view in real headless Chromium: a leader signs in through the form, drills down
district → town → grid by clicking the ranking, changes a filter (the URL follows, the back
button works), exports CSV (only that grid's rows arrive), and the page fits a phone.

The app runs on SQLite (its own file, see conftest.py); the cases are posted through the API
with an administrator's key and stored by the app's persister.
"""
from __future__ import annotations

import csv
import io
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from test_console import choose
from test_screen import ARTIFACTS, WebDriverWait

from layouts.leaders import STABLE_IDS

pytestmark = pytest.mark.browser

TOWN, TOWN_NAME = "331004106", "金清镇"
J1, J2, X1 = "331004106008-01", "331004106008-02", "331004103004-01"
SCRIPT = "<script>alert(1)</script>"
IMG = '<img src=x onerror="window.__xss=1">'
FORMULA = '=HYPERLINK("http://x","y")'
CASES = [  # grid, hours ago, description
    (J1, 2, SCRIPT), (J1, 5, FORMULA), (J1, 30, IMG), (J2, 3, "测试：金清港第2网格的事件"),
    (X1, 4, "测试：新桥镇的事件"), (X1, 50, "测试：新桥镇的另一事件"),
]


def grid_names():
    from dashboard.config import Settings
    from dashboard.geo.geography import Geography

    geo = Geography(Settings.from_env({}))
    return geo, {code: geo.grids[code].name for code in (J1, J2, X1)}


def post_cases(server, geo) -> dict[str, list[str]]:
    """The cases above, posted and stored; {grid: [ids]}."""
    now = datetime.now(timezone.utc)
    ids: dict[str, list[str]] = {}
    for grid, hours, text in CASES:
        g = geo.grids[grid]
        res = server.post_report({"category": "garbage", "description": text, "lat": g.lat, "lon": g.lon,
                                  "grid": grid, "reporter": "浏览器测试网格员",
                                  "reported_at": (now - timedelta(hours=hours)).isoformat()})
        assert res.status_code == 202, res.text
        ids.setdefault(grid, []).append(res.json()["id"])
    deadline = time.monotonic() + 20
    for iid in (i for group in ids.values() for i in group):  # wait for the persister
        while server.session.get(f"{server.url}/api/v1/incidents/{iid}", timeout=5).status_code != 200:
            assert time.monotonic() < deadline, f"case {iid} was not stored"
            time.sleep(0.2)
    return ids


def query(driver) -> dict:
    return {k: v[-1] for k, v in parse_qs(urlsplit(driver.current_url).query).items()}


def crumbs(driver) -> list[str]:
    nav = driver.find_element(By.ID, "ld-breadcrumb")
    return [e.text for e in nav.find_elements(By.CSS_SELECTOR, ".ld-crumb")]


def wait_level(driver, level, names):
    WebDriverWait(driver, 15).until(
        lambda d: d.find_element(By.ID, "ld-breadcrumb").get_attribute("data-level") == level
        and crumbs(d) == names)


def drill(driver, name):
    link = WebDriverWait(driver, 15).until(
        lambda d: next((a for a in d.find_elements(By.CSS_SELECTOR, "#ld-ranking a.ld-drill") if a.text == name),
                       None))
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", link)
    link.click()


def case_ids(driver) -> list[str]:
    return [tr.get_attribute("data-id") for tr in driver.find_elements(By.CSS_SELECTOR, "#ld-cases tbody tr")]


def no_horizontal_scroll(driver) -> list:
    vw, dw, rw, rcw = driver.execute_script(
        "const r = document.querySelector('.ld-root');"
        "return [innerWidth, document.documentElement.scrollWidth, r.scrollWidth, r.clientWidth];")
    assert dw <= vw and rw <= rcw, f"the page scrolls sideways: {(vw, dw, rw, rcw)}"
    return [vw, dw, rw, rcw]


def wait_download(folder, suffix, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [p for p in folder.iterdir() if p.name.endswith(suffix)]
        if done and not [p for p in folder.iterdir() if p.name.endswith(".crdownload")]:
            return done[0]
        time.sleep(0.2)
    raise AssertionError(f"no {suffix} downloaded: {list(folder.iterdir())}")


@pytest.mark.parametrize("db", ["sqlite"])  # the live app runs on its own SQLite file
def test_leader_drills_down_filters_and_exports_csv(browser_factory, live_server, tmp_path, db):
    geo, names = grid_names()
    ids = post_cases(live_server, geo)
    driver = browser_factory(1920, 1080)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})

    # Sign in through the form as a leader: the leader's home page is the leaders' view.
    driver.get(live_server.url + "/leaders")
    assert "/login" in driver.current_url
    live_server.sign_in(driver, "leader", "leader")
    WebDriverWait(driver, 15).until(lambda d: urlsplit(d.current_url).path == "/leaders")
    wait_level(driver, "district", ["全区"])
    assert driver.find_element(By.ID, "ld-kpi-reported").text == "6"

    # District → town: click the town in the ranking.
    drill(driver, TOWN_NAME)
    wait_level(driver, "town", ["全区", TOWN_NAME])
    assert query(driver) == {"town": TOWN, "period": "7d"}
    WebDriverWait(driver, 10).until(lambda d: sorted(case_ids(d)) == sorted(ids[J1] + ids[J2]))
    assert driver.find_element(By.ID, "ld-kpi-reported").text == "4"
    assert [i for i in STABLE_IDS if not driver.find_elements(By.ID, i)] == []
    no_horizontal_scroll(driver)

    # A filter goes into the URL; the back button returns to the previous selection.
    choose(driver, "ld-period", "近30天")
    WebDriverWait(driver, 10).until(lambda d: query(d).get("period") == "30d")
    assert query(driver)["town"] == TOWN
    driver.back()
    WebDriverWait(driver, 10).until(lambda d: query(d) == {"town": TOWN, "period": "7d"})
    WebDriverWait(driver, 10).until(lambda d: "近7天" in d.find_element(By.ID, "ld-period").text)
    wait_level(driver, "town", ["全区", TOWN_NAME])

    # Town → grid.
    drill(driver, names[J1])
    wait_level(driver, "grid", ["全区", TOWN_NAME, names[J1]])
    assert query(driver) == {"town": TOWN, "grid": J1, "period": "7d"}
    WebDriverWait(driver, 10).until(lambda d: sorted(case_ids(d)) == sorted(ids[J1]))
    assert driver.find_element(By.ID, "ld-breadcrumb").text.replace("\n", " ") == f"全区 › {TOWN_NAME} › {names[J1]}"

    # Text from reports stays text: the markup is shown, nothing ran.
    cells = [td.text for td in driver.find_elements(By.CSS_SELECTOR, "#ld-cases td.ld-desc")]
    assert SCRIPT in cells and IMG in cells and FORMULA in cells
    assert driver.execute_script("return window.__xss") is None
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text

    time.sleep(1)  # the trend chart draws
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / "leaders-1920x1080.png"))

    # Export CSV: the grid's cases and nothing else.
    link = driver.find_element(By.ID, "ld-export-csv")
    assert link.get_attribute("href").endswith(f"/leaders/export.csv?town={TOWN}&grid={J1}&period=7d")
    link.click()
    path = wait_download(downloads, ".csv")
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))
    header, body = rows[0], rows[1:]
    assert header[:4] == ["编号", "上报时间", "镇街", "网格"]
    assert sorted(r[0] for r in body) == sorted(ids[J1])
    assert {r[2] for r in body} == {TOWN_NAME} and {r[3] for r in body} == {names[J1]}
    assert "'" + FORMULA in [r[-1] for r in body]          # defused for spreadsheets
    assert urlsplit(driver.current_url).path == "/leaders"  # the download did not leave the page


@pytest.mark.parametrize("db", ["sqlite"])
def test_phone_layout_stacks_without_sideways_scrolling(browser_factory, live_server, db):
    geo, names = grid_names()
    post_cases(live_server, geo)
    driver = browser_factory(390, 844)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True})
    driver.get(live_server.url + f"/leaders?town={TOWN}")
    live_server.sign_in(driver, "leader", "leader")
    WebDriverWait(driver, 15).until(lambda d: query(d).get("town") == TOWN)
    wait_level(driver, "town", ["全区", TOWN_NAME])
    WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#ld-cases tbody tr"))
    time.sleep(1)
    no_horizontal_scroll(driver)
    # KPI cards two a row; panels in one column, each within the screen's width
    kpis = [e.rect for e in driver.find_elements(By.CSS_SELECTOR, ".ld-kpi")]
    assert kpis[0]["y"] == kpis[1]["y"] and kpis[2]["y"] > kpis[0]["y"]
    panels = [e.rect for e in driver.find_elements(By.CSS_SELECTOR, ".ld-panel")]
    assert len({round(r["x"]) for r in panels}) == 1
    assert all(r["x"] >= 0 and r["x"] + r["width"] <= 390 + 1 for r in panels)
    # the ranking fits the screen; the case table scrolls inside its box, not the page
    rank = driver.find_element(By.CSS_SELECTOR, ".ld-ranking-panel .ld-scroll")
    assert driver.execute_script("return arguments[0].scrollWidth <= arguments[0].clientWidth", rank)
    box = driver.find_element(By.CSS_SELECTOR, ".ld-cases-panel .ld-scroll")
    assert driver.execute_script("return arguments[0].scrollWidth > arguments[0].clientWidth", box)
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / "leaders-390x844.png"))
    # further down: the rankings; and the drill-down works with a tap
    driver.execute_script("arguments[0].scrollIntoView()", driver.find_element(By.ID, "ld-ranking"))
    time.sleep(0.3)
    driver.save_screenshot(str(ARTIFACTS / "leaders-390x844-ranking.png"))
    drill(driver, names[J1])
    wait_level(driver, "grid", ["全区", TOWN_NAME, names[J1]])
    no_horizontal_scroll(driver)
