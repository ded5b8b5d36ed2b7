"""Sign-in, town scope and the kiosk link in real headless Chromium.

- a town operator signs in through the form and sees only that town: the console's list, its
  town filter, the big screen (sent to its own town), the ticker and the map's markers;
- another town's screen answers "not allowed";
- a kiosk link opens the big screen without a password, and stops working once revoked;
- a wrong password is refused, repeated failures make the account wait, sign-out ends the session.
"""
from __future__ import annotations

import json
import time

import pytest
from liveapp import PASSWORD, visit
from selenium.webdriver.common.by import By
from test_screen import ARTIFACTS, WebDriverWait, open_screen, report

pytestmark = pytest.mark.browser

JINQING, XINQIAO_TOWN = "331004106", "331004103"


def grid_point(server, town):
    from dashboard.config import Settings
    from dashboard.geo.geography import Geography

    geo = Geography(Settings())
    g = next(g for g in geo.grids.values() if g.town_code == town)
    return g.lat, g.lon


def post(server, town, description):
    lat, lon = grid_point(server, town)
    res = server.post_report(report(description=description, lat=lat, lon=lon))
    assert res.status_code == 202, res.text
    return res.json()["id"]


def sign_in_form(driver, server, username, password):
    """Submit the sign-in form and wait until the browser has left the page it was on."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait as PlainWait

    driver.get(server.url + "/login")
    driver.find_element(By.ID, "login-username").send_keys(username)
    driver.find_element(By.ID, "login-password").send_keys(password)
    driver.execute_script("window.__before_submit = true;")  # gone once the next page has loaded
    driver.find_element(By.ID, "login-submit").click()
    PlainWait(driver, 15, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.execute_script("return document.readyState === 'complete' && !window.__before_submit;"))


def test_town_operator_sees_only_its_town(browser, live_server):
    own = post(live_server, JINQING, "测试：金清镇的案件")
    other = post(live_server, XINQIAO_TOWN, "测试：新桥镇的案件")
    live_server.user("jq", "operator", town=JINQING)
    sign_in_form(browser, live_server, "jq", PASSWORD)
    WebDriverWait(browser, 15).until(lambda d: d.current_url.endswith("/console"))
    # the case list: this town's case, not the other town's
    WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, f'[row-id="{own}"]'))
    assert not browser.find_elements(By.CSS_SELECTOR, f'[row-id="{other}"]')
    towns = {c.text for c in browser.find_elements(By.CSS_SELECTOR, '.ag-row [col-id="town"]')}
    assert towns == {"金清镇"}, towns
    assert "金清镇" in browser.find_element(By.ID, "f-town").text
    assert "jq" in browser.find_element(By.ID, "user-bar").text
    browser.save_screenshot(str(ARTIFACTS / "signin-operator-console.png"))

    # the big screen: /screen sends the operator to its own town's screen
    open_screen(browser, live_server.url + "/screen")
    assert browser.current_url.split("?")[0].endswith(f"/screen/{JINQING}")
    assert "金清镇" in browser.find_element(By.CLASS_NAME, "sc-scope").text
    WebDriverWait(browser, 15).until(
        lambda d: "金清镇的案件" in d.find_element(By.ID, "incident-ticker").text)
    assert "新桥镇的案件" not in browser.find_element(By.ID, "incident-ticker").text
    # the markers the map loaded are this town's only
    ids = browser.execute_script("""
        const out = [];
        for (const r of performance.getEntriesByType('resource'))
            if (r.name.includes('markers.geojson')) out.push(r.name);
        return out;""")
    assert ids and all(f"town={JINQING}" in u for u in ids), ids
    # (the map loads the clustered layer; without layer=clustered the same URL gives every case)
    markers = json.loads(browser.execute_script(
        "const x = new XMLHttpRequest(); x.open('GET', arguments[0], false); x.send(); return x.responseText;",
        ids[-1].replace("&layer=clustered", "")))
    marker_ids = {f["properties"]["id"] for f in markers["features"]}
    assert own in marker_ids and other not in marker_ids
    assert not browser.find_elements(By.CSS_SELECTOR, f'#grid-map [data-incident="{other}"]')
    # another town's screen: not allowed, nothing of it shown
    browser.get(live_server.url + f"/screen/{XINQIAO_TOWN}")
    assert browser.find_element(By.ID, "denied").is_displayed()
    assert "新桥镇的案件" not in browser.page_source
    status = browser.execute_script(
        "const x = new XMLHttpRequest(); x.open('GET', arguments[0], false); x.send(); return x.status;",
        f"/api/v1/live/markers.geojson?town={XINQIAO_TOWN}")
    assert status == 403


def test_kiosk_link_opens_the_big_screen_without_a_password(browser, live_server):
    post(live_server, XINQIAO_TOWN, "测试：新桥镇大屏")
    kid, token = live_server.accounts.create_kiosk(XINQIAO_TOWN, name="新桥镇指挥中心大屏")
    open_screen(browser, live_server.url + f"/kiosk/{token}")
    assert "/login" not in browser.current_url
    assert browser.current_url.split("?")[0].endswith(f"/screen/{XINQIAO_TOWN}")
    assert "新桥镇" in browser.find_element(By.CLASS_NAME, "sc-scope").text
    WebDriverWait(browser, 15).until(lambda d: "新桥镇大屏" in d.find_element(By.ID, "incident-ticker").text)
    assert not browser.find_elements(By.ID, "logout")  # a wall has no one to sign out
    browser.save_screenshot(str(ARTIFACTS / "kiosk-screen.png"))
    # read-only: the console is not for a kiosk
    browser.get(live_server.url + "/console")
    assert browser.find_element(By.ID, "denied").is_displayed()
    # revoked: the running wall says so within seconds (not a plain outage), dims, and the link
    # no longer works
    open_screen(browser, live_server.url + f"/screen/{XINQIAO_TOWN}")
    live_server.accounts.revoke_key(kid)
    WebDriverWait(browser, 30).until(
        lambda d: "revoked" in d.find_element(By.ID, "live-status").get_attribute("class").split())
    assert browser.find_element(By.ID, "live-status").text == "大屏链接已撤销"
    assert "已被撤销" in browser.find_element(By.ID, "wall-notice").text
    assert "sc-wall-stale" in browser.find_element(By.ID, "screen-root").get_attribute("class")
    browser.save_screenshot(str(ARTIFACTS / "kiosk-revoked.png"))
    browser.get(live_server.url + f"/kiosk/{token}")
    assert browser.find_element(By.ID, "denied").is_displayed()
    browser.get(live_server.url + f"/screen/{XINQIAO_TOWN}")
    assert "/login" in browser.current_url


def test_wrong_password_backoff_and_sign_out(browser, live_server):
    live_server.user("leader")
    sign_in_form(browser, live_server, "leader", "not the password")
    assert "用户名或密码错误" in browser.find_element(By.ID, "login-error").text
    for _ in range(5):
        sign_in_form(browser, live_server, "leader", "still not it")
    # after five failures the account waits, even for the right password
    sign_in_form(browser, live_server, "leader", PASSWORD)
    assert "秒后再试" in browser.find_element(By.ID, "login-error").text
    assert "/login" in browser.current_url
    # once the wait is over (cleared here rather than waited for) the right password works
    import redis
    r = redis.Redis.from_url(live_server.redis_url)
    r.delete("auth:fail:leader", "auth:fail:leader:at")
    sign_in_form(browser, live_server, "leader", PASSWORD)
    WebDriverWait(browser, 15).until(lambda d: "/login" not in d.current_url)
    cookie = browser.get_cookie("griddash_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    visit(browser, live_server.url + "/console")
    WebDriverWait(browser, 15).until(lambda d: d.find_elements(By.ID, "logout"))
    browser.find_element(By.ID, "logout").click()
    WebDriverWait(browser, 10).until(lambda d: "/login" in d.current_url)
    # Back does not show the signed-out console from the browser's cache (Cache-Control: no-store)
    browser.back()
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.ID, "login-username"))
    assert not browser.find_elements(By.ID, "case-grid")
    browser.get(live_server.url + "/screen")
    assert "/login" in browser.current_url
    time.sleep(0.1)
