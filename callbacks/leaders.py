"""Callbacks of the leaders' view (placeholder: being written)."""


def register(app, services) -> None:
    return None
