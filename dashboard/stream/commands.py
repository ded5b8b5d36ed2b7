"""Actions on a case (the closed loop), checked and appended atomically.

An action becomes an event in the same Redis stream as reports. Before it is appended, one Lua
script checks, atomically, that the case exists, that the caller saw its latest version
(``expected_version``; two operators on one case: the second gets a conflict) and that the
transition table (``domain.TRANSITIONS``) allows the action in the case's current status; only
then it appends the event and moves the case's head (version, status) in Redis. The persister
stores and folds the event later; the fold applies the same table, so the stored version
catches up with the head.

The head of a case lives in the hash ``case:<id>`` (``v`` version, ``s`` status). It is
written with the report (``seed_head``) and, for cases that have none in Redis (stored before,
or Redis lost its data), loaded from the database on first use.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

import redis

from dashboard.core.actions import ACTIONS, EVENT_TO_ACTION, ActionError, check_fields
from dashboard.core.domain import TRANSITIONS, Event, allowed_events
from dashboard.stream.events import encode_event
from dashboard.stream.heads import HEAD_TTL_S, head_key

_APPEND = """
local head = KEYS[1]
local v = redis.call('HGET', head, 'v')
if not v then return {'missing'} end
local s = redis.call('HGET', head, 's')
if v ~= ARGV[1] then return {'stale', v, s} end
local ok = false
for i = 4, #ARGV do if ARGV[i] == s then ok = true end end
if not ok then return {'illegal', v, s} end
redis.call('XADD', KEYS[2], '*', 'e', ARGV[2])
local nv = tonumber(v) + 1
if ARGV[3] ~= '' then s = ARGV[3] end
redis.call('HSET', head, 'v', nv, 's', s)
redis.call('EXPIRE', head, %d)
return {'ok', tostring(nv), s}
""" % HEAD_TTL_S


@dataclass
class ActionResult:
    incident_id: uuid.UUID
    event_id: uuid.UUID
    action: str
    version: int
    status: str


class Commands:
    def __init__(self, r: redis.Redis, store, stream: str):
        self.r = r
        self.store = store
        self.stream = stream
        self._append = r.register_script(_APPEND)

    def ensure_head(self, incident_id: uuid.UUID) -> None:
        key = head_key(incident_id)
        if self.r.exists(key):
            return
        inc = self.store.get_incident(incident_id, with_events=False)
        if inc is None:
            raise ActionError(404, "no such case (a report just posted may still be on its way)")
        pipe = self.r.pipeline(transaction=True)
        pipe.hsetnx(key, "v", inc["version"])
        pipe.hsetnx(key, "s", inc["status"])
        pipe.expire(key, HEAD_TTL_S)
        pipe.execute()

    def act(self, incident_id: uuid.UUID, action: str, *, expected_version: int, actor: str,
            note: str = "", data: dict | None = None, at: datetime | None = None,
            photos: list[str] | None = None) -> ActionResult:
        if action not in ACTIONS:
            raise ActionError(422, f"unknown action {action!r}; one of {', '.join(ACTIONS)}",
                              field="action")
        data = dict(data or {})
        if photos:
            data["photos"] = list(photos)
        check_fields(action, note, data, incident_id)
        ev = Event(id=uuid.uuid4(), incident_id=incident_id, type=ACTIONS[action],
                   at=at or datetime.now(timezone.utc), actor=actor, note=note, data=data)
        self.ensure_head(incident_id)
        return self.append(ev, expected_version)

    def _args(self, ev: Event, expected_version: int) -> tuple[list, list]:
        """The append script's keys and arguments; every path (``act``, ``append``, the
        pipelined ones) checks the event's fields here, so a prepared event (the SLA clock's,
        the simulator's) meets the same REQUIRED fields as an operator's action."""
        check_fields(EVENT_TO_ACTION.get(ev.type, ev.type), ev.note, ev.data, ev.incident_id)
        sources, target = TRANSITIONS[ev.type]
        return ([head_key(ev.incident_id), self.stream],
                [str(expected_version), encode_event(ev)["e"], target or "",
                 *[s for s in sources if s is not None]])

    def append(self, ev: Event, expected_version: int) -> ActionResult:
        """Append a prepared lifecycle event if the case is still at ``expected_version`` and
        its status allows it. Raises ActionError (409) otherwise, 422 for its fields."""
        keys, args = self._args(ev, expected_version)
        res = self._append(keys=keys, args=args)
        outcome = res[0].decode()
        action = EVENT_TO_ACTION.get(ev.type, ev.type)
        if outcome == "ok":
            return ActionResult(ev.incident_id, ev.id, action, int(res[1]), res[2].decode())
        if outcome == "missing":  # the head expired meanwhile: reload it and try once more
            self.ensure_head(ev.incident_id)
            res = self._append(keys=keys, args=args)
            outcome = res[0].decode()
            if outcome == "ok":
                return ActionResult(ev.incident_id, ev.id, action, int(res[1]), res[2].decode())
            if outcome == "missing":
                raise ActionError(404, "no such case")
        version, status = int(res[1]), res[2].decode()
        allowed = [EVENT_TO_ACTION[e] for e in allowed_events(status) if e in EVENT_TO_ACTION]
        if outcome == "stale":
            raise ActionError(409, f"the case changed meanwhile: it is at version {version}, not "
                                   f"{expected_version}; reload it", version=version, status=status,
                              allowed=allowed)
        raise ActionError(409, f"{action} is not allowed while the case is {status}; allowed: "
                               f"{', '.join(allowed) or 'none'}", version=version, status=status,
                          allowed=allowed)

    def queue_append(self, pipe, ev: Event, expected_version: int) -> None:
        """``append`` queued on a pipeline (its fields checked now); the pipeline's result for
        it is the script's answer (``[b"ok", version, status]`` or a refusal)."""
        keys, args = self._args(ev, expected_version)
        self._append(keys=keys, args=args, client=pipe)

    def append_many(self, items, chunk: int = 1000) -> int:
        """Pipelined ``append`` of (event, expected_version) pairs whose heads exist (demo
        backfill). Returns how many were appended; refused ones are skipped."""
        done = 0
        items = list(items)
        for start in range(0, len(items), chunk):
            pipe = self.r.pipeline(transaction=False)
            for ev, version in items[start:start + chunk]:
                self.queue_append(pipe, ev, version)
            done += sum(1 for res in pipe.execute() if res[0] == b"ok")
        return done
