"""The operator console in real headless Chromium: accept, assign and close a case; the timeline
shows each step and the big screen's colours follow."""
from __future__ import annotations

import pytest
from liveapp import visit
from PIL import Image
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from test_screen import ARTIFACTS, WebDriverWait, open_screen, report

from dashboard.core.routing import propose

pytestmark = pytest.mark.browser


def buttons(driver):
    """The names of the case's step buttons (each also shows its key)."""
    return [b.text for b in driver.find_elements(By.CSS_SELECTOR, "#case-buttons button .cn-act")]


def press(driver, label):
    def go(d):
        button = next((b for b in d.find_elements(By.CSS_SELECTOR, "#case-buttons button")
                       if b.find_element(By.CSS_SELECTOR, ".cn-act").text == label), None)
        if button is None:
            return False
        button.click()  # a re-render in between raises StaleElement: the wait tries again
        return True
    WebDriverWait(driver, 10).until(go)


def click_action(driver, label, confirm=False):
    press(driver, label)
    if confirm:  # 反馈结案 and 退回 ask first
        WebDriverWait(driver, 15).until(lambda d: d.find_element(By.ID, "case-confirm").is_displayed())
        driver.find_element(By.ID, "case-confirm-yes").click()
    try:  # generous: a loaded machine answers slowly; a refusal shows in the message
        WebDriverWait(driver, 25).until(lambda d: "已提交" in d.find_element(By.ID, "case-result").text
                                        and label in d.find_element(By.ID, "case-result").text)
    except TimeoutException:
        pytest.fail(f"{label}: no confirmation; the page says {driver.find_element(By.ID, 'case-result').text!r}")


def choose(driver, dropdown_id, text):
    """Pick an option of a Dash 4 dropdown (a button that opens a listbox)."""
    driver.find_element(By.ID, dropdown_id).click()
    WebDriverWait(driver, 5).until(
        lambda d: next((o for o in d.find_elements(By.CSS_SELECTOR, '[role="option"]') if o.text == text), None)
    ).click()
    WebDriverWait(driver, 5).until(lambda d: text in d.find_element(By.ID, dropdown_id).text)
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)


def timeline(driver):
    return [li.find_element(By.CSS_SELECTOR, ".sc-tl-type").text
            for li in driver.find_elements(By.CSS_SELECTOR, "#case-timeline li")]


def test_operator_accepts_assigns_and_closes_a_case(browser, live_server, tmp_path):
    res = live_server.post_report(report(description="测试：楼道私拉电线"))
    iid = res.json()["id"]
    open_screen(browser, live_server.url + "/screen")
    WebDriverWait(browser, 5).until(lambda d: d.find_elements(By.CSS_SELECTOR, "path.gd-grid-r"))
    assert browser.find_element(By.ID, "kpi-open-red").text == "1"

    visit(browser, live_server.url + "/console")
    row = WebDriverWait(browser, 15).until(
        lambda d: d.find_element(By.CSS_SELECTOR, f'.ag-row[row-id="{iid}"] [col-id="description"]'))
    row.click()
    WebDriverWait(browser, 10).until(lambda d: "测试：楼道私拉电线" in d.find_element(By.ID, "case-detail").text)
    assert buttons(browser) == ["受理", "督办", "上报上级"]                      # only what the status allows
    assert "受理时限" in browser.find_element(By.ID, "case-sla").text
    # The case's map: its grid and the case itself.
    WebDriverWait(browser, 5).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#case-map path")) >= 2)
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "console-1920x1080.png"))

    click_action(browser, "受理")
    WebDriverWait(browser, 10).until(lambda d: "受理" in timeline(d))
    choose(browser, "case-dept", "消防救援大队")
    click_action(browser, "交办")
    WebDriverWait(browser, 10).until(lambda d: "交办" in timeline(d))
    browser.find_element(By.ID, "case-note").send_keys("已拆除私拉电线")   # 办结 needs its result
    photo = tmp_path / "after.png"    # and may carry photos of it
    Image.new("RGB", (80, 60), (20, 120, 200)).save(photo)
    browser.find_element(By.CSS_SELECTOR, "#case-photos input[type=file]").send_keys(str(photo))
    WebDriverWait(browser, 5).until(lambda d: "after.png" in d.find_element(By.ID, "case-photos-names").text)
    click_action(browser, "办结")
    WebDriverWait(browser, 10).until(lambda d: "办结" in timeline(d))
    click_action(browser, "反馈结案", confirm=True)
    WebDriverWait(browser, 10).until(lambda d: timeline(d) == ["上报", "受理", "交办", "办结", "反馈结案"])
    assert "消防救援大队" in browser.find_element(By.ID, "case-timeline").text
    resolved = next(e for e in events_of(live_server, iid) if e["type"] == "resolved")
    assert resolved["note"] == "已拆除私拉电线" and len(resolved["data"]["photos"]) == 1
    assert browser.find_element(By.ID, "case-photos-names").text == ""   # used by that step only
    assert buttons(browser) == ["重新办理"]

    # The big screen follows: no open red case, no red grid.
    open_screen(browser, live_server.url + "/screen")
    WebDriverWait(browser, 10).until(lambda d: d.find_element(By.ID, "kpi-open-red").text == "0")
    assert browser.find_elements(By.CSS_SELECTOR, "path.gd-grid-r") == []
    assert browser.find_elements(By.CSS_SELECTOR, f'#grid-map [data-incident="{iid}"]') == []


