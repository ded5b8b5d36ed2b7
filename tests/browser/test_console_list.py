"""The console as a duty operator uses it, in real headless Chromium: readable (computed contrast of
every visible text), in one language, a list that sorts by meaning and holds still, search, the
routing table's proposals, the red alarm, confirmations, and the keyboard."""
from __future__ import annotations

import re
import time

import pytest
from liveapp import visit
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from test_console import buttons, case_of, choose, click_action, open_case, press, timeline
from test_screen import ARTIFACTS, WebDriverWait, report

from dashboard.config import Settings
from dashboard.core.domain import URGENCY_RANK
from dashboard.core.routing import propose, routing
from dashboard.geo.geography import Geography

pytestmark = pytest.mark.browser

# Every visible text of the page: its colour against the background it is drawn on (the first
# opaque background up the tree, alpha blended), as WCAG 2 computes contrast.
CONTRAST_JS = r"""
function parse(c) { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return null;
  const p = m[1].split(/[ ,\/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; }
function blend(top, under) { const a = top[3]; return [0, 1, 2].map(i => top[i] * a + under[i] * (1 - a)).concat([1]); }
function background(el) {
  const layers = [];
  for (let e = el; e; e = e.parentElement) {
    const c = parse(getComputedStyle(e).backgroundColor);
    if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
  }
  let bg = [11, 20, 32, 1];
  for (let i = layers.length - 1; i >= 0; i--) bg = blend(layers[i], bg);
  return bg;
}
function lum(c) { const v = c.slice(0, 3).map(x => { x /= 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); });
  return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; }
function ratio(a, b) { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); }
function visible(el) { const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
  return r.width > 1 && r.height > 1 && s.visibility !== "hidden" && Number(s.opacity) > 0.05 &&
    r.bottom > 0 && r.top < innerHeight && r.right > 0 && r.left < innerWidth; }
function label(el) { return el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
  (typeof el.className === "string" && el.className ? "." + el.className.trim().split(/\s+/).slice(0, 2).join(".") : ""); }
const out = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
const seen = new Set();
for (let n = walker.nextNode(); n; n = walker.nextNode()) {
  const text = n.textContent.trim(); const el = n.parentElement;
  if (!text || !el || seen.has(el) || !visible(el) || el.closest(".leaflet-container")) continue;
  seen.add(el);
  const s = getComputedStyle(el); let fg = parse(s.color); const bg = background(el);
  fg = blend(fg, bg); out.push({text: text.slice(0, 40), where: label(el), ratio: ratio(fg, bg),
                                english: el.closest(".ag-cell, .user-name, .cn-lang, .cn-case-id, .cn-key") ? false : /[A-Za-z]{3,}/.test(text)});
}
for (const el of document.querySelectorAll("input[placeholder], textarea[placeholder]")) {
  if (el.value || !visible(el)) continue;
  const fg = blend(parse(getComputedStyle(el, "::placeholder").color), background(el));
  out.push({text: el.placeholder.slice(0, 40), where: label(el) + "::placeholder", ratio: ratio(fg, background(el)),
            english: /[A-Za-z]{3,}/.test(el.placeholder)});
}
return out;
"""


def texts(driver):
    return driver.execute_script(CONTRAST_JS)


def problems(found, lang="zh"):
    low = [f"{x['where']} {x['text']!r} {x['ratio']:.2f}:1" for x in found if x["ratio"] < 4.5]
    english = [f"{x['where']} {x['text']!r}" for x in found if lang == "zh" and x["english"]]
    return low, english


@pytest.fixture
def town(live_server):
    """新桥镇, where the test reports lie, and a duty operator of it."""
    first = live_server.post_report(report(category="garbage", description="测试：初始事件")).json()["id"]
    WebDriverWait(None, 15).until(lambda _: live_server.session.get(
        f"{live_server.url}/api/v1/incidents/{first}", timeout=5).ok)
    code = case_of(live_server, first)["town_code"]
    live_server.user("duty", "operator", town=code)
    return code


def wait_rows(driver, n=1):
    return WebDriverWait(driver, 20).until(
        lambda d: (rows := d.find_elements(By.CSS_SELECTOR, "#case-grid .ag-center-cols-container .ag-row[row-id]"))
        and len(rows) >= n and rows)


def column(driver, col):
    """The column's texts in the order the rows are shown."""
    rows = driver.find_elements(By.CSS_SELECTOR, "#case-grid .ag-center-cols-container .ag-row[row-id]")
    rows.sort(key=lambda r: int(r.get_attribute("row-index")))
    return [r.find_element(By.CSS_SELECTOR, f'[col-id="{col}"]').text for r in rows]


