"""Which cameras the command-room wall shows: touring, or following a red case (no Dash code).

The wall tours the scope's cameras page by page. A red case that waits for acceptance (the
``red-alerts`` list of the live callback, most urgent first: overdue, then the longest
waiting) takes the wall: it shows the cameras nearest to that case. The rule that keeps the wall
calm, in one place (:func:`next_state`):

* a followed case holds the wall for at least ``FOLLOW_HOLD_S``; red cases that arrive in the
  meantime do not take it over, they queue;
* the queue is the waiting red cases not yet followed, in the order of ``red-alerts``; a case
  that leaves ``red-alerts`` (accepted) leaves the queue;
* when the hold is over, the first queued case is followed next;
* when nothing is queued, the wall keeps the followed case until it is accepted or until
  ``FOLLOW_MAX_S`` has passed, and then tours again;
* each case is followed once while it waits (a case that has been shown does not take the
  wall again; it may if it leaves ``red-alerts`` and comes back, e.g. re-opened).

So the followed case changes at most once per ``FOLLOW_HOLD_S`` however many red cases arrive.

The state is a small JSON-serialisable dict, kept per viewer in the page's ``follow`` store::

    {"id": str | None,          # the followed case, None when touring
     "lat": float, "lon": float, "label": str,   # of the followed case (WGS84; shown text)
     "since": int,              # epoch ms when the wall began to follow it
     "queue": [str],            # the first QUEUE_KEPT waiting red cases not yet followed,
                                # most urgent first (shown, not read back: the queue is
                                # recomputed from ``alerts`` on every call)
     "queued": int,             # how many wait in the queue
     "done": [str]}             # cases already followed that still wait

The store comes from the browser: :func:`next_state` accepts anything and falls back to a
fresh state for what it cannot read. Positions and labels are taken from ``alerts`` (the live
callback's answer) whenever the case is still listed there.
"""
from __future__ import annotations

import math

__all__ = ["FOLLOW_HOLD_S", "FOLLOW_MAX_S", "empty_state", "following", "next_state"]

FOLLOW_HOLD_S = 60   # a followed case keeps the wall at least this long
FOLLOW_MAX_S = 90    # ... and at most this long when nothing else waits (then: touring)
MAX_IDS = 500        # bound on the ids kept in the state (the browser sends it back every call)
QUEUE_KEPT = 10      # queued ids written into the state, for whoever looks at it


def empty_state() -> dict:
    return {"id": None, "lat": None, "lon": None, "label": "", "since": None, "queue": [], "queued": 0,
            "done": []}


def following(state: dict | None) -> str | None:
    """The id of the case the wall follows, None when touring."""
    return state.get("id") if isinstance(state, dict) else None


def _number(v) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def _ids(v) -> list[str]:
    return [x for x in v if isinstance(x, str)][:MAX_IDS] if isinstance(v, list) else []


def _clean(state) -> dict:
    """A well-formed copy of ``state`` (from the browser: anything may arrive)."""
    out = empty_state()
    if not isinstance(state, dict):
        return out
    out["done"] = _ids(state.get("done"))
    cid, since = state.get("id"), _number(state.get("since"))
    lat, lon = _number(state.get("lat")), _number(state.get("lon"))
    if isinstance(cid, str) and since is not None and lat is not None and lon is not None:
        label = state.get("label")
        out.update(id=cid, lat=lat, lon=lon, since=int(since), label=label if isinstance(label, str) else "")
    return out


def _follow(out: dict, alert: dict, now_ms: int) -> None:
    out.update(id=alert["id"], lat=float(alert["lat"]), lon=float(alert["lon"]),
               label=str(alert.get("label") or ""), since=int(now_ms))


def next_state(state: dict | None, alerts: list[dict] | None, now_ms: int) -> dict:
    """The wall's follow state at ``now_ms`` (epoch ms), given the previous ``state`` (None on a
    fresh page) and the red cases waiting for acceptance ``alerts`` (most urgent first; each
    with at least ``id``, ``lat``, ``lon``, ``label``). Pure: same arguments, same answer."""
    out = _clean(state)
    alerts = [a for a in (alerts or []) if isinstance(a, dict) and isinstance(a.get("id"), str)
              and _number(a.get("lat")) is not None and _number(a.get("lon")) is not None]
    by_id = {a["id"]: a for a in alerts}
    # Forget what no longer waits: an accepted case leaves the queue (and may be followed again
    # if it ever comes back).
    done = [i for i in out["done"] if i in by_id]
    cur = out["id"]
    if cur is not None:
        if cur in by_id:  # fresher position and text than the browser's copy
            a = by_id[cur]
            out.update(lat=float(a["lat"]), lon=float(a["lon"]), label=str(a.get("label") or out["label"]))
            if cur not in done:
                done.append(cur)
        if out["since"] > now_ms:  # a clock from the future: start the hold now
            out["since"] = int(now_ms)
    queue = [a for a in alerts if a["id"] not in done and a["id"] != cur]
    held = cur is not None and now_ms - out["since"] < FOLLOW_HOLD_S * 1000
    if not held:
        if queue:
            nxt = queue.pop(0)
            _follow(out, nxt, now_ms)
            done.append(nxt["id"])
        elif cur is not None and (cur not in by_id or now_ms - out["since"] >= FOLLOW_MAX_S * 1000):
            out.update(id=None, lat=None, lon=None, label="", since=None)  # back to touring
    out["queue"] = [a["id"] for a in queue[:QUEUE_KEPT]]
    out["queued"] = len(queue)
    out["done"] = done[-MAX_IDS:]
    return out
