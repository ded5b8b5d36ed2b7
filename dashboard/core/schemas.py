"""Validation of everything that enters the system: API bodies and stream entries.

A report is checked twice: when it is posted (so that the client hears about its mistake at
once) and when the persister reads it from the stream (so that an entry written by anything
else cannot break the database; such an entry goes to the dead-letter stream).
"""
from __future__ import annotations

import math
import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, Optional
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from dashboard.core.domain import EVENT_TYPES, PLATFORMS, URGENCIES, URGENCY_RANK, categories

UrgencyStr = Literal[URGENCIES]


def _aware(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("must include a timezone offset, e.g. 2026-11-26T09:30:00+08:00")
    return dt


def _finite(x: float) -> float:
    if not math.isfinite(x):
        raise ValueError("must be a finite number")
    return x


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]
Coordinate = Annotated[float, Field(strict=True), AfterValidator(_finite)]
ShortText = Annotated[str, Field(strict=True, min_length=1, max_length=64)]


OWN_PHOTO_URL = re.compile(r"^/api/v1/incidents/[0-9a-f-]{36}/photos/[0-9a-f]{64}\.(?:jpg|png|webp)$")


def is_own_photo_url(url) -> bool:
    """A photo this app stored (served to those who may see the case), as opposed to a link."""
    return isinstance(url, str) and bool(OWN_PHOTO_URL.match(url))


def _photo_url(url: str) -> str:
    if is_own_photo_url(url):
        return url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(ch.isspace() for ch in url):
        raise ValueError("a photo must be an http(s) URL (or be posted as a file: multipart 'photos')")
    return url


PhotoUrl = Annotated[str, Field(strict=True, max_length=500), AfterValidator(_photo_url)]


def _known_category(code: str) -> str:
    if code not in categories():
        raise ValueError(f"unknown category {code!r}; see GET /api/v1/categories")
    return code


class ReportIn(BaseModel):
    """The body of ``POST /api/v1/incidents``."""
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    category: Annotated[str, Field(strict=True), AfterValidator(_known_category)]
    description: Annotated[str, Field(strict=True, min_length=1, max_length=2000)]
    lat: Coordinate
    lon: Coordinate
    reporter: ShortText
    id: Optional[uuid.UUID] = None
    reported_at: Optional[AwareDatetime] = None
    urgency: Optional[UrgencyStr] = None
    grid: Optional[ShortText] = None
    photos: list[PhotoUrl] = Field(default_factory=list, max_length=10)
    source: Annotated[str, Field(strict=True, max_length=32)] = "api"

    @field_validator("description", "reporter", "grid", "source")
    @classmethod
    def _no_control_chars(cls, v):
        if v is not None and any(ord(ch) < 32 and ch not in "\n\t" for ch in v):
            raise ValueError("must not contain control characters")
        return v

    @field_validator("lat")
    @classmethod
    def _lat_range(cls, v: float) -> float:
        if not -90 <= v <= 90:
            raise ValueError("latitude must be between -90 and 90")
        return v

    @field_validator("lon")
    @classmethod
    def _lon_range(cls, v: float) -> float:
        if not -180 <= v <= 180:
            raise ValueError("longitude must be between -180 and 180")
        return v


class ReportData(BaseModel):
    """The ``data`` of a "reported" event as it travels through the stream."""
    model_config = ConfigDict(extra="ignore")

    category: Annotated[str, AfterValidator(_known_category)]
    platform: str
    description: Annotated[str, Field(min_length=1, max_length=2000)]
    lat: Coordinate
    lon: Coordinate
    reporter: Annotated[str, Field(min_length=1, max_length=64)]
    urgency: UrgencyStr
    town: Annotated[str, Field(min_length=1, max_length=32)]
    village: Annotated[str, Field(min_length=1, max_length=32)]
    grid: Annotated[str, Field(min_length=1, max_length=32)]
    photos: list[Annotated[str, Field(max_length=500)]] = Field(default_factory=list, max_length=10)
    source: Annotated[str, Field(max_length=32)] = "api"
    submitted_by: Optional[Annotated[str, Field(max_length=64)]] = None

    @field_validator("platform")
    @classmethod
    def _platform(cls, v: str) -> str:
        if v not in PLATFORMS:
            raise ValueError(f"unknown platform {v!r}")
        return v


class EventIn(BaseModel):
    """A lifecycle event as it travels through the stream."""
    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID
    incident_id: uuid.UUID
    type: Literal[EVENT_TYPES]  # type: ignore[valid-type]
    at: AwareDatetime
    actor: Annotated[str, Field(max_length=64)] = ""
    note: Annotated[str, Field(max_length=2000)] = ""
    data: dict[str, Any] = Field(default_factory=dict)

    def checked_data(self) -> dict[str, Any]:
        if self.type == "reported":
            return ReportData.model_validate(self.data).model_dump()
        if self.type == "urgency_changed" and self.data.get("urgency") not in URGENCY_RANK:
            raise ValueError("urgency_changed needs data.urgency red/yellow/green")
        return self.data


def field_errors(exc: ValidationError) -> list[dict[str, str]]:
    """Pydantic errors as ``[{"field": "lat", "message": "..."}]`` for API answers."""
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "body"
        msg = err["msg"]
        if err["type"] == "missing":
            msg = "this field is required"
        elif err["type"] == "extra_forbidden":
            msg = "unknown field"
        out.append({"field": loc, "message": msg})
    return out