def stored(live_server, iid):
    WebDriverWait(None, 15).until(lambda _: live_server.session.get(
        f"{live_server.url}/api/v1/incidents/{iid}", timeout=5).ok)
    return iid


def test_every_text_is_readable_and_in_chinese(browser, live_server, town):
    for cat, text in (("fire_hazard", "测试：红色"), ("dispute", "测试：黄色"), ("garbage", "测试：绿色")):
        stored(live_server, live_server.post_report(report(category=cat, description=text)).json()["id"])
    visit(browser, live_server.url + "/console", username="duty")
    wait_rows(browser, 4)
    low, english = problems(texts(browser))
    # a filter's list open: its options too
    browser.find_element(By.ID, "f-status").click()
    WebDriverWait(browser, 5).until(lambda d: d.find_elements(By.CSS_SELECTOR, '[role="option"]'))
    l2, e2 = problems(texts(browser))
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
    # the case page of a red case, its steps and inputs
    rid = browser.find_elements(By.CSS_SELECTOR, "#case-grid .ag-row[row-id]")[0].get_attribute("row-id")
    open_case(browser, rid, "测试")
    WebDriverWait(browser, 10).until(lambda d: buttons(d))
    l3, e3 = problems(texts(browser))
    checked = len(texts(browser))
    assert checked > 40
    assert not (low + l2 + l3), "texts under 4.5:1:\n" + "\n".join(low + l2 + l3)
    assert not (english + e2 + e3), "English on the Chinese page:\n" + "\n".join(english + e2 + e3)
    # the same for the English page: every text readable
    visit(browser, live_server.url + "/console?lang=en", username="duty")
    wait_rows(browser, 4)
    low, _ = problems(texts(browser), "en")
    assert not low, "\n".join(low)


def test_sorting_search_total_and_a_list_that_holds_still(browser, live_server, town):
    made = {}
    for cat, text in (("garbage", "测试：绿一"), ("fire_hazard", "测试：红一"), ("dispute", "测试：黄一"),
                      ("garbage", "测试：绿二"), ("fire_hazard", "测试：红二 路灯杆"), ("dispute", "测试：黄二")):
        made[text] = stored(live_server, live_server.post_report(report(category=cat, description=text)).json()["id"])
    visit(browser, live_server.url + "/console", username="duty")
    wait_rows(browser, 7)
    assert re.fullmatch(r"共 7 件 · 截至 \d\d:\d\d:\d\d", browser.find_element(By.ID, "list-total").text)
    # 紧急程度 by rank, not by name: every red first, then yellow, then green
    header = browser.find_element(By.CSS_SELECTOR, '#case-grid .ag-header-cell[col-id="urgency"]')
    header.click()  # ascending: routine first
    header.click()  # descending: urgent first
    rank = {"紧急": 3, "较急": 2, "一般": 1}
    WebDriverWait(browser, 10).until(lambda d: (c := column(d, "urgency")) and c[0].endswith("紧急"))
    ranks = [rank[u.split()[-1]] for u in column(browser, "urgency")]
    assert ranks == sorted(ranks, reverse=True) and set(ranks) == set(URGENCY_RANK.values())
    # 时限 by time: the full deadline is shown and ascends
    browser.find_element(By.CSS_SELECTOR, '#case-grid .ag-header-cell[col-id="due"]').click()
    def dues(d):
        return [m.group(0) for s in column(d, "due") if (m := re.search(r"\d\d-\d\d \d\d:\d\d", s))]
    WebDriverWait(browser, 10).until(lambda d: len(x := dues(d)) == 7 and x == sorted(x) and len(set(x)) > 1)

    # search: a word of a description, then a case number's first digits
    box = browser.find_element(By.ID, "f-search")
    box.send_keys("路灯杆", Keys.ENTER)
    WebDriverWait(browser, 10).until(lambda d: column(d, "description") == ["测试：红二 路灯杆"])
    assert browser.find_element(By.ID, "list-total").text.startswith("共 1 件 · ")
    box.clear()
    short = made["测试：黄一"].replace("-", "")[:6]
    box.send_keys(short, Keys.ENTER)
    WebDriverWait(browser, 10).until(lambda d: column(d, "description") == ["测试：黄一"])
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.BACKSPACE, Keys.ENTER)
    wait_rows(browser, 7)

    # a case selected; a new case arrives: the row stays where it is, the bar counts it
    browser.find_element(By.CSS_SELECTOR, '#case-grid .ag-header-cell[col-id="reported"]').click()
    WebDriverWait(browser, 10).until(lambda d: len(column(d, "description")) == 7)
    target = made["测试：绿二"]
    open_case(browser, target, "测试：绿二")
    row = browser.find_element(By.CSS_SELECTOR, f'#case-grid .ag-row[row-id="{target}"]')
    before = (row.get_attribute("row-index"), row.location["y"])
    new = stored(live_server, live_server.post_report(report(category="dispute", description="测试：新来的")).json()["id"])
    bar = WebDriverWait(browser, 15).until(lambda d: (b := d.find_element(By.ID, "new-bar")).is_displayed() and b)
    assert bar.text == "1 条新事件，点击插入"
    time.sleep(3.5)  # a refresh of the page's other parts meanwhile does not move the list either
    row = browser.find_element(By.CSS_SELECTOR, f'#case-grid .ag-row[row-id="{target}"]')
    assert (row.get_attribute("row-index"), row.location["y"]) == before
    assert not browser.find_elements(By.CSS_SELECTOR, f'#case-grid .ag-row[row-id="{new}"]')
    bar.click()
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, f'#case-grid .ag-row[row-id="{new}"]'))
    assert browser.find_element(By.ID, "list-total").text.startswith("共 8 件 · ")
    assert not browser.find_element(By.ID, "new-bar").is_displayed()


