"""Browser fixtures: the real app in a child process, and Debian's headless Chromium."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from dashboard.embedded import free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def chromium_options(width=1920, height=1080):
    from selenium.webdriver.chrome.options import Options

    opts = Options()
    opts.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-dev-shm-usage", "--disable-quic", "--no-first-run", "--disable-sync",
                "--disable-component-update", f"--window-size={width},{height}", "--lang=zh-CN"):
        opts.add_argument(arg)
    return opts


@pytest.fixture
def browser(tmp_path):
    if not CHROMIUM or not CHROMEDRIVER:
        pytest.skip("Debian's chromium and chromium-driver are not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = chromium_options()
    opts.add_argument(f"--user-data-dir={tmp_path / 'chrome-profile'}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


class LiveServer:
    def __init__(self, url, proc, log):
        self.url, self.proc, self.log = url, proc, log

    def post_report(self, body):
        return requests.post(f"{self.url}/api/v1/incidents", json=body, timeout=10)


@pytest.fixture
def live_server(tmp_path, redis_url):
    """``python app.py`` with its own SQLite file, the test's Redis, a persister thread and
    no simulator (the test decides what happens)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "DATABASE_"))}
    env.update(REDIS_URL=redis_url, DATABASE_URL=f"sqlite:///{tmp_path / 'app.sqlite3'}",
               AUTO_MIGRATE="1", RUN_PERSISTER="1", SIMULATOR="0", PORT=str(port),
               INSTANCE_DIR=str(tmp_path / "instance"))
    log = open(tmp_path / "app.log", "w")
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("app did not start:\n" + (tmp_path / "app.log").read_text())
        time.sleep(0.2)
    yield LiveServer(url, proc, tmp_path / "app.log")
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
