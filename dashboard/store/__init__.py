"""The database's write side: every table (``models``), the one write path of events and
their projection (``incidents``), accounts, photo files and the Alembic migrations. No Flask or
Dash."""
