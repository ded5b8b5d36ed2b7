"""The Alembic migrations build exactly the schema the models describe, on both databases."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from dashboard.store.incidents import make_engine
from dashboard.store.migrations import current
from dashboard.store.models import Base


def test_migrated_schema_matches_the_models(db_url):
    assert current(db_url) == "0006"
    engine = make_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []
