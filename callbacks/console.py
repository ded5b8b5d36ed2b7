"""Callbacks of the operator console. Thin: filters -> one SQL page of the list
(``Store.case_page``), actions -> dashboard.stream.commands, proposals -> dashboard.core.routing.

Scope comes from the signed-in principal (``dashboard.core.access``): the case list is filtered by the
principal's town or department whatever the filters say, a case outside it answers 404, and
an action the role may not take answers 403, before anything is written.
"""
from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import replace
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import dash_leaflet as dl
from dash import ALL, ClientsideFunction, Input, Output, State, ctx, html, no_update
from dash.exceptions import PreventUpdate

from dashboard.core import access
from dashboard.core.access import AccessDenied
from dashboard.core.actions import ACTIONS, MAX_STEP_PHOTOS, PHOTO_ACTIONS, ActionError
from dashboard.core.domain import OPEN_STATUSES, STATUS_NAMES, URGENCY_STYLE, allowed_events, categories
from dashboard.core.routing import propose
from dashboard.core.sla import default_policy
from dashboard.i18n import ACTION_NAMES, pick, t
from dashboard.store import photos
from dashboard.store.incidents import CASE_SORT_KEYS, CaseQuery
from dashboard.stream.commands import Commands
from dashboard.stream.heads import head_key
from dashboard.web.security import require_principal
from layouts.components import camera_tile, photo_items, timeline_items
from layouts.console import PAGE_SIZE, list_query

EVENT_ACTION = {v: k for k, v in ACTIONS.items()}
# The console's keys for the common steps (shown on the buttons; assets/griddash_console.js
# presses the button whose key is typed outside a text field) and the steps it confirms first.
ACTION_KEYS = {"accept": "A", "assign": "S", "route": "R", "start": "D", "resolve": "F", "close": "C",
               "supervise": "U", "escalate": "E", "return": "B", "reopen": "O"}
CONFIRM_ACTIONS = ("close", "return")
ALARM_SHOWN = 5  # red cases named in the alarm; the rest are counted


