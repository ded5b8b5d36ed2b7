"""The router: which page a path shows, for whom (``/``, ``/screen[/<town>]``, ``/console``,
``/leaders``). Thin: the principal from the session, the page's rules from
``dashboard.core.access``, the page itself from ``layouts``.
"""
from __future__ import annotations

from urllib.parse import parse_qs

from dash import Input, Output

from dashboard.core import access
from dashboard.core.access import AccessDenied
from dashboard.core.domain import categories, departments
from dashboard.core.metrics import PERIODS
from dashboard.i18n import lang_of, t
from dashboard.queries import leaders
from dashboard.web.security import require_principal
from layouts import console as console_layout
from layouts import leaders as leaders_layout
from layouts import screen as screen_layout


def register(app, services) -> None:
    rt = services.runtime
    geo = rt.geo
    cats = categories()

    def town_name(code, lang):
        row = geo.towns.get(code, {})
        return (row.get("name_en") if lang == "en" else row.get("name")) or code

    @app.callback(Output("page-content", "children"), Input("url", "pathname"), Input("url", "search"))
    def route(pathname, search):
        q = {k: v[-1] for k, v in parse_qs((search or "").lstrip("?")).items()}
        lang = lang_of(q.get("lang"))
        parts = [p for p in (pathname or "/").split("/") if p]
        p = require_principal()
        page = parts[0] if parts else "screen"
        if page in access.PAGE_ROLES and not access.may_open(p, page):
            return screen_layout.denied(lang)
        if parts == ["console"]:
            towns = {c: r for c, r in geo.towns.items() if access.town_scope(p) in (None, c)}
            town = q.get("town") if q.get("town") in towns else access.town_scope(p)
            return console_layout.layout(lang=lang, towns=towns, categories=cats,
                                         departments=departments(), town=town, principal=p,
                                         query=console_layout.list_query({"town": town}),
                                         sound=q.get("sound") == "1", max_photo_bytes=rt.settings.max_photo_bytes)
        if parts == ["leaders"]:
            f = leaders.parse_query(q)
            return leaders_layout.layout(principal=p, lang=lang, f=f, shown=leaders.page_view(rt, p, f), geo=geo)
        if parts in ([], ["screen"]):
            scope = None
        elif len(parts) == 2 and parts[0] == "screen":
            scope = parts[1]
            if scope not in geo.towns:
                return screen_layout.not_found(f"未知镇街 / unknown town: {scope}")
        else:
            return screen_layout.not_found("404")
        try:
            scope = access.resolve_town(p, scope)
        except AccessDenied:
            return screen_layout.denied(lang)
        wall = q.get("wall", "3")
        wall = int(wall) if wall in ("2", "3", "4") else 3
        period = q.get("period")
        period = period if period in PERIODS else screen_layout.DEFAULT_PERIOD
        return screen_layout.screen_layout(
            scope=scope, scope_name=town_name(scope, lang) if scope else t("district", lang),
            bounds=services.bounds(scope), lang=lang, wall=wall, tile_url=services.tiles.url,
            tile_attribution=services.tiles.attribution, town_labels=services.town_labels(lang),
            refresh_ms=rt.settings.refresh_ms, period=period, tz=rt.settings.timezone, principal=p,
            sound=q.get("sound") == "1")

