"""Callbacks of the operator console. Thin: filters -> store query, actions -> dashboard.commands.

Scope comes from the signed-in principal (``dashboard.auth``): the case list is filtered by the
principal's town or department whatever the filters say, a case outside it answers 404, and
an action the role may not take answers 403, before anything is written.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import dash_leaflet as dl
from dash import ALL, Input, Output, State, ctx, html, no_update

from callbacks.screen import camera_tile, photo_items, timeline_items
from dashboard import auth
from dashboard.auth import AccessDenied
from dashboard.commands import ACTIONS, ActionError, Commands, head_key
from dashboard.domain import STATUS_NAMES, URGENCY_STYLE, allowed_events, categories
from dashboard.i18n import ACTION_NAMES, pick, t
from dashboard.sla import default_policy
from dashboard.webauth import require_principal

EVENT_ACTION = {v: k for k, v in ACTIONS.items()}


def _span(td, lang):
    secs = int(abs(td.total_seconds()))
    h, m = divmod(secs // 60, 60)
    d, h = divmod(h, 24)
    return (f"{d}天{h}小时" if lang != "en" else f"{d}d {h}h") if d else \
        (f"{h}小时{m}分" if lang != "en" else f"{h}h {m}m")


FIELD_TEXT = {"note": "note", "department": "col_department", "level": "level", "handler": "handler"}


def action_error_text(exc: ActionError, action: str, lang: str) -> str:
    """A refused action in the page's language (the API answers in English, for programs)."""
    act = pick(ACTION_NAMES.get(action, (action, action)), lang)
    field = exc.extra.get("field")
    if exc.http_status == 404:
        return t("err_not_found", lang)
    if exc.http_status == 409 and "version" in exc.extra:
        if "changed meanwhile" in exc.message:
            return t("err_stale", lang).format(version=exc.extra["version"])
        allowed = "、".join(pick(ACTION_NAMES[a], lang) for a in exc.extra.get("allowed") or [] if a in ACTION_NAMES)
        return t("err_illegal", lang).format(status=pick(STATUS_NAMES.get(exc.extra["status"], ("?", "?")), lang),
                                             action=act, allowed=allowed or "–")
    if field in FIELD_TEXT:
        name = t(FIELD_TEXT[field], lang)
        if "at most" in exc.message:
            return t("err_too_long", lang).format(field=name)
        return t("err_missing", lang).format(action=act, field=name)
    return exc.message


