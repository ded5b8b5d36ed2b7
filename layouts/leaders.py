"""The leaders' view (placeholder: being written)."""
from dash import html


def layout(*, principal, lang: str, query: dict, services):
    return html.Div("leaders", id="leaders-page")