def test_routing_table_proposes_the_department(browser, live_server, town):
    geo = Geography(Settings.from_env({}))
    # a town with its own department for a category
    (o_cat, o_town), o_dept = next(iter(routing().overrides.items()))
    grid = next(g for g in geo.grids.values() if g.town_code == o_town)
    cases = [("fire_hazard", report(category="fire_hazard", description="测试：流转一")),
             ("dispute", report(category="dispute", description="测试：流转二")),
             ("road_damage", report(category="road_damage", description="测试：流转三")),
             (o_cat, report(category=o_cat, description="测试：本镇另有部门",
                                        lat=grid.lat, lon=grid.lon))]
    ids = [stored(live_server, live_server.post_report(body).json()["id"]) for _, body in cases]
    visit(browser, live_server.url + "/console")  # an administrator: every town
    wait_rows(browser, 5)
    seen = []
    for iid, (cat, body) in zip(ids, cases):
        open_case(browser, iid, body["description"])
        want = propose(cat, case_of(live_server, iid)["town_code"])
        WebDriverWait(browser, 10).until(lambda d: want in d.find_element(By.ID, "case-dept").text)
        seen.append(want)
    assert len(set(seen[:3])) == 3                       # three categories, three departments
    assert seen[3] == o_dept != propose(o_cat, None)   # the town's own wins
    # 流转 without a reason is refused, with the reason it moves the case to another department
    click_action(browser, "受理")
    press(browser, "流转")
    WebDriverWait(browser, 10).until(lambda d: "流转需要填写" in d.find_element(By.ID, "case-result").text)
    assert [e["type"] for e in case_of(live_server, ids[3])["events"]] == ["reported", "accepted"]
    choose(browser, "case-dept", "住建局")
    browser.find_element(By.ID, "case-note").send_keys("涉及厂房排污管道，转住建局")
    click_action(browser, "流转")
    WebDriverWait(browser, 15).until(lambda d: "流转" in timeline(d))
    routed = case_of(live_server, ids[3])["events"][-1]
    assert routed["type"] == "routed" and routed["data"]["department"] == "住建局"
    assert routed["note"] == "涉及厂房排污管道，转住建局"


