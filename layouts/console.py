"""The operator console: filters, a case list read page by page from the server (AG Grid's
infinite row model), the red-case alarm, and the case page with its actions.

The list holds still: it shows the cases reported up to its snapshot time (``list-query``); the
cases reported since are counted in the "n new" bar and inserted on click. Tab order follows the
page: filters, the list (Tab enters at the first case and leaves after it; Enter opens the
case), then the case's actions, then its details.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import dash_ag_grid as dag
from dash import dcc, html

from dashboard.core.access import ROLE_ACTIONS
from dashboard.core.domain import ESCALATION_LEVELS, OPEN_STATUSES, STATUS_NAMES, URGENCY_STYLE
from dashboard.i18n import DROPDOWN_LABELS, pick, t
from layouts.components import user_bar

PAGE_SIZE = 100  # rows per request of the list
DEFAULT_STATUSES = list(OPEN_STATUSES)

# The grid in the page's colours (AG Grid's theming API, dark scheme): every text >= 4.5:1.
GRID_THEME = ("agGrid.themeQuartz.withPart(agGrid.colorSchemeDark).withParams({"
              "backgroundColor: '#0b1420', foregroundColor: '#e6edf3', textColor: '#e6edf3', "
              "headerBackgroundColor: '#101d2c', headerTextColor: '#e6edf3', chromeBackgroundColor: '#101d2c', "
              "oddRowBackgroundColor: '#0e1a28', borderColor: '#1f3a57', accentColor: '#58a6ff', "
              "selectedRowBackgroundColor: '#1d3350', rowHoverColor: '#15273d', "
              "fontFamily: 'inherit', fontSize: 15, headerFontSize: 15, "
              "checkboxUncheckedBorderColor: '#9fb3c8', browserColorScheme: 'dark'})")


def list_query(filters: dict | None = None, now: datetime | None = None) -> dict:
    """The list's snapshot: its filters and the time it holds still at (JSON for a dcc.Store)."""
    f = {"town": None, "categories": [], "urgencies": [], "statuses": DEFAULT_STATUSES, "text": "",
         "overdue": False, **(filters or {})}
    return {**f, "until": (now or datetime.now(timezone.utc)).isoformat()}


@lru_cache(maxsize=1)
def _locale_zh() -> dict:
    """AG Grid's own texts in simplified Chinese (layouts/vendor/README.md says where from)."""
    return json.loads((Path(__file__).parent / "vendor" / "ag_grid_locale_zh_cn.json").read_text("utf-8"))


def grid_options(lang: str) -> dict:
    opts = {
        "theme": {"function": GRID_THEME},
        "rowSelection": {"mode": "multiRow", "headerCheckbox": False},
        "cacheBlockSize": PAGE_SIZE, "maxBlocksInCache": 20, "infiniteInitialRowCount": 1,
        "animateRows": False, "enableCellTextSelection": True, "ensureDomOrder": True,
        "suppressCellFocus": False,
        # Tab leaves the list instead of walking it cell by cell (arrows move inside it)
        "tabToNextCell": {"function": "false"},
        "tabToNextHeader": {"function": "false"},
        # Tab into the list lands on the first case, not on a column header
        "focusGridInnerElement": {"function": "griddash.console.focusFirstCase(params)"},
    }
    # AG Grid's own texts in the page's language (its English, but for the empty list's text)
    opts["localeText"] = _locale_zh() if lang != "en" else {"noRowsToShow": t("no_rows", lang)}
    return opts


# Column widths (px) that show whole words in each language within a 1920 px wide desk screen.
COLUMN_WIDTHS = {
    "zh": {"id": 108, "reported": 125, "urgency": 95, "status": 95, "town": 90, "category": 140, "description": 180},
    "en": {"id": 108, "reported": 120, "urgency": 110, "status": 110, "town": 115, "category": 150,
           "description": 120},
}


