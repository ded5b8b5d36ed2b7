"""The Alembic migrations build exactly the schema the models describe, on both databases."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from dashboard.migrations import current
from dashboard import accounts  # noqa: F401  (users and api_keys are part of the schema)
from dashboard.store import Base, make_engine


def test_migrated_schema_matches_the_models(db_url):
    assert current(db_url) == "0005"
    engine = make_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []
