"""dcc.Graph gets plotly.js's basic bundle (app.serve_basic_plotlyjs): Dash still asks for
plotly.js at that URL, the bundle is the plotly package's plotly.js version, it draws every
trace type the app's figures use, and pages that show no chart do not load it."""
from __future__ import annotations

import re
from pathlib import Path

import dash
import plotly.graph_objects as go
from plotly.basedatatypes import BaseTraceType
from plotly.offline import get_plotlyjs_version

from app import PLOTLYJS_BASIC, PLOTLYJS_PATH

ROOT = Path(__file__).resolve().parents[2]


def basic_header() -> str:
    return PLOTLYJS_BASIC.read_text("utf-8")[:200]


def test_dash_renderer_still_loads_plotlyjs_from_that_url():
    renderer = Path(dash.__file__).parent / "dash-renderer" / "build" / "dash_renderer.min.js"
    assert PLOTLYJS_PATH in renderer.read_text("utf-8")


def test_the_basic_bundle_is_the_plotly_packages_version():
    assert f"plotly.js (basic - minified) v{get_plotlyjs_version()}\n" in basic_header()


def test_the_basic_bundle_draws_every_trace_type_the_app_uses():
    bundle = PLOTLYJS_BASIC.read_text("utf-8")
    registered = set(re.findall(r'moduleType:"trace",name:"(\w+)"', bundle))
    assert registered == {"scatter", "bar", "pie"}
    used = set()
    for path in [*ROOT.glob("layouts/*.py"), *ROOT.glob("callbacks/*.py")]:
        source = path.read_text("utf-8")
        assert "plotly.express" not in source, f"{path.name}: plotly.express may make any trace type"
        for name in re.findall(r"\bgo\.([A-Z]\w*)\(", source):
            cls = getattr(go, name)
            if isinstance(cls, type) and issubclass(cls, BaseTraceType):
                used.add(cls().type)
    assert used and used <= registered, used - registered


def test_the_app_answers_dashs_plotlyjs_url_with_the_basic_bundle(app):
    c = app.test_client()  # public, like every component suite
    res = c.get("/" + PLOTLYJS_PATH)
    assert res.status_code == 200
    assert res.mimetype == "application/javascript"
    assert res.get_data(as_text=True).startswith(basic_header())
    assert c.get("/" + PLOTLYJS_PATH, headers={"If-None-Match": res.headers["ETag"]}).status_code == 304
    # Other files of Dash's component suites are still Dash's.
    assert c.get("/_dash-component-suites/dash_ag_grid/async-community.js").status_code == 200


def test_no_page_loads_plotlyjs_up_front(client):
    page = client.get("/screen").get_data(as_text=True)
    scripts = re.findall(r'<script[^>]* src="([^"]+)"', page)
    assert any("/dash/dcc/" in s for s in scripts)  # the page's scripts are there
    assert not [s for s in scripts if "plotly" in s.lower()]
