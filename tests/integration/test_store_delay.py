"""How far the database lags the stream, as the wall's header tells it (real Redis)."""
from __future__ import annotations

import time

from dashboard.stream.events import store_delay_s


def test_delay_is_the_age_of_the_oldest_unread_entry(r):
    assert store_delay_s(r, "s", "g") == 0.0                        # no stream at all
    r.xgroup_create("s", "g", id="0", mkstream=True)
    assert store_delay_s(r, "s", "g") == 0.0                        # nothing to read
    old_ms = int(time.time() * 1000) - 90_000
    r.xadd("s", {"e": b"1"}, id=f"{old_ms}-0")                      # added 90 s ago, unread
    r.xadd("s", {"e": b"2"})
    assert 89 <= store_delay_s(r, "s", "g") <= 95
    r.xreadgroup("g", "c", {"s": ">"}, count=1)                     # the old one is read
    assert store_delay_s(r, "s", "g") < 5
    r.xreadgroup("g", "c", {"s": ">"})                              # everything read
    assert store_delay_s(r, "s", "g") == 0.0