def test_red_alarm_keyboard_and_confirmation(browser, live_server, town):
    visit(browser, live_server.url + "/console", username="duty")
    wait_rows(browser, 1)
    assert not browser.find_element(By.ID, "console-alarm").is_displayed()
    red = stored(live_server, live_server.post_report(report(description="测试：新的红色事件")).json()["id"])
    alarm = WebDriverWait(browser, 15).until(lambda d: (a := d.find_element(By.ID, "console-alarm")).is_displayed() and a)
    assert "红色事件待受理 1 件" in alarm.text and "消防安全隐患" in alarm.text
    browser.find_element(By.ID, "new-bar").click()
    wait_rows(browser, 2)

    # from the top of the page, Tab reaches the first case, Enter opens it, Tab reaches its steps
    browser.execute_script("document.activeElement.blur(); window.scrollTo(0, 0);")
    active = lambda d: d.switch_to.active_element  # noqa: E731
    for steps in range(1, 30):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        el = active(browser)
        if el.find_elements(By.XPATH, "ancestor-or-self::div[@row-index='0']"):
            break
    else:
        pytest.fail("Tab never reached the first case")
    assert steps <= 12, steps
    el.send_keys(Keys.ENTER)
    WebDriverWait(browser, 10).until(lambda d: "测试：新的红色事件" in d.find_element(By.ID, "case-detail").text)
    WebDriverWait(browser, 10).until(lambda d: buttons(d))
    for more in range(1, 15):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        if active(browser).find_elements(By.XPATH, "ancestor::div[@id='case-buttons']"):
            break
    else:
        pytest.fail("Tab never reached the case's steps")
    assert more <= 6, more
    assert active(browser).find_element(By.CSS_SELECTOR, ".cn-act").text == "受理"

    # the step's key, outside a text field: A accepts; the alarm ends with the acceptance
    browser.execute_script("document.activeElement.blur()")
    ActionChains(browser).send_keys("a").perform()
    WebDriverWait(browser, 10).until(lambda d: "受理" in timeline(d))
    WebDriverWait(browser, 15).until(lambda d: not d.find_element(By.ID, "console-alarm").is_displayed())

    # 退回 asks first; 取消 does nothing
    api = f"{live_server.url}/api/v1/incidents/{red}/actions"
    assert live_server.session.post(api, json={"action": "assign", "expected_version": 2,
                                               "department": "消防救援大队"}, timeout=10).ok
    WebDriverWait(browser, 10).until(lambda d: "退回" in buttons(d))
    press(browser, "退回")
    WebDriverWait(browser, 5).until(lambda d: d.find_element(By.ID, "case-confirm").is_displayed())
    assert "确认退回" in browser.find_element(By.ID, "case-confirm").text
    ActionChains(browser).send_keys(Keys.ESCAPE).perform()   # Esc: 取消
    WebDriverWait(browser, 5).until(lambda d: not d.find_element(By.ID, "case-confirm").is_displayed())
    time.sleep(1)
    assert [e["type"] for e in case_of(live_server, red)["events"]] == ["reported", "accepted", "assigned"]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_console_screenshots(browser, live_server, town, lang):
    for cat, text in (("fire_hazard", "测试：仓库电线老化"), ("dispute", "测试：邻里噪音纠纷"),
                      ("garbage", "测试：河道垃圾漂浮")):
        iid = stored(live_server, live_server.post_report(report(category=cat, description=text)).json()["id"])
    visit(browser, live_server.url + f"/console?lang={lang}", username="duty")
    wait_rows(browser, 4)
    open_case(browser, iid, "测试：河道垃圾漂浮")
    WebDriverWait(browser, 10).until(lambda d: buttons(d))
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / f"console-operator-{lang}.png"))
    api = f"{live_server.url}/api/v1/incidents/{iid}/actions"
    assert live_server.session.post(api, json={"action": "accept", "expected_version": 1}, timeout=10).ok
    assert live_server.session.post(api, json={"action": "assign", "expected_version": 2,
                                               "department": "综合行政执法局"}, timeout=10).ok
    live_server.user("zhifa", "handler", department="综合行政执法局")
    browser.delete_all_cookies()
    visit(browser, live_server.url + f"/console?lang={lang}", username="zhifa")
    wait_rows(browser, 1)
    open_case(browser, iid, "测试：河道垃圾漂浮")
    WebDriverWait(browser, 10).until(lambda d: buttons(d))
    browser.save_screenshot(str(ARTIFACTS / f"console-handler-{lang}.png"))


def test_alarm_sound_once_for_each_new_red_case(browser, live_server, town):
    visit(browser, live_server.url + "/console?sound=1", username="duty")
    wait_rows(browser, 1)
    time.sleep(4)  # the alarm's first look: what is there already does not sound
    # count the beeps instead of playing them
    browser.execute_script("window.__beeps = 0; window.griddash.beep = function () { window.__beeps += 1; };")
    stored(live_server, live_server.post_report(report(description="测试：响铃的红色事件")).json()["id"])
    WebDriverWait(browser, 15).until(lambda d: d.execute_script("return window.__beeps") == 1)
    time.sleep(4)  # the same case still waiting: no second beep
    assert browser.execute_script("return window.__beeps") == 1
