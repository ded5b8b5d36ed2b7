"""The camera registry and the simulated cameras of the camera wall (no Dash code).

The registry is ``cameras.csv`` (columns ``id,name,town_code,village_code,grid_code,lon,lat,
kind,url,status``), from ``data/`` or, after ``python -m dashboard import-geo --cameras``, from
``instance/geo/``. Feed kinds:

* ``sim``: a demo camera; this server renders its frames (``dashboard.demo.camera_frames``);
* ``mjpeg``: ``url`` is an MJPEG stream; ``snapshot``: ``url`` is a JPEG refreshed every few
  seconds; ``hls``: ``url`` is an ``.m3u8`` playlist (played with hls.js from ``assets/``);
  ``embed``: ``url`` is a player page (go2rtc, MediaMTX, ...) shown in an iframe.

Simulated frames are a pure function of (camera, size, time step of ``FRAME_STEP`` seconds),
so they are cached and shared by every viewer of the same tile.

Online state: a camera whose registry ``status`` is ``offline`` is offline. In addition a small,
deterministic share of the online *sim* cameras drop out for a 10-minute slot now and then
(hash of camera id and slot), so the wall shows placeholders coming and going. Every process
(gunicorn workers) computes the same answer.
"""
from __future__ import annotations

import csv
import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

import numpy as np

from dashboard.config import Settings
from dashboard.geo.geography import geo_path

__all__ = ["Camera", "CameraRegistry", "Near", "is_online", "last_seen", "epoch_s",
           "KINDS", "FRAME_STEP", "OFFLINE_SLOT_S"]

KINDS = ("sim", "mjpeg", "snapshot", "hls", "embed")
M_PER_DEG = 6_371_008.8 * math.pi / 180  # metres per degree of latitude (mean Earth radius)

FRAME_STEP = 0.5          # seconds; frames (and the cache) advance in steps of this
OFFLINE_SLOT_S = 600      # sim cameras may drop out for one such slot
FLAP_PER_MILLE = 4        # share (per mille) of (sim camera, slot) pairs that are offline


@dataclass(frozen=True, slots=True)
class Camera:
    id: str
    name: str
    town_code: str
    village_code: str
    grid_code: str
    lon: float
    lat: float
    kind: str
    url: str
    status: str

    @property
    def simulated(self) -> bool:
        return self.kind == "sim"


class Near(NamedTuple):
    camera: Camera
    distance_m: float


# --------------------------------------------------------------------------- registry

