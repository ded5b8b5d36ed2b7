"""DEMO DATA: the frames of the simulated (``sim``) cameras of the camera wall.

Cheap (a few ms at 480×270): the static scene of each camera is drawn once and kept in a small
LRU; a frame copies it, draws the moving car / person and the timestamp, and encodes a JPEG.
Frames are a pure function of (camera, size, time step of ``FRAME_STEP`` seconds), so they are
cached and shared by every viewer of the same tile.
"""
from __future__ import annotations

import io
import subprocess
import zlib
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from dashboard.cache import SharedCache
from dashboard.config import active
from dashboard.geo.cameras import FRAME_STEP, Camera, epoch_s

JPEG_QUALITY = 72


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
    chosen = active().cjk_font
    if chosen and Path(chosen).is_file():
        return str(chosen), 0
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

_SCENES = SharedCache(maxsize=64)    # static background per (camera, size): ~0.4 MB each at 480×270
_FRAMES = SharedCache(maxsize=512)   # JPEG per (camera, size, tz, step): ~15-25 kB each


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
    step = int(epoch_s(now) // FRAME_STEP)
    key = (camera.id, camera.name, width, height, tz, step)
    return _FRAMES.get(key, lambda: _render(camera, step * FRAME_STEP, width, height, tz))


_PLACE_RIVER = ("河道", "桥梁")
_PLACE_INDOOR = ("楼道",)


@lru_cache(maxsize=4)
def _noise(w: int, h: int) -> Image.Image:
    """Grey sensor noise of one size, shared by all scenes."""
    rng = np.random.default_rng(w * 10_000 + h)
    grey = np.clip(rng.normal(128, 18, (h, w)), 0, 255).astype(np.uint8)
    return Image.fromarray(grey, "L").convert("RGB")


def _scene(camera: Camera, w: int, h: int) -> "_Scene":
    return _SCENES.get((camera.id, camera.name, w, h), lambda: _Scene(camera, w, h))


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
