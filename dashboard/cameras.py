"""The camera registry and the simulated cameras of the camera wall (no Dash code).

The registry is ``cameras.csv`` (columns ``id,name,town_code,village_code,grid_code,lon,lat,
kind,url,status``), from ``data/`` or, after ``python -m dashboard import-geo --cameras``, from
``instance/geo/``. Feed kinds:

* ``sim``: a demo camera; this server renders its frames (:func:`render_frame`);
* ``mjpeg``: ``url`` is an MJPEG stream; ``snapshot``: ``url`` is a JPEG refreshed every few
  seconds; ``hls``: ``url`` is an ``.m3u8`` playlist (played with hls.js from ``assets/``);
  ``embed``: ``url`` is a player page (go2rtc, MediaMTX, ...) shown in an iframe.

Simulated frames are cheap (a few ms at 480×270): the static scene of each camera is drawn
once and kept in a small LRU; a frame copies it, draws the moving car / person and the
timestamp, and encodes a JPEG. Frames are a pure function of (camera, size, time step of
``FRAME_STEP`` seconds), so they are cached and shared by every viewer of the same tile.

Online state: a camera whose registry ``status`` is ``offline`` is offline. In addition a small,
deterministic share of the online *sim* cameras drop out for a 10-minute slot now and then
(hash of camera id and slot), so the wall shows placeholders coming and going. Every process
(gunicorn workers) computes the same answer.
"""
from __future__ import annotations

import csv
import hashlib
import io
import math
import os
import subprocess
import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Callable, NamedTuple
from zoneinfo import ZoneInfo

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .config import Settings
from .geo import geo_path

__all__ = ["Camera", "CameraRegistry", "Near", "render_frame", "is_online", "last_seen",
           "KINDS", "FRAME_STEP", "OFFLINE_SLOT_S"]

KINDS = ("sim", "mjpeg", "snapshot", "hls", "embed")
M_PER_DEG = 6_371_008.8 * math.pi / 180  # metres per degree of latitude (mean Earth radius)

FRAME_STEP = 0.5          # seconds; frames (and the cache) advance in steps of this
OFFLINE_SLOT_S = 600      # sim cameras may drop out for one such slot
FLAP_PER_MILLE = 4        # share (per mille) of (sim camera, slot) pairs that are offline
JPEG_QUALITY = 72


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

    def frame(self, camera: Camera, now: datetime, width: int = 480, height: int = 270) -> bytes:
        return render_frame(camera, now, width, height, tz=self.settings.timezone)


# --------------------------------------------------------------------------- online state

