"""The one cache rule (dashboard/cache.py): one computation per key at a time, keys
independent of each other, values fresh for ``ttl`` (+ ``grace`` while one recomputes),
unused keys dropped, a bounded number of keys."""
from __future__ import annotations

import threading
import time

import pytest

from dashboard.cache import SharedCache


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_a_value_is_computed_once_per_ttl():
    clock, calls = Clock(), []
    cache = SharedCache(5.0, clock=clock)
    assert cache.get("k", lambda: calls.append(1) or len(calls)) == 1
    clock.t += 4.9
    assert cache.get("k", lambda: calls.append(1) or len(calls)) == 1
    clock.t += 0.2
    assert cache.get("k", lambda: calls.append(1) or len(calls)) == 2
    assert cache.computations == 2


def test_callers_of_one_key_share_one_computation_and_other_keys_do_not_wait():
    cache = SharedCache(60.0)
    started, release, calls = threading.Event(), threading.Event(), []

    def slow():
        calls.append("slow")
        started.set()
        release.wait(5)
        return "slow value"

    answers = []
    threads = [threading.Thread(target=lambda: answers.append(cache.get("slow", slow))) for _ in range(8)]
    for th in threads:
        th.start()
    assert started.wait(5)
    t0 = time.monotonic()
    assert cache.get("fast", lambda: "fast value") == "fast value"  # not held up by the slow key
    assert time.monotonic() - t0 < 1.0
    release.set()
    for th in threads:
        th.join(5)
    assert answers == ["slow value"] * 8 and calls == ["slow"]


def test_a_failure_reaches_its_waiters_and_keeps_the_old_value_for_the_next_try():
    clock = Clock()
    cache = SharedCache(1.0, clock=clock)
    assert cache.get("k", lambda: "old") == "old"
    clock.t += 2

    def broken():
        raise ConnectionError("database away")

    with pytest.raises(ConnectionError):
        cache.get("k", broken)
    assert cache.get("k", lambda: "new") == "new"


def test_within_grace_a_stale_value_is_answered_while_another_caller_recomputes():
    clock = Clock()
    cache = SharedCache(1.0, grace=1.0, clock=clock)
    cache.get("k", lambda: "old")
    clock.t += 1.5
    inside, release = threading.Event(), threading.Event()

    def recompute():
        inside.set()
        release.wait(5)
        return "new"

    th = threading.Thread(target=lambda: cache.get("k", recompute))
    th.start()
    assert inside.wait(5)
    assert cache.get("k", lambda: "never") == "old"   # stale but within ttl + grace
    release.set()
    th.join(5)
    assert cache.get("k", lambda: "never") == "new"


def test_unused_keys_go_and_the_number_of_keys_is_bounded():
    clock = Clock()
    cache = SharedCache(idle=10.0, maxsize=8, clock=clock)
    for i in range(8):
        cache.get(i, lambda i=i: i)
    assert len(cache) == 8
    cache.get(8, lambda: 8)
    assert len(cache) <= 8 and cache.get(8, lambda: "x") == 8
    clock.t += 11
    cache.get("new", lambda: 0)
    assert len(cache) == 1
    cache.clear()
    assert len(cache) == 0 and cache.get("new", lambda: 1) == 1
