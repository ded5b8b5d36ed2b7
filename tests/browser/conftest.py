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
from liveapp import LiveServer

from dashboard.embedded import free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def chromium_options(width=1920, height=1080):
    """Debian's Chromium, headless, with the flags this workplace needs."""
    from selenium.webdriver.chrome.options import Options

    opts = Options()
    opts.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-dev-shm-usage", "--disable-quic", "--no-first-run", "--disable-sync",
                "--disable-component-update", f"--window-size={width},{height}", "--lang=zh-CN"):
        opts.add_argument(arg)
    return opts


@pytest.fixture
def browser_factory(tmp_path):
    """``browser_factory(width, height)``: a Chromium whose viewport is exactly that size."""
    if not CHROMIUM or not CHROMEDRIVER:
        pytest.skip("Debian's chromium and chromium-driver are not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    drivers = []

    def make(width=1920, height=1080):
        opts = chromium_options(width, height)
        opts.add_argument(f"--user-data-dir={tmp_path / f'chrome-profile-{len(drivers)}'}")
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        driver.set_page_load_timeout(30)
        # The viewport exactly at the wall's resolution, whatever the window decorations.
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        drivers.append(driver)
        return driver

    yield make
    for d in drivers:
        d.quit()


@pytest.fixture
def browser(browser_factory):
    return browser_factory(1920, 1080)


def _start_app(tmp_path, redis_url, **extra_env) -> LiveServer:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "DATABASE_"))}
    env.update(REDIS_URL=redis_url, DATABASE_URL=f"sqlite:///{tmp_path / 'app.sqlite3'}",
               AUTO_MIGRATE="1", RUN_PERSISTER="1", SIMULATOR="0", PORT=str(port),
               INSTANCE_DIR=str(tmp_path / "instance"))
    env.update(extra_env)
    log_path = tmp_path / f"app-{port}.log"
    log = open(log_path, "w")
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
            raise RuntimeError("app did not start:\n" + log_path.read_text())
        time.sleep(0.2)
    server = LiveServer(url, proc, log_path, env["DATABASE_URL"], Path(env["INSTANCE_DIR"]))
    server.redis_url = redis_url
    server._log = log
    return server


def _stop_app(server: LiveServer) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.proc.kill()
    server._log.close()


@pytest.fixture
def app_factory(tmp_path):
    """``app_factory(redis_url, **env)``: ``python app.py`` with its own SQLite file, a
    persister thread and no simulator (the test decides what happens)."""
    started = []

    def start(redis_url, **env):
        server = _start_app(tmp_path, redis_url, **env)
        started.append(server)
        return server

    yield start
    for server in started:
        _stop_app(server)


@pytest.fixture
def live_server(app_factory, redis_url):
    return app_factory(redis_url)