def _epoch(now: datetime) -> float:
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
        return not _flapped(camera.id, int(_epoch(now) // OFFLINE_SLOT_S))
    return True


def last_seen(camera: Camera, now: datetime) -> datetime | None:
    """When an offline camera last delivered a picture (UTC), None when online or unknown.

    A sim camera in a drop-out was last seen when the drop-out began. A sim camera listed as
    offline was last seen at a fixed (per week) instant 0–10 days ago. For real cameras the
    server does not watch the streams: None."""
    if is_online(camera, now):
        return None
    t = _epoch(now)
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


# --------------------------------------------------------------------------- fonts

_CJK_PATHS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
)


def _fc(args: list[str]) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


@lru_cache(maxsize=1)
def cjk_font_source() -> tuple[str, int] | None:
    """(file, face index) of a font with Chinese glyphs, preferring Noto Sans CJK SC; None
    when the machine has none (frames then use Pillow's default font)."""
    env = os.environ.get("GRIDDASH_CJK_FONT")
    if env and Path(env).is_file():
        return env, 0
    out = _fc(["fc-match", "-f", "%{file}|%{index}|%{family}", "Noto Sans CJK SC"])
    if out.count("|") >= 2:
        file, index, family = out.split("|", 2)
        if "CJK" in family and Path(file).is_file():
            return file, int(index or 0)
    out = _fc(["fc-list", ":lang=zh-cn", "file", "index"])
    for line in out.splitlines():  # "path: :index=2" (formats vary a little)
        file = line.split(":", 1)[0].strip()
        idx = line.rsplit("index=", 1)[1].strip() if "index=" in line else "0"
        if file and Path(file).is_file():
            return file, int(idx) if idx.isdigit() else 0
    for file in _CJK_PATHS:
        if Path(file).is_file():
            return file, _sc_face(file)
    return None


def _sc_face(file: str) -> int:
    """The Simplified-Chinese face of a font collection (Noto CJK .ttc: 'Noto Sans CJK SC')."""
    if not file.lower().endswith(".ttc"):
        return 0
    for i in range(12):
        try:
            family = ImageFont.truetype(file, 12, index=i).getname()[0] or ""
        except OSError:
            break
        if family.endswith(" SC"):
            return i
    return 0


@lru_cache(maxsize=16)
def _font(size: int):
    src = cjk_font_source()
    if src:
        try:
            return ImageFont.truetype(src[0], size, index=src[1])
        except OSError:
            pass
    try:
        return ImageFont.load_default(size)
    except TypeError:  # Pillow without FreeType
        return ImageFont.load_default()


# --------------------------------------------------------------------------- frames

class _LRU:
    """A small thread-safe LRU; ``get_or_make`` makes each missing key once even when many
    threads ask for it at the same moment."""

    def __init__(self, maxsize: int):
        self.maxsize = maxsize
        self._d: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self._making: dict = {}
        self.hits = self.misses = 0

    def get_or_make(self, key, make: Callable):
        with self._lock:
            if key in self._d:
                self._d.move_to_end(key)
                self.hits += 1
                return self._d[key]
            ev = self._making.get(key)
            mine = ev is None
            if mine:
                ev = self._making[key] = threading.Event()
                self.misses += 1
        if not mine:
            ev.wait(2.0)
            with self._lock:
                if key in self._d:
                    self.hits += 1
                    return self._d[key]
            return make()  # the maker failed or is very slow: make our own
        try:
            value = make()
            with self._lock:
                self._d[key] = value
                while len(self._d) > self.maxsize:
                    self._d.popitem(last=False)
            return value
        finally:
            with self._lock:
                self._making.pop(key, None)
            ev.set()

    def clear(self) -> None:
        with self._lock:
            self._d.clear()
            self.hits = self.misses = 0


_SCENES = _LRU(64)     # static background per (camera, size): ~0.4 MB each at 480×270
_FRAMES = _LRU(512)    # JPEG per (camera, size, tz, step): ~15-25 kB each


@lru_cache(maxsize=8)
def _zone(tz: str) -> ZoneInfo:
    return ZoneInfo(tz)


def render_frame(camera: Camera, now: datetime, width: int = 480, height: int = 270, *,
                 tz: str = "Asia/Shanghai") -> bytes:
    """A JPEG frame of the simulated ``camera`` at ``now`` (aware datetime), ``width``×``height``.

    Shows a dark street-like scene with a moving car and a walking person (positions depend on
    the time, so consecutive frames differ), the camera name and id, the local time in ``tz``
    and a "演示画面 DEMO" label. Cached per (camera, size, ``FRAME_STEP``)."""
    if not (16 <= width <= 1920 and 16 <= height <= 1080):
        raise ValueError("frame size out of range")
    step = int(_epoch(now) // FRAME_STEP)
    key = (camera.id, camera.name, width, height, tz, step)
    return _FRAMES.get_or_make(key, lambda: _render(camera, step * FRAME_STEP, width, height, tz))


_PLACE_RIVER = ("河道", "桥梁")
_PLACE_INDOOR = ("楼道",)


@lru_cache(maxsize=4)
def _noise(w: int, h: int) -> Image.Image:
    """Grey sensor noise of one size, shared by all scenes."""
    rng = np.random.default_rng(w * 10_000 + h)
    grey = np.clip(rng.normal(128, 18, (h, w)), 0, 255).astype(np.uint8)
    return Image.fromarray(grey, "L").convert("RGB")


def _scene(camera: Camera, w: int, h: int) -> "_Scene":
    return _SCENES.get_or_make((camera.id, camera.name, w, h), lambda: _Scene(camera, w, h))


class _Scene:
    """The static part of a camera's picture and the parameters of its motion."""

    def __init__(self, cam: Camera, w: int, h: int):
        rng = np.random.default_rng(zlib.crc32(cam.id.encode()))
        self.w, self.h = w, h
        self.kind = ("river" if any(p in cam.name for p in _PLACE_RIVER)
                     else "indoor" if any(p in cam.name for p in _PLACE_INDOOR) else "road")
        self.hy = int(h * rng.uniform(0.36, 0.46))                # horizon
        self.vx = int(w * rng.uniform(0.38, 0.62))                # vanishing point x
        self.car_period = float(rng.uniform(5.0, 9.0))
        self.car_phase = float(rng.uniform(0, 1))
        self.car2_phase = float(rng.uniform(0, 1))
        self.walk_period = float(rng.uniform(14.0, 24.0))
        self.walk_phase = float(rng.uniform(0, 1))
        self.walk_y = int(h * rng.uniform(0.80, 0.90))
        hue = rng.uniform(0, 1)
        self.car_colors = [tuple(int(c) for c in rng.integers(60, 220, 3)) for _ in range(2)]
        self.shirt = tuple(int(c) for c in rng.integers(60, 200, 3))

        img = Image.new("RGB", (w, h), (12, 16, 24))
        d = ImageDraw.Draw(img)
        hy, vx = self.hy, self.vx
        # sky / ceiling: vertical gradient
        top = (8, 12, 24) if self.kind != "indoor" else (40, 42, 38)
        bottom = (28, 36, 56) if self.kind != "indoor" else (70, 70, 62)
        for y in range(hy):
            f = y / max(1, hy - 1)
            d.line([(0, y), (w, y)], fill=tuple(int(a + (b - a) * f) for a, b in zip(top, bottom)))
        # buildings / walls along the horizon
        if self.kind == "indoor":
            d.polygon([(0, 0), (vx - w * 0.08, hy - h * 0.12), (vx - w * 0.08, hy + h * 0.05), (0, h)],
                      fill=(58, 58, 52))
            d.polygon([(w, 0), (vx + w * 0.08, hy - h * 0.12), (vx + w * 0.08, hy + h * 0.05), (w, h)],
                      fill=(52, 52, 48))
            d.rectangle([vx - w * 0.08, hy - h * 0.12, vx + w * 0.08, hy + h * 0.05], fill=(30, 30, 28))
            for i in range(3):  # doors on both walls
                f = 0.25 + 0.22 * i
                for side in (-1, 1):
                    x0 = vx + side * (w * 0.08 + (w / 2 - w * 0.08) * (1 - f))
                    d.rectangle([min(x0, x0 + side * w * 0.03), hy - h * 0.1 * (1 + 2 * (1 - f)),
                                 max(x0, x0 + side * w * 0.03), hy + h * 0.05 * (1 + 4 * (1 - f))],
                                fill=(90, 70, 50))
            d.rectangle([vx - w * 0.05, h * 0.04, vx + w * 0.05, h * 0.06], fill=(230, 235, 220))
        else:
            x = -int(rng.integers(0, 30))
            while x < w:
                bw = int(rng.integers(w // 16, w // 6))
                bh = int(rng.integers(h // 10, int(hy * 0.85)))
                shade = int(rng.integers(18, 40))
                d.rectangle([x, hy - bh, x + bw, hy], fill=(shade, shade + 2, shade + 8))
                for wy in range(hy - bh + 6, hy - 6, 9):
                    for wx in range(x + 4, x + bw - 6, 9):
                        if rng.random() < 0.28:
                            lit = (int(200 + 50 * hue) % 255, 190, 110)
                            d.rectangle([wx, wy, wx + 4, wy + 4], fill=lit)
                x += bw + int(rng.integers(0, 8))
        # ground, road or river, markings
        ground = (30, 32, 30) if self.kind != "indoor" else (84, 80, 70)
        d.rectangle([0, hy, w, h], fill=ground)
        if self.kind == "river":
            d.polygon([(vx - w * 0.03, hy), (vx + w * 0.03, hy), (w * 0.95, h), (w * 0.05, h)],
                      fill=(16, 34, 44))
            for i in range(6):  # ripples
                y = hy + (h - hy) * (i + 1) / 7
                half = (w * 0.45) * (y - hy) / (h - hy)
                d.line([(vx - half * 0.6, y), (vx + half * 0.3, y)], fill=(34, 60, 74), width=1)
            d.line([(0, hy + (h - hy) * 0.55), (w, hy + (h - hy) * 0.45)], fill=(120, 120, 110), width=3)
        elif self.kind == "road":
            d.polygon([(vx - w * 0.02, hy), (vx + w * 0.02, hy), (w * 1.15, h), (-w * 0.15, h)],
                      fill=(44, 44, 46))
            for i in range(10):  # centre line dashes in perspective
                f0, f1 = (i / 10) ** 2, ((i + 0.5) / 10) ** 2
                y0, y1 = hy + (h - hy) * f0, hy + (h - hy) * f1
                d.line([(vx, y0), (vx, y1)], fill=(200, 190, 120), width=max(1, int(3 * f1)))
            for side in (-1, 1):  # street lamps
                for f in (0.35, 0.7):
                    y = hy + (h - hy) * f
                    x = vx + side * (w * 0.02 + w * 0.7 * f)
                    top_y = y - h * 0.45 * f
                    d.line([(x, y), (x, top_y)], fill=(70, 70, 70), width=max(1, int(3 * f)))
                    r = 3 + 6 * f
                    d.ellipse([x - r, top_y - r, x + r, top_y + r], fill=(255, 220, 150))
        # sensor noise, baked in once
        img = Image.blend(img, _noise(w, h), 0.06)
        # overlay boxes and the static text
        fs = max(10, round(h * 0.058))
        small = max(9, round(h * 0.046))
        self.font, self.small = _font(fs), _font(small)
        od = ImageDraw.Draw(img, "RGBA")  # translucent boxes blended onto the picture
        pad = max(3, fs // 4)
        name_w = od.textlength(cam.name, font=self.font)
        od.rectangle([0, 0, min(w, name_w + 2 * pad), fs + small + 3 * pad], fill=(0, 0, 0, 140))
        ts_w = od.textlength("2026-11-26 09:30:00", font=self.small)
        self.ts_xy = (w - ts_w - pad, h - small - 2 * pad)
        od.rectangle([w - ts_w - 2 * pad, h - small - 3 * pad, w, h], fill=(0, 0, 0, 140))
        demo = "演示画面 DEMO"
        demo_w = od.textlength(demo, font=self.small)
        od.rectangle([0, h - small - 3 * pad, demo_w + 2 * pad, h], fill=(150, 20, 20, 170))
        d = ImageDraw.Draw(img)
        d.text((pad, pad), cam.name, font=self.font, fill=(240, 240, 240))
        d.text((pad, fs + 2 * pad), cam.id, font=self.small, fill=(170, 200, 220))
        d.text((pad, h - small - 2 * pad), demo, font=self.small, fill=(255, 255, 255))
        self.pad = pad
        self.image = img

    def frame(self, t: float, tz: ZoneInfo) -> Image.Image:
        w, h, hy, vx = self.w, self.h, self.hy, self.vx
        img = self.image.copy()
        d = ImageDraw.Draw(img)
        span = h - hy
        if self.kind in ("road", "river"):
            # one vehicle / boat coming towards the camera, one going away
            for lane, phase, col, coming in ((0.45, self.car_phase, self.car_colors[0], True),
                                             (-0.35, self.car2_phase, self.car_colors[1], False)):
                p = (t / self.car_period + phase) % 1.0
                f = p * p if coming else (1 - p) ** 2
                f = 0.04 + 0.96 * f
                y = hy + span * f
                cx = vx + lane * w * 0.5 * f
                cw, ch = w * 0.22 * f, h * 0.12 * f
                if self.kind == "river":
                    d.polygon([(cx - cw / 2, y - ch * 0.3), (cx + cw / 2, y - ch * 0.3), (cx + cw * 0.35, y),
                               (cx - cw * 0.35, y)], fill=(120, 96, 70))
                    d.rectangle([cx - cw * 0.15, y - ch * 0.8, cx + cw * 0.15, y - ch * 0.3], fill=(180, 180, 170))
                    continue
                d.rectangle([cx - cw / 2, y - ch, cx + cw / 2, y], fill=col)
                d.rectangle([cx - cw * 0.35, y - ch * 1.45, cx + cw * 0.35, y - ch], fill=tuple(c // 2 for c in col))
                lr = max(1.0, cw * 0.07)
                light = (255, 250, 200) if coming else (220, 30, 30)
                for sx in (-0.38, 0.38):
                    lx, ly = cx + sx * cw, y - ch * 0.45
                    d.ellipse([lx - lr, ly - lr, lx + lr, ly + lr], fill=light)
        # a person walking across the foreground (or down the corridor)
        p = (t / self.walk_period + self.walk_phase) % 1.0
        if self.kind == "indoor":
            f = 0.15 + 0.85 * p
            px, py, s = vx + w * 0.05 * f, hy + span * 0.75 * f, 0.25 + 1.1 * f
        else:
            px, py, s = -20 + (w + 40) * p, self.walk_y, 0.75
        ph, pw = h * 0.22 * s, h * 0.06 * s
        step = 1 if int(t * 2) % 2 else -1
        d.line([(px, py - ph * 0.4), (px - step * pw * 0.5, py)], fill=(40, 40, 60), width=max(1, int(3 * s)))
        d.line([(px, py - ph * 0.4), (px + step * pw * 0.5, py)], fill=(40, 40, 60), width=max(1, int(3 * s)))
        d.rectangle([px - pw / 2, py - ph * 0.8, px + pw / 2, py - ph * 0.4], fill=self.shirt)
        hr = pw * 0.42
        d.ellipse([px - hr, py - ph * 0.8 - 2 * hr, px + hr, py - ph * 0.8], fill=(200, 170, 140))
        # timestamp and a blinking recording dot
        local = datetime.fromtimestamp(t, tz)
        d.text(self.ts_xy, local.strftime("%Y-%m-%d %H:%M:%S"), font=self.small, fill=(255, 255, 255))
        if int(t) % 2 == 0:
            r = max(3, self.pad)
            d.ellipse([w - 3 * r, r, w - r, 3 * r], fill=(230, 30, 30))
        return img


def _render(camera: Camera, t: float, width: int, height: int, tz: str) -> bytes:
    img = _scene(camera, width, height).frame(t, _zone(tz))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=JPEG_QUALITY)
    return buf.getvalue()
