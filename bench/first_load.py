"""First-load bytes of pages in headless Chromium: requests, bytes on the wire, decoded bytes.

    .venv/bin/python bench/first_load.py [--url http://127.0.0.1:8050] [--pages /screen /console]
                                         [--username admin] [--password P | --instance DIR]
                                         [--seconds 10] [--screenshots DIR] [--json PATH]

Measures an app that is already running (``python app.py``). Debian's Chromium, headless, with
the flags of tests/browser/conftest.py, a fresh profile and the HTTP cache disabled (CDP
``Network.setCacheDisabled``), signs in through /login (the password: ``--password``, else the
``--username`` line of ``INSTANCE_DIR/DEMO-ACCOUNTS.txt``, INSTANCE_DIR from ``--instance``, the
environment or ``instance/``), then opens each page in turn and reads the Resource Timing API
after ``--seconds`` (default 10; the resource buffer is enlarged before the page's first script
runs). For every resource that started within that window, and for the page itself:

* requests — how many (the page's own periodic callbacks within the window included);
* transferred — ``transferSize`` (the body as sent, i.e. compressed, plus about 300 bytes of
  headers), summed with the navigation entry's;
* decoded — ``decodedBodySize`` (the body after decompression);

per kind (script, css, xhr/fetch, img, other) and the biggest scripts (``--json``: also every
resource entry). Informational only: nothing is asserted. ``--screenshots DIR`` saves a PNG of each page at the end of its window.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
KIB = 1024

# Before any script of the page: room for every resource entry (the default buffer holds 250).
BUFFER_JS = "performance.setResourceTimingBufferSize(10000);"

ENTRIES_JS = """
const nav = performance.getEntriesByType('navigation')[0];
const res = performance.getEntriesByType('resource').filter(e => e.startTime <= arguments[0]);
const row = e => ({name: e.name, type: e.initiatorType, start: e.startTime,
                   transfer: e.transferSize, encoded: e.encodedBodySize, decoded: e.decodedBodySize});
