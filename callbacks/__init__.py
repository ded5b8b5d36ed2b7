"""Dash callbacks, kept thin: read inputs, call dashboard/, shape outputs."""