def register(app, services) -> None:
    rt, cams = services.runtime, services.cameras
    tz = ZoneInfo(rt.settings.timezone)
    policy = default_policy()
    cats = categories()
    geo = rt.geo
    grid_features = {f["properties"]["code"]: f for f in geo.grid_features}

    def commands():
        return Commands(rt.redis, rt.store, rt.settings.stream)

    def sla_text(case, now, lang):
        p = policy.pending(case)
        if p is None:
            return "", False
        stage, due, _ = p
        left = due - now
        label = t("accept_by" if stage == "accept" else "close_by", lang)
        if left.total_seconds() < 0:
            return f"{label} {t('overdue_by', lang)} {_span(left, lang)}", True
        return f"{label} {t('remaining', lang)} {_span(left, lang)}", False

    @app.callback(
        Output("case-grid", "rowData"),
        Input("f-town", "value"), Input("f-category", "value"), Input("f-urgency", "value"),
        Input("f-status", "value"), Input("f-grid", "value"), Input("f-overdue", "value"),
        Input("console-tick", "n_intervals"),
        State("console-config", "data"),
    )
    def list_cases(town, cats_f, urg, status, grid, overdue, _n, cfg):
        lang = cfg["lang"]
        now = datetime.now(timezone.utc)
        p = auth.require_page(require_principal(), "console")
        scope = auth.case_filter(p)  # the principal's town or department, from the session
        if town and scope.get("town") not in (None, town):
            raise AccessDenied(f"not allowed outside town {scope['town']}")
        rows = rt.store.list_cases(**{"town": town or None, **scope}, categories=cats_f or None,
                                   urgencies=urg or None, statuses=status or None,
                                   grid=(grid or "").strip() or None)
        out = []
        for r in rows:
            sla, late = sla_text(r, now, lang)
            if overdue and not late:
                continue
            g = geo.grids.get(r["grid_code"])
            c = cats.get(r["category"])
            out.append({
                "id": str(r["id"]), "reported": r["reported_at"].astimezone(tz).strftime("%m-%d %H:%M"),
                "town": (geo.towns.get(r["town_code"]) or {}).get("name_en" if lang == "en" else "name", ""),
                "grid": g.name if g else r["grid_code"],
                "category": (c.name_en if lang == "en" else c.name_zh) if c else r["category"],
                "u": r["urgency"], "urgency": t(f"legend_{r['urgency']}", lang),
                "status": pick(STATUS_NAMES[r["status"]], lang), "sla": sla, "overdue": late,
                "department": r["department"] or "", "description": r["description"],
            })
            if len(out) >= 500:
                break
        return out

    @app.callback(Output("case-id", "data"), Input("case-grid", "cellClicked"), prevent_initial_call=True)
    def pick_case(cell):
        return (cell or {}).get("rowId") or no_update

    @app.callback(
        Output("case-detail", "children"),
        Output("case-buttons", "children"),
        Output("case-version", "data"),
        Input("case-id", "data"),
        Input("console-tick", "n_intervals"),
        Input("case-result", "children"),
        State("case-version", "data"),
        State("console-config", "data"),
    )
    def show_case(case_id, _n, _result, shown, cfg):
        if not case_id:
            return no_update, no_update, no_update
        lang = cfg["lang"]
        p = auth.require_page(require_principal(), "console")
        inc = rt.store.get_incident(uuid.UUID(case_id))
        if inc is None:
            return html.Div(t("version_pending", lang)), [], no_update
        auth.require_case(p, inc)
        head = rt.redis.hgetall(head_key(inc["id"]))
        version = int(head[b"v"]) if head else inc["version"]
        status = head[b"s"].decode() if head else inc["status"]
        state = {"id": case_id, "version": version, "stored": inc["version"], "minute": _n // 20 if _n else 0}
        if shown == state:  # nothing new (the countdown is redrawn about once a minute)
            return no_update, no_update, no_update
        now = datetime.now(timezone.utc)
        d = policy.deadlines(inc["category"], inc["base_urgency"], inc["reported_at"])
        sla, late = sla_text(inc, now, lang)
        c = cats.get(inc["category"])
        grid = geo.grids.get(inc["grid_code"])
        timeline = timeline_items(inc["events"], tz, lang)
        photos = photo_items(inc["photos"], lang)
        # cameras for the roles that may watch them (dashboard/camera_api.py): not a handler
        near = [] if p.role == "handler" else cams.nearest(inc["lat"], inc["lon"], k=2, town=auth.town_scope(p))
        feature = grid_features.get(inc["grid_code"])
        color = URGENCY_STYLE[inc["urgency"]]["color"]
        case_map = dl.Map(id="case-map", center=[inc["lat"], inc["lon"]], zoom=15, className="cn-map",
                          attributionControl=False, children=[
                              *([dl.TileLayer(url=services.tiles.url)] if services.tiles.url else []),
                              *([dl.GeoJSON(data=feature, style={"color": "#9fb3c8", "weight": 2,
                                                                 "fillOpacity": 0.1})] if feature else []),
                              dl.CircleMarker(center=[inc["lat"], inc["lon"]], radius=10,
                                              color="#000", fillColor=color, fillOpacity=1, weight=2),
                          ])
        detail = [
            html.Div(className=f"sc-detail-head sc-u-{inc['urgency']}", id="case-title", children=[
                (c.name_en if lang == "en" else c.name_zh) if c else inc["category"], " · ",
                pick(STATUS_NAMES[status], lang)]),
            html.Div(inc["description"], className="sc-detail-desc"),
            html.Div(f"{(geo.towns.get(inc['town_code']) or {}).get('name', '')} · "
                     f"{grid.name if grid else inc['grid_code']} · {inc['reporter']}", className="sc-detail-meta"),
            html.Div(className="cn-sla" + (" cn-overdue" if late else ""), id="case-sla", children=[
                html.Div(sla),
                html.Div(f"{t('accept_by', lang)} {d.accept_by.astimezone(tz):%m-%d %H:%M} · "
                         f"{t('close_by', lang)} {d.close_by.astimezone(tz):%m-%d %H:%M}"),
            ]),
            *([html.Div(t("version_pending", lang), className="cn-hint")] if version > inc["version"] else []),
            case_map,
            html.Div(t("detail_timeline", lang), className="sc-detail-sub"),
            html.Ul(timeline, className="sc-timeline", id="case-timeline"),
            *([html.Div(photos)] if photos else []),
            *([html.Div(t("detail_cameras", lang), className="sc-detail-sub"),
               html.Div(className="sc-detail-cams", children=[camera_tile(n.camera, cams, now, tz, lang, small=True)
                                                            for n in near])] if near else []),
        ]
        mine = auth.allowed_actions(p, inc)
        buttons = [html.Button(pick(ACTION_NAMES[EVENT_ACTION[e]], lang), className="cn-btn",
                               id={"type": "case-action", "action": EVENT_ACTION[e]})
                   for e in allowed_events(status) if e in EVENT_ACTION and EVENT_ACTION[e] in mine]
        return detail, buttons, state

    @app.callback(
        Output("case-note", "value"),
        Output("case-dept", "value"),
        Output("case-level", "value"),
        Output("case-handler", "value"),
        Output("case-result", "children"),
        Output("form-case", "data"),
        Input("case-id", "data"),
    )
    def reset_inputs(case_id):
        """Another case opened: its inputs start empty, and they belong to it (``form-case``)."""
        return "", None, None, "", "", case_id

    @app.callback(
        Output("case-result", "children", allow_duplicate=True),
        Output("case-note", "value", allow_duplicate=True),
        Input({"type": "case-action", "action": ALL}, "n_clicks"),
        State("case-version", "data"),
        State("form-case", "data"),
        State("case-note", "value"),
        State("case-dept", "value"),
        State("case-level", "value"),
        State("case-handler", "value"),
        State("console-config", "data"),
        prevent_initial_call=True,
    )
    def do_action(clicks, case, form_case, note, dept, level, handler, cfg):
        trig = ctx.triggered_id
        if not isinstance(trig, dict) or not case or not any(clicks or []):
            return no_update, no_update
        lang = cfg["lang"]
        if form_case != case.get("id"):
            # the inputs were filled for another case (it was switched meanwhile): nothing is done
            return html.Span(t("form_other_case", lang), className="cn-error"), no_update
        data = {k: v.strip() for k, v in (("department", dept), ("level", level), ("handler", handler))
                if v and v.strip()}
        p = auth.require_page(require_principal(), "console")
        iid = uuid.UUID(str(case["id"]))
        auth.require_action(p, rt.store.get_incident(iid, with_events=False), trig["action"])
        try:
            res = commands().act(iid, trig["action"], expected_version=case["version"],
                                 actor=p.label, note=(note or "").strip(), data=data)
        except ActionError as exc:
            return html.Span(action_error_text(exc, trig["action"], lang), className="cn-error"), no_update
        # a note is said once: the next step starts without it
        return f"{t('done_ok', lang)}: {pick(ACTION_NAMES[res.action], lang)} (v{res.version})", ""

    @app.callback(
        Output("bulk-result", "children"),
        Input("bulk-assign", "n_clicks"),
        State("case-grid", "selectedRows"),
        State("bulk-dept", "value"),
        State("console-config", "data"),
        prevent_initial_call=True,
    )
    def bulk_assign(_n, rows, dept, cfg):
        lang = cfg["lang"]
        if not rows or not dept:
            return t("col_department", lang) + "?"
        cmd, ok, refused = commands(), 0, 0
        p = auth.require_page(require_principal(), "console")
        for row in rows:
            iid = uuid.UUID(str(row["id"]))
            inc = rt.store.get_incident(iid, with_events=False)
            if not ({"accept", "assign"} <= auth.allowed_actions(p, inc or {})):
                refused += 1  # not this principal's case (or not stored yet): nothing is done
                continue
            cmd.ensure_head(iid)
            head = rt.redis.hgetall(head_key(iid))
            try:
                if head[b"s"] == b"reported":  # accept first: 受理 before 交办
                    cmd.act(iid, "accept", expected_version=int(head[b"v"]), actor=p.label)
                    head = rt.redis.hgetall(head_key(iid))
                cmd.act(iid, "assign", expected_version=int(head[b"v"]), actor=p.label,
                        data={"department": dept})
                ok += 1
            except ActionError:
                refused += 1
        msg = t("assigned_n", lang).format(n=ok)
        return msg + ("; " + t("conflicts_n", lang).format(n=refused) if refused else "")