return {nav: nav ? row(nav) : null, resources: res.map(row), now: performance.now()};
"""


def kind_of(entry: dict) -> str:
    path = urlsplit(entry["name"]).path.lower()
    if entry["type"] == "script" or path.endswith((".js", ".mjs")):
        return "script"
    if path.endswith(".css"):
        return "css"
    if entry["type"] in ("xmlhttprequest", "fetch"):
        return "xhr/fetch"
    if entry["type"] == "img" or path.endswith((".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp")):
        return "img"
    return "other"


def password_from_accounts(instance: Path, username: str) -> str:
    text = (instance / "DEMO-ACCOUNTS.txt").read_text(encoding="utf-8")
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == username:
            return parts[1]
    raise SystemExit(f"no line for {username!r} in {instance / 'DEMO-ACCOUNTS.txt'}")


def make_driver(profile: Path, width: int, height: int):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    if not CHROMIUM or not CHROMEDRIVER:
        raise SystemExit("needs Debian's chromium and chromium-driver")
    opts = Options()
    opts.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-dev-shm-usage", "--disable-quic", "--no-first-run", "--disable-sync",
                "--disable-component-update", f"--window-size={width},{height}", "--lang=zh-CN",
                f"--user-data-dir={profile}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": BUFFER_JS})
    return driver


def sign_in(driver, url: str, username: str, password: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url + "/login")
    driver.find_element(By.ID, "login-username").send_keys(username)
    driver.find_element(By.ID, "login-password").send_keys(password)
    driver.find_element(By.ID, "login-submit").click()
    WebDriverWait(driver, 20).until(lambda d: "/login" not in d.current_url)


def measure(driver, url: str, seconds: float) -> dict:
    driver.get(url)
    if "/login" in driver.current_url:
        raise SystemExit(f"{url}: not signed in (check the password)")
    # The window is counted from the navigation's start (performance time 0).
    while driver.execute_script("return performance.now()") < seconds * 1000:
        time.sleep(0.2)
    data = driver.execute_script(ENTRIES_JS, seconds * 1000)
    nav, resources = data["nav"], data["resources"]
    kinds: dict[str, dict] = {}
    for e in resources:
        k = kinds.setdefault(kind_of(e), {"requests": 0, "transfer": 0, "decoded": 0})
        k["requests"] += 1
        k["transfer"] += e["transfer"]
        k["decoded"] += e["decoded"]
    scripts: dict[str, dict] = {}
    for e in resources:
        if kind_of(e) == "script":
            path = urlsplit(e["name"]).path
            s = scripts.setdefault(path, {"path": path, "transfer": 0, "decoded": 0, "requests": 0})
            s["transfer"] += e["transfer"]
            s["decoded"] += e["decoded"]
            s["requests"] += 1
    return {
        "page": url,
        "window_s": seconds,
        "requests": len(resources) + (1 if nav else 0),
        "transfer": sum(e["transfer"] for e in resources) + (nav["transfer"] if nav else 0),
        "decoded": sum(e["decoded"] for e in resources) + (nav["decoded"] if nav else 0),
        "document": nav,
        "kinds": kinds,
        "scripts": sorted(scripts.values(), key=lambda s: -s["transfer"]),
        "resources": resources,
    }


def kib(n: int) -> str:
    return f"{n / KIB:,.0f}"


def report(r: dict, top: int) -> None:
    print(f"\n{r['page']}  (resources started in the first {r['window_s']:g} s, cache disabled)")
    print(f"  requests {r['requests']:>4}   transferred {kib(r['transfer']):>7} KiB"
          f"   decoded {kib(r['decoded']):>7} KiB")
    for name in ("script", "css", "xhr/fetch", "img", "other"):
        k = r["kinds"].get(name)
        if k:
            print(f"  {name:<10} {k['requests']:>4} requests  {kib(k['transfer']):>7} KiB transferred"
                  f"  {kib(k['decoded']):>7} KiB decoded")
    print("  biggest scripts (KiB transferred / decoded):")
    for s in r["scripts"][:top]:
        print(f"    {kib(s['transfer']):>7} / {kib(s['decoded']):>7}  {s['path']}"
              + (f"  x{s['requests']}" if s["requests"] > 1 else ""))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default="http://127.0.0.1:8050", help="the running app (http://127.0.0.1:8050)")
    ap.add_argument("--pages", nargs="+", default=["/screen", "/console"])
    ap.add_argument("--username", default="admin")
    ap.add_argument("--password", help="default: from INSTANCE_DIR/DEMO-ACCOUNTS.txt")
    ap.add_argument("--instance", type=Path, default=Path(os.environ.get("INSTANCE_DIR", ROOT / "instance")))
    ap.add_argument("--seconds", type=float, default=10.0, help="window per page, from navigation start (10)")
    ap.add_argument("--width", type=int, default=1920)
    ap.add_argument("--height", type=int, default=1080)
    ap.add_argument("--top", type=int, default=8, help="how many scripts to list (8)")
    ap.add_argument("--screenshots", type=Path, help="save a PNG of each page here")
    ap.add_argument("--json", type=Path, help="write the figures to this file")
    args = ap.parse_args(argv)

    url = args.url.rstrip("/")
    password = args.password or password_from_accounts(args.instance, args.username)
    results = []
    with tempfile.TemporaryDirectory(prefix="first-load-") as tmp:
        driver = make_driver(Path(tmp) / "profile", args.width, args.height)
        try:
            sign_in(driver, url, args.username, password)
            for page in args.pages:
                r = measure(driver, url + page, args.seconds)
                results.append(r)
                report(r, args.top)
                if args.screenshots:
                    args.screenshots.mkdir(parents=True, exist_ok=True)
                    png = args.screenshots / ((page.strip("/").replace("/", "_") or "root") + ".png")
                    driver.save_screenshot(str(png))
                    print(f"  screenshot: {png}")
        finally:
            driver.quit()
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
