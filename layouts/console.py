"""The operator console: a filterable case list (AG Grid) and the case page with its actions."""
from __future__ import annotations

import dash_ag_grid as dag
from dash import dcc, html

from dashboard.auth import ROLE_ACTIONS
from dashboard.domain import STATUS_NAMES, URGENCY_STYLE
from dashboard.i18n import pick, t
from layouts.common import user_bar


def layout(*, lang: str, towns: dict, categories: dict, departments: dict, town: str | None, principal=None):
    """``towns`` are the towns the principal may see (one for a town's operator)."""
    may = ROLE_ACTIONS.get(principal.role, frozenset()) if principal is not None else None
    can_assign = may is None or "assign" in may
    # only the inputs of the steps this role may take (a handler: start, resolve, return)
    needs_dept = may is None or bool({"assign", "route"} & may)
    needs_level = may is None or "escalate" in may
    def opts(pairs):
        return [{"label": label, "value": value} for value, label in pairs]

    town_opts = opts((c, r["name_en"] if lang == "en" else r["name"]) for c, r in towns.items())
    cat_opts = opts((c.code, c.name_en if lang == "en" else c.name_zh) for c in categories.values())
    urg_opts = opts((u, v["en"] if lang == "en" else v["zh"]) for u, v in URGENCY_STYLE.items())
    status_opts = opts((s, pick(n, lang)) for s, n in STATUS_NAMES.items())
    dept_opts = opts((d.name_zh, d.name_en if lang == "en" else d.name_zh) for d in departments.values())
    columns = [
        {"field": "reported", "headerName": t("col_reported", lang), "width": 130, "sort": "desc"},
        {"field": "town", "headerName": t("col_town", lang), "width": 110},
        {"field": "grid", "headerName": t("col_grid", lang), "width": 170},
        {"field": "category", "headerName": t("col_category", lang), "width": 130},
        {"field": "urgency", "headerName": t("col_urgency", lang), "width": 90,
         "cellClassRules": {"cn-red": "params.data.u === 'red'", "cn-yellow": "params.data.u === 'yellow'",
                            "cn-green": "params.data.u === 'green'"}},
        {"field": "status", "headerName": t("status", lang), "width": 110},
        {"field": "sla", "headerName": t("col_sla", lang), "width": 150,
         "cellClassRules": {"cn-overdue": "params.data.overdue"}},
        {"field": "department", "headerName": t("col_department", lang), "width": 130},
        {"field": "description", "headerName": t("col_description", lang), "flex": 1, "minWidth": 200},
    ]
    return html.Div(className="cn-root", children=[
        html.Div(className="cn-header", children=[
            html.Span(t("title", lang), className="cn-title"),
            html.Span(t("console", lang), className="cn-sub"),
            html.Span(t("demo_badge", lang), className="sc-badge"),
            html.Span(className="sc-spacer"),
            user_bar(principal, lang),
        ]),
        html.Div(className="cn-filters", children=[
            dcc.Dropdown(id="f-town", options=town_opts, value=town, placeholder=t("col_town", lang),
                         clearable=len(towns) > 1),
            dcc.Dropdown(id="f-category", options=cat_opts, multi=True, placeholder=t("col_category", lang)),
            dcc.Dropdown(id="f-urgency", options=urg_opts, multi=True, placeholder=t("col_urgency", lang)),
            dcc.Dropdown(id="f-status", options=status_opts, multi=True, placeholder=t("status", lang),
                         value=["reported", "accepted", "assigned", "in_progress", "resolved"]),
            dcc.Input(id="f-grid", placeholder=t("col_grid", lang), debounce=True),
            dcc.Checklist(id="f-overdue", options=[{"label": t("kpi_overdue", lang), "value": "overdue"}], value=[]),
        ]),
        html.Div(className="cn-body", children=[
            html.Div(className="cn-list", children=[
                dag.AgGrid(id="case-grid", columnDefs=columns, rowData=[], getRowId="params.data.id",
                           defaultColDef={"sortable": True, "resizable": True, "filter": True},
                           dashGridOptions={"rowSelection": {"mode": "multiRow"}, "animateRows": False},
                           style={"height": "100%"}, className="ag-theme-quartz-dark"),
                html.Div(className="cn-bulk", hidden=not can_assign, children=[
                    dcc.Dropdown(id="bulk-dept", options=dept_opts, placeholder=t("col_department", lang)),
                    html.Button(t("bulk_assign", lang), id="bulk-assign", className="cn-btn"),
                    html.Span(id="bulk-result", className="cn-msg"),
                ]),
            ]),
            html.Div(id="case-panel", className="cn-case", children=[
                html.Div(id="case-detail", children=html.Div(t("pick_case", lang), className="cn-hint")),
                html.Div(className="cn-action-area", children=[
                    html.Div(id="case-buttons", className="cn-buttons"),
                    dcc.Input(id="case-note", placeholder=t("note", lang), className="cn-note"),
                    html.Div(hidden=not needs_dept, id="case-assign-inputs", children=[
                        dcc.Dropdown(id="case-dept", options=dept_opts, placeholder=t("col_department", lang)),
                        dcc.Input(id="case-handler", placeholder=t("handler", lang), className="cn-note"),
                    ]),
                    html.Div(hidden=not needs_level, id="case-level-input", children=[
                        dcc.Dropdown(id="case-level", options=opts((lv, t(f"level_{lv}", lang)) for lv in
                                                                   ("village", "town", "district")),
                                     placeholder=t("level", lang)),
                    ]),
                    html.Div(id="case-result", className="cn-msg"),
                ]),
            ]),
        ]),
        dcc.Store(id="console-config", data={"lang": lang}),
        dcc.Store(id="case-id"),
        dcc.Store(id="case-version"),
        dcc.Store(id="form-case"),  # the case the action inputs were filled for (reset on every open)
        dcc.Interval(id="console-tick", interval=3000),
    ])