def columns(lang: str) -> list[dict]:
    w = COLUMN_WIDTHS["en" if lang == "en" else "zh"]
    urg_rules = {f"cn-{u}": f"params.data && params.data.u === '{u}'" for u in URGENCY_STYLE}
    return [
        {"field": "short", "headerName": t("col_id", lang), "width": w["id"], "colId": "id", "sortable": False,
         "tooltipField": "id"},
        {"field": "reported", "headerName": t("col_reported", lang), "width": w["reported"], "sortable": True,
         "sort": "desc"},
        {"field": "urgency", "headerName": t("col_urgency", lang), "width": w["urgency"], "sortable": True,
         "cellClassRules": urg_rules},
        {"field": "status", "headerName": t("status", lang), "width": w["status"], "sortable": True},
        {"field": "sla", "headerName": t("col_sla", lang), "width": 280, "sortable": True, "colId": "due",
         "tooltipField": "sla", "cellClassRules": {"cn-overdue": "params.data && params.data.overdue"}},
        {"field": "town", "headerName": t("col_town", lang), "width": w["town"], "sortable": True},
        {"field": "grid", "headerName": t("col_grid", lang), "width": 150, "sortable": True},
        {"field": "category", "headerName": t("col_category", lang), "width": w["category"], "sortable": True},
        {"field": "department", "headerName": t("col_department", lang), "width": 130, "sortable": True},
        {"field": "description", "headerName": t("col_description", lang), "flex": 1, "minWidth": w["description"],
         "sortable": False, "tooltipField": "description"},
    ]


