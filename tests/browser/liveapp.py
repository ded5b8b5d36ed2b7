"""The app under test as the browser tests see it: its URL, its database, its accounts."""
from __future__ import annotations

import requests

PASSWORD = "correct horse battery"


class LiveServer:
    """The app in a child process, with its own SQLite file, and the accounts a test needs
    (made directly in that file: the app reads users from the database on every request)."""
    registry: dict[str, "LiveServer"] = {}

    def __init__(self, url, proc, log, db_url, instance_dir):
        self.url, self.proc, self.log = url, proc, log
        self.db_url, self.instance_dir = db_url, instance_dir
        self._accounts = None
        self._session = None
        LiveServer.registry[url] = self

    @property
    def accounts(self):
        if self._accounts is None:
            from dashboard.store.accounts import Accounts
            from dashboard.store.incidents import make_engine
            secret = (self.instance_dir / "secret_key").read_text().strip()
            self._accounts = Accounts(make_engine(self.db_url), secret, ttl=0)
        return self._accounts

    def user(self, username: str, role: str | None = None, **kw) -> str:
        """Make the account if it is new (role defaults to the username); its password."""
        if username not in {u["username"] for u in self.accounts.list_users()}:
            self.accounts.add_user(username, role or username, password=PASSWORD, **kw)
        return PASSWORD

    @property
    def session(self) -> requests.Session:
        """An HTTP session with an administrator's API key (what another system would use)."""
        if self._session is None:
            self.user("admin")
            key = self.accounts.create_key("admin", name="test")[1]
            self._session = requests.Session()
            self._session.headers["Authorization"] = f"Bearer {key}"
        return self._session

    def post_report(self, body):
        return self.session.post(f"{self.url}/api/v1/incidents", json=body, timeout=10)

    def sign_in(self, driver, username: str = "admin", role: str | None = None, **kw) -> None:
        """Sign ``driver`` in through the real form."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        password = self.user(username, role, **kw)
        if "/login" not in driver.current_url:
            driver.get(self.url + "/login")
        driver.find_element(By.ID, "login-username").send_keys(username)
        driver.find_element(By.ID, "login-password").send_keys(password)
        driver.find_element(By.ID, "login-submit").click()
        WebDriverWait(driver, 15).until(lambda d: "/login" not in d.current_url)


def visit(driver, url: str, username: str = "admin") -> None:
    """Open ``url``; when the app asks for a sign-in first, sign in as ``username``."""
    driver.get(url)
    if "/login" in driver.current_url:
        base = url.split("/", 3)
        LiveServer.registry["/".join(base[:3])].sign_in(driver, username)
        if driver.current_url.split("?")[0] != url.split("?")[0]:
            driver.get(url)
