"""Pieces shared by the pages: who is signed in, and the sign-out button."""
from __future__ import annotations

from dash import dcc, html
from flask_wtf.csrf import generate_csrf

from dashboard.auth import ROLE_NAMES
from dashboard.i18n import pick, t


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