def test_a_stale_page_gets_a_conflict_not_a_double_step(browser, live_server):
    res = live_server.post_report(report(category="garbage", description="测试：垃圾堆放"))
    iid = res.json()["id"]
    visit(browser, live_server.url + "/console")
    WebDriverWait(browser, 15).until(
        lambda d: d.find_element(By.CSS_SELECTOR, f'.ag-row[row-id="{iid}"] [col-id="description"]')).click()
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#case-buttons button"))
    # Another operator accepts the case meanwhile, through the API.
    other = live_server.session.post(f"{live_server.url}/api/v1/incidents/{iid}/actions",
                          json={"action": "accept", "expected_version": 1, "actor": "另一值班员"}, timeout=10)
    assert other.status_code == 202
    press(browser, "受理")
    WebDriverWait(browser, 10).until(lambda d: "已被他人更新" in d.find_element(By.ID, "case-result").text)


def case_of(live_server, iid):
    return live_server.session.get(f"{live_server.url}/api/v1/incidents/{iid}", timeout=10).json()


def events_of(live_server, iid):
    return case_of(live_server, iid)["events"]


def open_case(driver, iid, text):
    WebDriverWait(driver, 15).until(
        lambda d: d.find_element(By.CSS_SELECTOR, f'.ag-row[row-id="{iid}"] [col-id="description"]')).click()
    WebDriverWait(driver, 10).until(lambda d: text in d.find_element(By.ID, "case-detail").text)


def test_inputs_belong_to_one_case_and_a_note_to_one_step(browser, live_server):
    a = live_server.post_report(report(description="测试：甲案")).json()["id"]
    b = live_server.post_report(report(category="garbage", description="测试：乙案")).json()["id"]
    visit(browser, live_server.url + "/console")
    open_case(browser, a, "测试：甲案")
    browser.find_element(By.ID, "case-note").send_keys("甲案的处置意见")
    click_action(browser, "受理")
    # the note was used by that step: the input is empty again, and the next step carries none
    WebDriverWait(browser, 10).until(lambda d: d.find_element(By.ID, "case-note").get_attribute("value") == "")
    choose(browser, "case-dept", "消防救援大队")
    click_action(browser, "交办")
    WebDriverWait(browser, 10).until(lambda d: "交办" in timeline(d))
    steps = {e["type"]: e for e in events_of(live_server, a)}
    assert steps["accepted"]["note"] == "甲案的处置意见" and steps["assigned"]["note"] == ""
    # case B opened: the inputs and the last confirmation are reset; its department is the
    # routing table's proposal for B, not what was chosen for A
    choose(browser, "case-dept", "消防救援大队")       # chosen for A's next step, then B is opened
    browser.find_element(By.ID, "case-note").send_keys("只给甲案")
    open_case(browser, b, "测试：乙案")
    WebDriverWait(browser, 10).until(lambda d: d.find_element(By.ID, "case-note").get_attribute("value") == "")
    proposal_b = propose("garbage", case_of(live_server, b)["town_code"])
    assert proposal_b != "消防救援大队"
    WebDriverWait(browser, 10).until(lambda d: proposal_b in d.find_element(By.ID, "case-dept").text)
    assert browser.find_element(By.ID, "case-result").text == ""
    click_action(browser, "受理")
    click_action(browser, "交办")
    WebDriverWait(browser, 10).until(lambda d: "交办" in timeline(d))
    events = events_of(live_server, b)
    assert [e["type"] for e in events] == ["reported", "accepted", "assigned"]
    assert all(e["note"] in ("", None) for e in events[1:]), events
    assert events[2]["data"]["department"] == proposal_b


def test_a_handler_sees_only_the_controls_it_may_use(browser, live_server):
    iid = live_server.post_report(report(category="garbage", description="测试：承办部门的案件")).json()["id"]
    WebDriverWait(browser, 10).until(   # stored (acting through the API needs the stored case)
        lambda _: live_server.session.get(f"{live_server.url}/api/v1/incidents/{iid}", timeout=5).ok)
    api = f"{live_server.url}/api/v1/incidents/{iid}/actions"
    assert live_server.session.post(api, json={"action": "accept", "expected_version": 1}, timeout=10).ok
    assert live_server.session.post(api, json={"action": "assign", "expected_version": 2,
                                               "department": "综合行政执法局"}, timeout=10).ok
    live_server.user("chengguan", "handler", department="综合行政执法局")
    visit(browser, live_server.url + "/console", username="chengguan")
    open_case(browser, iid, "测试：承办部门的案件")
    WebDriverWait(browser, 10).until(lambda d: buttons(d) == ["退回", "开始办理", "办结"])
    # no department, handler, level or bulk assign: a handler may only start, resolve and return
    for el_id in ("case-assign-inputs", "case-level-input"):
        assert not browser.find_element(By.ID, el_id).is_displayed(), el_id
    assert not browser.find_element(By.CSS_SELECTOR, ".cn-bulk").is_displayed()
    assert browser.find_element(By.ID, "case-note").is_displayed()
    assert "附近监控" not in browser.find_element(By.ID, "case-detail").text   # no cameras, no empty heading