def _span(td, lang):
    secs = int(abs(td.total_seconds()))
    h, m = divmod(secs // 60, 60)
    d, h = divmod(h, 24)
    if d:
        return f"{d}天{h}小时" if lang != "en" else f"{d}d {h}h"
    if h:
        return f"{h}小时{m}分" if lang != "en" else f"{h}h {m}m"
    return f"{m}分钟" if lang != "en" else f"{m} min"


# The inputs each step takes from the case page (the rest are left out of its event).
ACTION_FIELDS = {"assign": ("department", "handler"), "route": ("department", "level"), "escalate": ("level",)}
FIELD_TEXT = {"note": "note", "department": "col_department", "level": "level", "handler": "handler",
              "photos": "photos"}


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
    windows = policy.windows(cats)
    geo = rt.geo
    grid_features = {f["properties"]["code"]: f for f in geo.grid_features}

    def commands():
        return Commands(rt.redis, rt.store, rt.settings.stream)

    def sla_text(case, now, lang, long=False):
        """The deadline the case waits for, in full (date and time), and the time left."""
        p = policy.pending(case)
        if p is None:
            return "", False
        stage, due, _ = p
        left = due - now
        label = t("accept_by" if stage == "accept" else "close_by", lang) if long else \
            pick(ACTION_NAMES["accept" if stage == "accept" else "resolve"], lang)
        when = due.astimezone(tz).strftime("%m-%d %H:%M")
        if left.total_seconds() < 0:
            return f"{label} {when} · {t('overdue_by', lang)} {_span(left, lang)}", True
        return f"{label} {when} · {t('remaining', lang)} {_span(left, lang)}", False

    def case_query(p, q: dict, *, until=True) -> CaseQuery:
        """The store query of a list snapshot, within the principal's scope (from the session,
        whatever the page sent)."""
        scope = access.case_filter(p)  # the principal's town or department
        town = q.get("town") or None
        if town and scope.get("town") not in (None, town):
            raise AccessDenied(f"not allowed outside town {scope['town']}")
        text = (q.get("text") or "").strip()[:64]
        grids = tuple(c for c, g in geo.grids.items() if text and text in g.name) if text else ()
        return CaseQuery(
            town=scope.get("town") or town, department=scope.get("department"),
            submitted_by=scope.get("submitted_by"),
            categories=tuple(q.get("categories") or ()), urgencies=tuple(q.get("urgencies") or ()),
            statuses=tuple(q.get("statuses") or ()), text=text, text_grid_codes=grids,
            overdue=bool(q.get("overdue")),
            until=datetime.fromisoformat(q["until"]) if until and q.get("until") else None)

    def row(r, now, lang):
        sla, late = sla_text(r, now, lang)
        g = geo.grids.get(r["grid_code"])
        c = cats.get(r["category"])
        return {
            "id": str(r["id"]), "short": r["id"].hex[:8],
            "reported": r["reported_at"].astimezone(tz).strftime("%m-%d %H:%M"),
            "town": (geo.towns.get(r["town_code"]) or {}).get("name_en" if lang == "en" else "name", ""),
            "grid": g.name if g else r["grid_code"],
            "category": (c.name_en if lang == "en" else c.name_zh) if c else r["category"],
            "u": r["urgency"], "urgency": f"{URGENCY_STYLE[r['urgency']]['symbol']} {t('legend_' + r['urgency'], lang)}",
            "status": pick(STATUS_NAMES[r["status"]], lang), "sla": sla, "overdue": late,
            "department": r["department"] or "", "description": r["description"],
        }

    # ------------------------------------------------------------------ the list
    @app.callback(
        Output("list-query", "data"),
        Input("f-town", "value"), Input("f-category", "value"), Input("f-urgency", "value"),
        Input("f-status", "value"), Input("f-search", "value"), Input("f-overdue", "value"),
        Input("new-bar", "n_clicks"),
        prevent_initial_call=True,
    )
    def set_query(town, cats_f, urg, status, text, overdue, _new):
        """New filters, or the "n new" bar clicked: a new snapshot of the list, taken now."""
        return list_query({"town": town, "categories": cats_f or [], "urgencies": urg or [],
                           "statuses": status or [], "text": text or "", "overdue": bool(overdue)})

    app.clientside_callback(ClientsideFunction("console", "reloadList"), Output("list-reloaded", "data"),
                            Input("list-query", "data"), Input("list-refresh", "data"), prevent_initial_call=True)

    @app.callback(
        Output("case-grid", "getRowsResponse"),
        Output("list-total", "children"),
        Input("case-grid", "getRowsRequest"),
        State("list-query", "data"),
        State("console-config", "data"),
    )
    def get_rows(req, q, cfg):
        lang = cfg["lang"]
        p = access.require_page(require_principal(), "console")
        if not req:
            return no_update, no_update
        q = q or list_query()
        start, end = int(req.get("startRow") or 0), int(req.get("endRow") or PAGE_SIZE)
        sort = [(s["colId"], s["sort"] == "desc") for s in req.get("sortModel") or []
                if s.get("colId") in CASE_SORT_KEYS]  # the grid's column ids are the store's sort keys
        now = datetime.now(timezone.utc)
        rows, total = rt.store.case_page(case_query(p, q), sort=sort, offset=start,
                                         limit=max(0, min(end - start, 5 * PAGE_SIZE)), windows=windows, now=now)
        # the count is the snapshot's: say when it was taken
        as_of = datetime.fromisoformat(q["until"]).astimezone(tz).strftime("%H:%M:%S")
        return {"rowData": [row(r, now, lang) for r in rows], "rowCount": total}, \
            f"{t('total_n', lang).format(n=total)} · {t('as_of_short', lang).format(t=as_of)}"

    @app.callback(
        Output("new-bar", "children"),
        Output("new-bar", "hidden"),
        Input("console-tick", "n_intervals"),
        Input("list-query", "data"),
        State("console-config", "data"),
    )
    def count_new(_n, q, cfg):
        """Cases reported after the list's snapshot, matching its filters: the bar's count."""
        p = access.require_page(require_principal(), "console")
        q = q or list_query()
        until = datetime.fromisoformat(q["until"])
        n = rt.store.count_cases(replace(case_query(p, q, until=False), after=until),
                                 windows=windows, now=datetime.now(timezone.utc))
        return t("new_n", cfg["lang"]).format(n=n), n == 0

    @app.callback(
        Output("console-alarm", "children"),
        Output("console-alarm", "hidden"),
        Output("alarm-ids", "data"),
        Input("console-tick", "n_intervals"),
        State("console-config", "data"),
    )
    def alarm(_n, cfg):
        """Red cases in the principal's scope that nobody has accepted yet: named until accepted."""
        lang = cfg["lang"]
        p = access.require_page(require_principal(), "console")
        if "accept" not in access.ROLE_ACTIONS.get(p.role, ()):
            return [], True, []
        q = replace(case_query(p, {}, until=False), urgencies=("red",), statuses=("reported",))
        total = rt.store.count_cases(q)
        if not total:
            return [], True, []
        now = datetime.now(timezone.utc)
        shown = rt.store.newest_cases(q, limit=ALARM_SHOWN)
        items = []
        for r in shown:
            c = cats.get(r["category"])
            g = geo.grids.get(r["grid_code"])
            mins = max(0, int((now - r["reported_at"]).total_seconds() // 60))
            name = (c.name_en if lang == "en" else c.name_zh) if c else r["category"]
            items.append(html.Button(
                f"{URGENCY_STYLE['red']['symbol']} {name} · {g.name if g else r['grid_code']} · "
                f"{t('minutes_ago', lang).format(n=mins)}",
                id={"type": "alarm-case", "id": str(r["id"])}, className="cn-alarm-case"))
        more = [html.Span(t("alarm_more", lang).format(n=total - len(shown)), className="cn-alarm-more")] \
            if total > len(shown) else []
        return [html.Span(t("alarm_console", lang).format(n=total), className="cn-alarm-title"), *items, *more], \
            False, [str(r["id"]) for r in shown]

    app.clientside_callback(ClientsideFunction("console", "alarmSound"), Output("alarm-sounded", "data"),
                            Input("alarm-ids", "data"), State("console-config", "data"), prevent_initial_call=True)

    @app.callback(Output("case-id", "data"), Input("case-grid", "cellClicked"),
                  Input({"type": "alarm-case", "id": ALL}, "n_clicks"), prevent_initial_call=True)
    def pick_case(cell, _alarm):
        trig = ctx.triggered_id
        if isinstance(trig, dict):  # a case named in the alarm
            return trig["id"] if any(_alarm or []) else no_update
        if trig != "case-grid":  # the alarm's list of cases changed: nobody picked anything
            return no_update
        return (cell or {}).get("rowId") or no_update

    # ------------------------------------------------------------------ the case
    @app.callback(
        Output("case-detail", "children"),
        Output("case-more", "children"),
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
            return no_update, no_update, no_update, no_update
        lang = cfg["lang"]
        p = access.require_page(require_principal(), "console")
        inc = rt.store.get_incident(uuid.UUID(case_id))
        if inc is None:
            return html.Div(t("version_pending", lang)), [], [], no_update
        access.require_case(p, inc)
        head = rt.redis.hgetall(head_key(inc["id"]))
        version = int(head[b"v"]) if head else inc["version"]
        status = head[b"s"].decode() if head else inc["status"]
        state = {"id": case_id, "version": version, "stored": inc["version"], "minute": _n // 20 if _n else 0}
        if shown == state:  # nothing new (the countdown is redrawn about once a minute)
            return no_update, no_update, no_update, no_update
        now = datetime.now(timezone.utc)
        sla, late = sla_text(inc, now, lang, long=True)
        c = cats.get(inc["category"])
        grid = geo.grids.get(inc["grid_code"])
        timeline = timeline_items(inc["events"], tz, lang)
        photos = photo_items(inc["photos"], lang)
        # cameras for the roles that may watch them (dashboard/web/cameras.py): not a handler
        near = [] if p.role == "handler" else cams.nearest(inc["lat"], inc["lon"], k=2, town=access.town_scope(p))
        feature = grid_features.get(inc["grid_code"])
        color = URGENCY_STYLE[inc["urgency"]]["color"]
        case_map = dl.Map(id="case-map", center=[inc["lat"], inc["lon"]], zoom=15, className="cn-map",
                          attributionControl=False, keyboard=False, children=[
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
            html.Div(f"{t('col_id', lang)} {inc['id'].hex[:8]}", className="cn-case-id", title=str(inc["id"])),
            html.Div(inc["description"], className="sc-detail-desc"),
            html.Div(f"{(geo.towns.get(inc['town_code']) or {}).get('name_en' if lang == 'en' else 'name', '')} · "
                     f"{grid.name if grid else inc['grid_code']} · {inc['reporter']}", className="sc-detail-meta"),
            *([html.Div(f"{t('col_department', lang)}: {inc['department']}", className="sc-detail-meta")]
              if inc.get("department") else []),
            html.Div(sla or pick(STATUS_NAMES[status], lang), className="cn-sla" + (" cn-overdue" if late else ""),
                     id="case-sla"),
            *([html.Div(t("version_pending", lang), className="cn-hint")] if version > inc["version"] else []),
        ]
        more = [
            case_map,
            html.Div(t("detail_timeline", lang), className="sc-detail-sub"),
            html.Ul(timeline, className="sc-timeline", id="case-timeline"),
            *([html.Div(photos)] if photos else []),
            *([html.Div(t("detail_cameras", lang), className="sc-detail-sub"),
               html.Div(className="sc-detail-cams", children=[camera_tile(n.camera, cams, now, tz, lang, small=True)
                                                            for n in near])] if near else []),
        ]
        mine = access.allowed_actions(p, inc)
        buttons = []
        for e in allowed_events(status):
            action = EVENT_ACTION.get(e)
            if action is None or action not in mine:
                continue
            key = ACTION_KEYS.get(action)
            buttons.append(html.Button(
                [html.Span(pick(ACTION_NAMES[action], lang), className="cn-act"),
                 *([html.Kbd(key, className="cn-key")] if key else [])],
                className="cn-btn" + (" cn-btn-danger" if action in CONFIRM_ACTIONS else ""),
                id={"type": "case-action", "action": action}, accessKey=(key or "").lower() or None,
                title=f"{pick(ACTION_NAMES[action], lang)} ({t('shortcut', lang)} {key})" if key else None,
                **{"data-key": key or ""}))
        return detail, more, buttons, state

    @app.callback(
        Output("case-note", "value"),
        Output("case-dept", "value"),
        Output("case-dept-hint", "children"),
        Output("case-level", "value"),
        Output("case-handler", "value"),
        Output("case-result", "children"),
        Output("case-pending", "data"),
        Output("form-case", "data"),
        Output("case-photos", "contents"),
        Output("case-photos", "filename"),
        Input("case-id", "data"),
        State("form-case", "data"),
        State("console-config", "data"),
    )
    def reset_inputs(case_id, form_case, cfg):
        """Another case opened: its inputs start empty, and they belong to it (``form-case``);
        the department is the routing table's proposal for its category and town. The case
        already open, picked again (another cell of its row), keeps what was typed."""
        if case_id and case_id == form_case:
            raise PreventUpdate
        dept, hint = None, ""
        if case_id:
            p = access.require_page(require_principal(), "console")
            inc = rt.store.get_incident(uuid.UUID(case_id), with_events=False)
            if inc is not None and inc["status"] in OPEN_STATUSES and {"assign", "route"} & access.allowed_actions(p, inc):
                dept = propose(inc["category"], inc["town_code"])
                hint = f"{t('proposed', cfg['lang'])}: {dept}"
        return "", dept, hint, None, "", "", None, case_id, None, None

    @app.callback(Output("case-photos-names", "children"), Input("case-photos", "filename"),
                  State("console-config", "data"))
    def photo_names(names, cfg):
        return t("photos_chosen", cfg["lang"]).format(names="、".join(names)) if names else ""

    @app.callback(
        Output("case-result", "children", allow_duplicate=True),
        Output("case-note", "value", allow_duplicate=True),
        Output("case-pending", "data", allow_duplicate=True),
        Output("list-refresh", "data"),
        Output("case-photos", "contents", allow_duplicate=True),
        Output("case-photos", "filename", allow_duplicate=True),
        Input({"type": "case-action", "action": ALL}, "n_clicks"),
        Input("case-confirm-yes", "n_clicks"),
        Input("case-confirm-no", "n_clicks"),
        State("case-pending", "data"),
        State("case-photos", "contents"),
        State("case-photos", "filename"),
        State("case-version", "data"),
        State("form-case", "data"),
        State("case-note", "value"),
        State("case-dept", "value"),
        State("case-level", "value"),
        State("case-handler", "value"),
        State("list-refresh", "data"),
        State("console-config", "data"),
        prevent_initial_call=True,
    )
    def do_action(clicks, _yes, _no, pending, photo_data, photo_names, case, form_case, note, dept, level, handler,
                  refresh, cfg):
        trig = ctx.triggered_id
        lang = cfg["lang"]
        keep = no_update
        if trig == "case-confirm-no":
            return "", keep, None, keep, keep, keep
        if trig == "case-confirm-yes":
            if not pending or not case or pending.get("case") != case.get("id"):
                return keep, keep, None, keep, keep, keep
            action = pending["action"]
        elif isinstance(trig, dict) and case and any(clicks or []):
            action = trig["action"]
            if action in CONFIRM_ACTIONS:  # asked first; done on 确认
                return "", keep, {"action": action, "case": case.get("id")}, keep, keep, keep
        else:
            return keep, keep, keep, keep, keep, keep

        def refused(text):
            return html.Span(text, className="cn-error"), keep, None, keep, keep, keep

        if form_case != case.get("id"):
            # the inputs were filled for another case (it was switched meanwhile): nothing is done
            return refused(t("form_other_case", lang))
        fields = {"department": dept, "level": level, "handler": handler}
        data = {k: v.strip() for k, v in fields.items() if k in ACTION_FIELDS.get(action, ()) and v and v.strip()}
        p = access.require_page(require_principal(), "console")
        iid = uuid.UUID(str(case["id"]))
        access.require_action(p, rt.store.get_incident(iid, with_events=False), action)
        checked = []
        if action in PHOTO_ACTIONS and photo_data:
            # the result's photos: the same checks as a report's (dashboard/store/photos.py)
            if len(photo_data) > MAX_STEP_PHOTOS:
                return refused(t("err_photos_n", lang).format(n=MAX_STEP_PHOTOS))
            for name, url in zip(photo_names or [], photo_data):
                try:
                    raw = base64.b64decode(url.split(",", 1)[1], validate=True)
                    checked.append(photos.check_photo(raw, name, rt.settings.max_photo_bytes))
                except (IndexError, ValueError, binascii.Error) as exc:
                    why = t("photo_too_big" if getattr(exc, "status", 422) == 413 else "photo_not_image", lang)
                    return refused(t("err_photo", lang).format(name=name, why=why))
        try:  # a refused step keeps none of its photos
            with photos.kept_if_done(rt.settings.photos_path, iid, checked) as urls:
                res = commands().act(iid, action, expected_version=case["version"], actor=p.label,
                                     note=(note or "").strip(), data=data, photos=urls)
        except ActionError as exc:
            return refused(action_error_text(exc, action, lang))
        # a note is said once: the next step starts without it (and without the photos)
        return f"{t('done_ok', lang)}: {pick(ACTION_NAMES[res.action], lang)} (v{res.version})", "", None, \
            (refresh or 0) + 1, *((None, None) if checked else (keep, keep))

    @app.callback(
        Output("case-confirm", "hidden"),
        Output("case-confirm-text", "children"),
        Input("case-pending", "data"),
        State("console-config", "data"),
    )
    def confirm_box(pending, cfg):
        if not pending:
            return True, ""
        return False, t("confirm_q", cfg["lang"]).format(action=pick(ACTION_NAMES[pending["action"]], cfg["lang"]))

    @app.callback(
        Output("bulk-result", "children"),
        Output("list-refresh", "data", allow_duplicate=True),
        Input("bulk-assign", "n_clicks"),
        State("case-grid", "selectedRows"),
        State("bulk-dept", "value"),
        State("list-refresh", "data"),
        State("console-config", "data"),
        prevent_initial_call=True,
    )
    def bulk_assign(_n, rows, dept, refresh, cfg):
        """Accept where needed and assign each selected case: to the chosen department, else to
        the routing table's proposal for its category and town."""
        lang = cfg["lang"]
        if not rows:
            return t("pick_case", lang), no_update
        cmd, ok, refused = commands(), 0, 0
        p = access.require_page(require_principal(), "console")
        for r in rows:
            iid = uuid.UUID(str(r["id"]))
            inc = rt.store.get_incident(iid, with_events=False)
            if not ({"accept", "assign"} <= access.allowed_actions(p, inc or {})):
                refused += 1  # not this principal's case (or not stored yet): nothing is done
                continue
            cmd.ensure_head(iid)
            head = rt.redis.hgetall(head_key(iid))
            try:
                if head[b"s"] == b"reported":  # accept first: 受理 before 交办
                    cmd.act(iid, "accept", expected_version=int(head[b"v"]), actor=p.label)
                    head = rt.redis.hgetall(head_key(iid))
                cmd.act(iid, "assign", expected_version=int(head[b"v"]), actor=p.label,
                        data={"department": dept or propose(inc["category"], inc["town_code"])})
                ok += 1
            except ActionError:
                refused += 1
        msg = t("assigned_n", lang).format(n=ok)
        return msg + ("; " + t("conflicts_n", lang).format(n=refused) if refused else ""), (refresh or 0) + 1
