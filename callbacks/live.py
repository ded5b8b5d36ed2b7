"""Live refresh of the first page: one snapshot per change, nothing sent when unchanged."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from dash import Input, Output, State, no_update

from dashboard.i18n import t


def register(app, live_view, timezone: str) -> None:
    tz = ZoneInfo(timezone)

    @app.callback(
        Output("incident-layer", "data"),
        Output("grid-layer", "hideout"),
        Output("open-total", "children"),
        Output("open-red", "children"),
        Output("open-yellow", "children"),
        Output("open-green", "children"),
        Output("data-as-of", "children"),
        Output("live-status", "children"),
        Output("live-status", "className"),
        Output("live-version", "data"),
        Input("live-tick", "n_intervals"),
        State("live-version", "data"),
        State("grid-layer", "hideout"),
        State("lang", "data"),
    )
    def refresh(_n, known_version, hideout, lang):
        try:
            snap = live_view.snapshot()
        except Exception:
            stale = (no_update,) * 7 + (t("stale", lang), "gd-status stale", no_update)
            return stale
        # The version was checked just now, so the data is current as of now.
        as_of = datetime.now(tz).strftime("%H:%M:%S")
        status = (t("live", lang), "gd-status live")
        if snap.version == known_version:
            return (no_update,) * 6 + (as_of, *status, no_update)
        c = snap.counts
        new_hideout = {**(hideout or {}), "urgency": snap.grid_urgency}
        return (snap.markers, new_hideout, sum(c.values()), c["red"], c["yellow"], c["green"],
                as_of, *status, snap.version)