class CameraRegistry:
    """All cameras of the deployment, in a stable order (by id)."""

    def __init__(self, settings: Settings, path: Path | None = None):
        self.settings = settings
        self.path = path or geo_path(settings, "cameras.csv")
        cams: list[Camera] = []
        with open(self.path, encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                if not row.get("id"):
                    continue
                kind = (row.get("kind") or "sim").strip().lower()
                if kind not in KINDS:
                    raise ValueError(f"{self.path}: camera {row['id']}: unknown kind {kind!r}")
                cams.append(Camera(
                    id=row["id"].strip(), name=row["name"].strip(), town_code=row["town_code"].strip(),
                    village_code=row["village_code"].strip(), grid_code=row["grid_code"].strip(),
                    lon=float(row["lon"]), lat=float(row["lat"]), kind=kind,
                    url=(row.get("url") or "").strip(),
                    status=(row.get("status") or "online").strip().lower()))
        cams.sort(key=lambda c: c.id)
        self._cams: tuple[Camera, ...] = tuple(cams)
        self._by_id = {c.id: c for c in cams}
        if len(self._by_id) != len(cams):
            raise ValueError(f"{self.path}: duplicate camera ids")
        towns: dict[str, list[int]] = {}
        for i, c in enumerate(cams):
            towns.setdefault(c.town_code, []).append(i)
        self._town_idx = {t: np.array(ix, dtype=np.intp) for t, ix in towns.items()}
        self._town_cams = {t: tuple(cams[i] for i in ix) for t, ix in towns.items()}
        self._lat = np.array([c.lat for c in cams], dtype=np.float64)
        self._lon = np.array([c.lon for c in cams], dtype=np.float64)
        self.tz = ZoneInfo(settings.timezone)

    def __len__(self) -> int:
        return len(self._cams)

    def get(self, camera_id: str) -> Camera | None:
        return self._by_id.get(camera_id)

    def all(self) -> tuple[Camera, ...]:
        return self._cams

    def towns(self) -> list[str]:
        return sorted(self._town_cams)

    def by_town(self, code: str) -> tuple[Camera, ...]:
        return self._town_cams.get(code, ())

    def count(self, town: str | None = None) -> int:
        return len(self._cams) if not town else len(self._town_cams.get(town, ()))

    def page(self, town: str | None, page: int, size: int) -> tuple[Camera, ...]:
        """Page ``page`` (0-based) of ``size`` cameras of ``town`` (all towns when None/empty),
        in id order; past the end: an empty tuple."""
        if size < 1 or page < 0:
            raise ValueError("page must be >= 0 and size >= 1")
        cams = self.by_town(town) if town else self._cams
        return cams[page * size:(page + 1) * size]

    def pages(self, town: str | None, size: int) -> int:
        return max(1, -(-self.count(town) // size))

    def nearest(self, lat: float, lon: float, k: int = 4, town: str | None = None) -> list[Near]:
        """The ``k`` cameras nearest to (lat, lon), nearest first, with the distance in metres
        (equirectangular approximation, exact to < 0.1 % over the district)."""
        if k < 1:
            return []
        if town:
            idx = self._town_idx.get(town)
            if idx is None:
                return []
            lats, lons = self._lat[idx], self._lon[idx]
        else:
            idx, lats, lons = None, self._lat, self._lon
        n = len(lats)
        if n == 0:
            return []
        dy = (lats - lat) * M_PER_DEG
        dx = (lons - lon) * (M_PER_DEG * math.cos(math.radians(lat)))
        d2 = dx * dx + dy * dy
        k = min(k, n)
        cand = np.argpartition(d2, k - 1)[:k] if k < n else np.arange(n)
        cand = cand[np.lexsort((cand, d2[cand]))]  # by distance, ties by id order
        out = []
        for j in cand:
            i = int(idx[j]) if idx is not None else int(j)
            out.append(Near(self._cams[i], float(math.sqrt(d2[j]))))
        return out

    # online state and frames, in this deployment's time zone
    def is_online(self, camera: Camera, now: datetime) -> bool:
        return is_online(camera, now)

    def last_seen(self, camera: Camera, now: datetime) -> datetime | None:
        ts = last_seen(camera, now)
        return ts.astimezone(self.tz) if ts else None


# --------------------------------------------------------------------------- online state

def epoch_s(now: datetime) -> float:
    if now.tzinfo is None:
        raise ValueError("give an aware datetime (e.g. datetime.now(timezone.utc))")
    return now.timestamp()


def _h64(*parts) -> int:
    data = "|".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


def _flapped(camera_id: str, slot: int) -> bool:
    return _h64(camera_id, slot) % 1000 < FLAP_PER_MILLE


def is_online(camera: Camera, now: datetime) -> bool:
    """False for cameras the registry lists as offline and, for sim cameras, during the
    occasional deterministic 10-minute drop-out."""
    if camera.status == "offline":
        return False
    if camera.kind == "sim":
        return not _flapped(camera.id, int(epoch_s(now) // OFFLINE_SLOT_S))
    return True


def last_seen(camera: Camera, now: datetime) -> datetime | None:
    """When an offline camera last delivered a picture (UTC), None when online or unknown.

    A sim camera in a drop-out was last seen when the drop-out began. A sim camera listed as
    offline was last seen at a fixed (per week) instant 0–10 days ago. For real cameras the
    server does not watch the streams: None."""
    if is_online(camera, now):
        return None
    t = epoch_s(now)
    if camera.kind != "sim":
        return None
    if camera.status == "offline":
        week = 7 * 86400
        anchor = t // week * week
        return datetime.fromtimestamp(anchor - _h64(camera.id, "down") % (3 * 86400), timezone.utc)
    slot = int(t // OFFLINE_SLOT_S)
    for _ in range(1000):
        if not _flapped(camera.id, slot - 1):
            break
        slot -= 1
    return datetime.fromtimestamp(slot * OFFLINE_SLOT_S, timezone.utc)