def layout(*, lang: str, towns: dict, categories: dict, departments: dict, town: str | None, principal=None,
           query: dict | None = None, sound: bool = False, max_photo_bytes: int = 8 * 1024 * 1024):
    """``towns`` are the towns the principal may see (one for a town's operator); ``query`` the
    list's first snapshot (``callbacks.console.list_query``)."""
    may = ROLE_ACTIONS.get(principal.role, frozenset()) if principal is not None else None
    can_assign = may is None or "assign" in may
    # only the inputs of the steps this role may take (a handler: start, resolve, return)
    needs_dept = may is None or bool({"assign", "route"} & may)
    needs_level = may is None or bool({"escalate", "route"} & may)
    may_resolve = may is None or "resolve" in may
    def opts(pairs):
        return [{"label": label, "value": value} for value, label in pairs]

    town_opts = opts((c, r["name_en"] if lang == "en" else r["name"]) for c, r in towns.items())
    cat_opts = opts((c.code, c.name_en if lang == "en" else c.name_zh) for c in categories.values())
    urg_opts = opts((u, v["en"] if lang == "en" else v["zh"]) for u, v in URGENCY_STYLE.items())
    status_opts = opts((s, pick(n, lang)) for s, n in STATUS_NAMES.items())
    labels = DROPDOWN_LABELS["en" if lang == "en" else "zh"]
    dept_opts = opts((d.name_zh, d.name_en if lang == "en" else d.name_zh) for d in departments.values())
    return html.Div(className="cn-root", lang="en" if lang == "en" else "zh-CN", children=[
        html.Div(className="cn-header", children=[
            html.Span(t("title", lang), className="cn-title"),
            html.Span(t("console", lang), className="cn-sub"),
            html.Span(t("demo_badge", lang), className="sc-badge"),
            html.Span(className="sc-spacer"),
            html.A(t("switch_lang", lang), href="?lang=" + ("zh" if lang == "en" else "en"), className="cn-lang"),
            user_bar(principal, lang),
        ]),
        html.Div(id="console-alarm", className="cn-alarm", role="alert", hidden=True),
        html.Div(className="cn-filters", children=[
            dcc.Input(id="f-search", type="search", placeholder=t("search", lang), debounce=True,
                      className="cn-search"),
            dcc.Dropdown(labels=labels, id="f-town", options=town_opts, value=town, placeholder=t("col_town", lang),
                         clearable=len(towns) > 1),
            dcc.Dropdown(labels=labels, id="f-category", options=cat_opts, multi=True, placeholder=t("col_category", lang)),
            dcc.Dropdown(labels=labels, id="f-urgency", options=urg_opts, multi=True, placeholder=t("col_urgency", lang)),
            dcc.Dropdown(labels=labels, id="f-status", options=status_opts, multi=True, placeholder=t("status", lang),
                         value=DEFAULT_STATUSES),
            dcc.Checklist(id="f-overdue", options=[{"label": t("kpi_overdue", lang), "value": "overdue"}], value=[]),
        ]),
        html.Div(className="cn-body", children=[
            html.Div(className="cn-list", children=[
                html.Div(className="cn-list-bar", children=[
                    html.Span(id="list-total", className="cn-total"),
                    html.Button(id="new-bar", className="cn-new", hidden=True, n_clicks=0),
                ]),
                dag.AgGrid(id="case-grid", columnDefs=columns(lang), rowModelType="infinite",
                           getRowId="params.data.id", defaultColDef={"resizable": True, "sortable": False},
                           dashGridOptions=grid_options(lang), style={"height": "100%"}),
                html.Div(className="cn-bulk", hidden=not can_assign, children=[
                    dcc.Dropdown(labels=labels, id="bulk-dept", options=dept_opts, placeholder=t("bulk_routing", lang)),
                    html.Button(t("bulk_assign", lang), id="bulk-assign", className="cn-btn"),
                    html.Span(id="bulk-result", className="cn-msg"),
                ]),
            ]),
            html.Div(id="case-panel", className="cn-case", children=[
                html.Div(id="case-detail", children=html.Div(t("pick_case", lang), className="cn-hint")),
                html.Div(className="cn-action-area", children=[
                    html.Div(id="case-buttons", className="cn-buttons"),
                    html.Div(id="case-confirm", className="cn-confirm", hidden=True, children=[
                        html.Span(id="case-confirm-text"),
                        html.Button(t("confirm_yes", lang), id="case-confirm-yes", className="cn-btn cn-btn-danger"),
                        html.Button(t("confirm_no", lang), id="case-confirm-no", className="cn-btn cn-btn-plain"),
                    ]),
                    dcc.Textarea(id="case-note", placeholder=t("note", lang), className="cn-note", rows=2),
                    html.Div(hidden=not needs_dept, id="case-assign-inputs", className="cn-inline", children=[
                        dcc.Dropdown(labels=labels, id="case-dept", options=dept_opts, placeholder=t("col_department", lang)),
                        dcc.Input(id="case-handler", placeholder=t("handler", lang), className="cn-note"),
                    ]),
                    html.Div(id="case-dept-hint", className="cn-hint-small"),
                    html.Div(hidden=not may_resolve, id="case-photos-box", children=[
                        dcc.Upload(id="case-photos", multiple=True, max_size=max_photo_bytes,
                                   accept="image/jpeg,image/png,image/webp", className="cn-upload",
                                   children=html.Span(t("result_photos", lang))),
                        html.Div(id="case-photos-names", className="cn-hint-small"),
                    ]),
                    html.Div(hidden=not needs_level, id="case-level-input", children=[
                        dcc.Dropdown(labels=labels, id="case-level", options=opts((lv, t(f"level_{lv}", lang)) for lv in
                                                                   ESCALATION_LEVELS),
                                     placeholder=t("level", lang)),
                    ]),
                    html.Div(id="case-result", className="cn-msg", role="status"),
                ]),
                html.Div(id="case-more"),
            ]),
        ]),
        dcc.Store(id="console-config", data={"lang": lang, "sound": sound}),
        dcc.Store(id="list-query", data=query),
        dcc.Store(id="list-refresh", data=0),
        dcc.Store(id="case-id"),
        dcc.Store(id="case-version"),
        dcc.Store(id="case-pending"),  # the action waiting for its confirmation
        dcc.Store(id="form-case"),  # the case the action inputs were filled for (reset on every open)
        dcc.Store(id="alarm-ids"),
        dcc.Store(id="list-reloaded"), dcc.Store(id="alarm-sounded"),  # outputs of browser-side callbacks
        dcc.Interval(id="console-tick", interval=3000),
    ])
