"""The actions on a case (the closed loop) and what each one needs: the one place for these lists.

``ACTIONS`` maps each action an operator, a handler or a leader may take to the lifecycle event
it becomes (``domain.TRANSITIONS`` says from which statuses). ``REQUIRED`` says which fields an
action's body needs, ``LEVEL_ACTIONS`` which may name a level and ``PHOTO_ACTIONS`` which may
carry photos. ``check_fields`` applies them; ``dashboard.stream.commands`` calls it before
anything is appended, the API, the console and the OpenAPI document read the same lists.
"""
from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from dashboard.core.domain import LEVELS
from dashboard.core.schemas import is_own_photo_url

ACTIONS = {
    "accept": "accepted", "route": "routed", "assign": "assigned", "start": "started",
    "resolve": "resolved", "close": "closed", "return": "returned", "reopen": "reopened",
    "supervise": "supervised", "escalate": "escalated",
}
EVENT_TO_ACTION = {v: k for k, v in ACTIONS.items()}
# Fields each action requires in its body (besides expected_version and actor): a name is
# required; a tuple of names needs at least one of them. 流转 (route) moves a case to another
# department or up to a level, and says why; 办结 (resolve) says what was done.
REQUIRED = {"route": (("department", "level"), "note"), "assign": ("department",),
            "resolve": ("note",), "return": ("note",), "supervise": ("note",)}
LEVEL_ACTIONS = ("escalate", "route")  # the actions that may name a level (domain.LEVELS)
# The steps that may carry photos of their result (stored first by the same checked upload as a
# report's: dashboard/store/photos.py), as this app's own photo URLs of the case, at most this many.
PHOTO_ACTIONS, MAX_STEP_PHOTOS = ("resolve",), 4
MAX_NOTE, MAX_FIELD = 2000, 64  # what the stream's schema accepts (dashboard/core/schemas.py EventIn)

MAX_ACTOR = 64


class ActionIn(BaseModel):
    """The body of one step (``POST /api/v1/incidents/<id>/actions``): its shape. What each
    action needs besides (``REQUIRED``, a level, photos) is ``check_fields``'s; an unknown action
    is refused there too, naming the known ones. Other fields are ignored."""
    model_config = ConfigDict(extra="ignore")

    action: Annotated[StrictStr, Field(json_schema_extra={"enum": list(ACTIONS)})]
    expected_version: Annotated[StrictInt, Field(ge=1, description="the case's version the client saw "
                                                                    "(409 when it changed)")]
    note: Annotated[StrictStr, Field(max_length=MAX_NOTE)] = ""
    department: Annotated[StrictStr | None, Field(max_length=MAX_FIELD)] = None
    handler: Annotated[StrictStr | None, Field(max_length=MAX_FIELD)] = None
    level: Annotated[StrictStr | None, Field(max_length=MAX_FIELD)] = None
    actor: Annotated[StrictStr | None, Field(max_length=MAX_ACTOR, deprecated=True,
                                             description="ignored: the actor recorded is the signed-in "
                                                         "account or the key's user")] = None

    def fields_given(self) -> dict[str, str]:
        """The action's own fields that were given (department, handler, level)."""
        return {k: v for k in ("department", "handler", "level") if (v := getattr(self, k)) is not None}


class ActionError(Exception):
    """Refused: ``http_status`` is 404, 409 or 422; nothing was appended. ``extra`` carries
    the case's ``version``, ``status`` and the ``allowed`` actions where they are known."""

    def __init__(self, http_status: int, message: str, **extra):
        super().__init__(message)
        self.http_status = http_status
        self.message = message
        self.extra = extra


def required_groups(action: str) -> list[tuple[str, ...]]:
    """REQUIRED for ``action`` as groups of names: each group needs at least one of its names."""
    return [need if isinstance(need, tuple) else (need,) for need in REQUIRED.get(action, ())]


def check_photos(action: str, photos, incident_id=None) -> None:
    """``photos`` of a step: only for PHOTO_ACTIONS, a list of at most MAX_STEP_PHOTOS of this
    app's own photo URLs (of this case, when ``incident_id`` is given)."""
    if action not in PHOTO_ACTIONS:
        raise ActionError(422, f"photos: only {', '.join(PHOTO_ACTIONS)} carries photos", field="photos")
    if not isinstance(photos, list) or len(photos) > MAX_STEP_PHOTOS:
        raise ActionError(422, f"photos: a list of at most {MAX_STEP_PHOTOS} photos", field="photos")
    for url in photos:
        if not is_own_photo_url(url) or (incident_id is not None and f"/incidents/{incident_id}/" not in url):
            raise ActionError(422, "photos: upload each photo first; only this case's stored photos can be named",
                              field="photos")


def check_fields(action: str, note: str, data: dict, incident_id=None) -> None:
    """The body's fields for ``action``: texts the stream's schema accepts, the REQUIRED ones
    given, a level one of domain.LEVELS, photos as ``check_photos`` wants them. Raises
    ActionError (422, naming the field)."""
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise ActionError(422, f"note: text of at most {MAX_NOTE} characters", field="note")
    for name, value in data.items():
        if name == "photos":
            check_photos(action, value, incident_id)
            continue
        if not isinstance(value, str) or len(value) > MAX_FIELD:
            raise ActionError(422, f"{name}: text of at most {MAX_FIELD} characters", field=name)
    for names in required_groups(action):
        values = [note if name == "note" else data.get(name) for name in names]
        if not any(isinstance(v, str) and v.strip() for v in values):
            raise ActionError(422, f"{action} needs {' or '.join(names)}", field=names[0])
    if action in LEVEL_ACTIONS and data.get("level") is not None and data["level"] not in LEVELS:
        raise ActionError(422, f"level must be one of {', '.join(LEVELS)}", field="level")
