"""Dash layouts. No data access here: layouts take what they show as arguments."""
