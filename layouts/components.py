"""Pieces shared by the pages: who is signed in and the sign-out button, a camera tile and its
caption, a case's photos and timeline."""
from __future__ import annotations

from datetime import datetime

from dash import dcc, html
from flask_wtf.csrf import generate_csrf

from dashboard.core.access import ROLE_NAMES
from dashboard.core.domain import URGENCY_RANK
from dashboard.core.schemas import is_own_photo_url
from dashboard.i18n import EVENT_NAMES, TEXT, pick, t


def user_bar(principal, lang: str):
    """The signed-in user's name and role, and a sign-out form (POST with the CSRF token).
    A kiosk has no one to sign out: it shows nothing."""
    if principal is None or principal.kind == "kiosk":
        return html.Span()
    return html.Form(action="/logout", method="POST", className="user-bar", id="user-bar", children=[
        html.Span(f"{principal.label} · {pick(ROLE_NAMES[principal.role], lang)}", className="user-name",
                  title=t("signed_in_as", lang)),
        dcc.Input(type="hidden", name="csrf_token", value=generate_csrf()),
        html.Button(t("logout", lang), type="submit", id="logout", className="user-logout"),
    ])


def short_name(name: str) -> str:
    """The caption of a registry name "<town><place> <spot>" (新桥镇扶雅社区第2网格 路口球机3号):
    the spot first, then the place without the town, which the screen's title already says
    (路口球机3号 · 扶雅社区第2网格). Neighbouring cameras share the place, so the spot is what
    tells them apart in a caption cut to one line. Other names are kept as they are."""
    name = name.strip()
    place, _, spot = name.partition(" ")
    for suffix in ("街道", "镇", "工业城", "新区"):
        i = place.find(suffix)
        if 0 < i <= 6:
            place, spot = place[i + len(suffix):].strip(), spot.strip()
            return f"{spot} · {place}" if spot and place else (spot or place or name)
    return name


def photo_items(urls: list, lang: str) -> list:
    """A case's photos: those this app stored as images; anything else only as a link the viewer
    may choose to open (an image from elsewhere would tell that site who looks at the case)."""
    out = []
    for url in urls:
        if is_own_photo_url(url):
            out.append(html.Img(src=url, className="sc-photo"))
        elif isinstance(url, str) and url.startswith(("https://", "http://")):
            out.append(html.A(t("photo_link", lang), href=url, target="_blank", rel="noopener noreferrer",
                              className="sc-photo-link"))
    return out


def timeline_items(events: list[dict], tz, lang: str) -> list:
    """A case's events as timeline rows: time, step, who / department / new urgency or level /
    note (all text, escaped by React)."""
    def details(e):
        d = e["data"] or {}
        urgency = t(f"legend_{d['urgency']}", lang) if d.get("urgency") in URGENCY_RANK else d.get("urgency", "")
        level = t(f"level_{d['level']}", lang) if f"level_{d.get('level')}" in TEXT else d.get("level", "")
        return " ".join(x for x in (e["actor"], d.get("department", ""), d.get("handler", ""),
                                    urgency, level, e["note"]) if x)
    return [html.Li([
        html.Span(e["at"].astimezone(tz).strftime("%m-%d %H:%M"), className="sc-tl-time"),
        html.Span(pick(EVENT_NAMES.get(e["type"], (e["type"], e["type"])), lang), className="sc-tl-type"),
        html.Span(details(e), className="sc-tl-note"),
    ]) for e in events]


def camera_tile(cam, cams, now: datetime, tz, lang: str, small: bool = False):
    """One tile of the wall: a refreshed snapshot for most kinds, so the browser's per-host
    connection limit is never reached; HLS and embedded players only where configured."""
    # The frame shows the full name; the caption is the wall's (spot first, without the town).
    name = html.Div(short_name(cam.name), className="sc-cam-name", title=cam.name)
    if not cams.is_online(cam, now):
        seen = cams.last_seen(cam, now)
        seen_txt = seen.astimezone(tz).strftime("%m-%d %H:%M") if seen else "–"
        return html.Div(className="sc-cam sc-cam-offline", **{"data-camera": cam.id}, children=[
            html.Div([html.Div(t("camera_offline", lang), className="sc-cam-off"),
                      html.Div(f"{t('camera_last_seen', lang)} {seen_txt}", className="sc-cam-seen")],
                     className="sc-cam-placeholder"),
            name])
    width = 320 if small else 480
    if cam.kind == "sim":
        media = html.Img(src=f"/cameras/{cam.id}/snapshot.jpg?w={width}", className="sc-cam-img",
                         **{"data-snapshot": f"/cameras/{cam.id}/snapshot.jpg?w={width}"})
    elif cam.kind == "snapshot":
        media = html.Img(src=cam.url, className="sc-cam-img", **{"data-snapshot": cam.url})
    elif cam.kind == "mjpeg":
        media = html.Img(src=cam.url, className="sc-cam-img")
    elif cam.kind == "hls":
        media = html.Video(className="sc-cam-img", muted=True, autoPlay=True, **{"data-hls": cam.url})
    else:  # embed
        media = html.Iframe(src=cam.url, className="sc-cam-img", **{"data-embed": "1"})
    return html.Div(className="sc-cam", **{"data-camera": cam.id}, children=[media, name])
