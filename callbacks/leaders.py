"""Callbacks of the leaders' view. Thin: the URL is the state; logic in dashboard/queries/leaders.py.

One callback keeps the URL, the filter controls and the content in step:

* a filter control changed: the new selection goes into the URL (``ld-url``, refresh=False:
  a history entry, no reload, so the link can be shared and the back button works) and the
  content is rendered for it;
* the URL changed (a drill-down link, the breadcrumb, back / forward): the controls are set
  from it and the content rendered, unless that selection is already shown (``ld-shown``);
* every minute (``ld-tick``): the content again, for the URL's selection.

The principal always comes from the session on the server (``require_principal``), never
from the page: a role without this page gets 403; the scope (which town) is applied by
``dashboard.queries.leaders.view_for``, and a selection outside it renders "not allowed", no data.
"""
from __future__ import annotations

from dash import Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from dashboard.core import access
from dashboard.queries import leaders
from dashboard.web.security import require_principal
from layouts import leaders as page

CONTROLS = ("ld-period", "ld-category", "ld-urgency", "ld-status", "ld-min")


def register(app, services) -> None:
    rt = services.runtime

    @app.callback(
        Output("ld-url", "search"),
        Output("ld-content", "children"),
        Output("ld-lang", "href"),
        Output("ld-shown", "data"),
        *[Output(c, "value") for c in CONTROLS],
        *[Input(c, "value") for c in CONTROLS],
        Input("ld-url", "search"),
        Input("ld-tick", "n_intervals"),
        State("ld-config", "data"),
        State("ld-shown", "data"),
        prevent_initial_call=True,
    )
    def sync(period, cats, urgs, status, min_cases, search, _tick, cfg, shown):
        # From the session on the server: 401 without one, 403 for a role without this page.
        p = access.require_page(require_principal(), "leaders")
        lang = (cfg or {}).get("lang", "zh")
        from_url = leaders.parse_query(leaders.query_of(search))
        trigger = ctx.triggered_id
        if trigger in CONTROLS:
            f = leaders.with_controls(from_url, period=period, categories=cats, urgencies=urgs,
                                      status=status, min_cases=min_cases)
            new_search = f.query_string(lang)
            if new_search == shown:
                raise PreventUpdate
            controls = (no_update,) * len(CONTROLS)
        elif trigger == "ld-url":
            f = from_url
            new_search = no_update
            if f.query_string(lang) == shown:
                raise PreventUpdate  # the page already shows this (its first render, our own push)
            controls = page.control_values(f)
        else:  # the minute's refresh
            f = from_url
            new_search = no_update
            controls = (no_update,) * len(CONTROLS)
        return (new_search, page.content_for(p, leaders.page_view(rt, p, f), lang, rt.geo), page.href(f, "zh" if lang == "en" else "en"),
                f.query_string(lang), *controls)
