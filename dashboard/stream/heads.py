"""The head of a case in Redis: its version and status, checked by every action's append.

The head lives in the hash ``case:<id>`` (``v`` version, ``s`` status). It is written with the
report (``seed_head``) and, for cases that have none in Redis (stored before, or Redis lost its
data), loaded from the database on first use (``dashboard.stream.commands``).
"""
from __future__ import annotations

import uuid

HEAD_TTL_S = 90 * 86400  # heads of closed cases expire; they are reloaded from the database


def head_key(incident_id: uuid.UUID | str) -> str:
    return f"case:{incident_id}"


def seed_head(pipe_or_redis, incident_id: uuid.UUID) -> None:
    """Called with the report's XADD: a new case is at version 1, status reported."""
    pipe_or_redis.hsetnx(head_key(incident_id), "v", 1)
    pipe_or_redis.hsetnx(head_key(incident_id), "s", "reported")
    pipe_or_redis.expire(head_key(incident_id), HEAD_TTL_S)
