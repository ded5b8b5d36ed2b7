"""each case's deadline outcomes on the projection (targets, hours to accept and close, due_at)

The figures become SQL aggregates over these columns (``dashboard.queries.figures``). Cases
stored before get them here, in batches, by the same function the fold uses.

Revision ID: 0006
Revises: 0005
"""
from types import SimpleNamespace

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_COLUMNS = (("accept_by", True), ("close_by", True), ("hours_to_accept", False),
            ("hours_to_close", False), ("due_at", True))
_BATCH = 5000


def upgrade() -> None:
    from dashboard.core.sla import default_policy
    from dashboard.store.incidents import deadline_outcomes
    from dashboard.store.models import UTCDateTime

    with op.batch_alter_table("incidents", schema=None) as batch_op:
        for name, is_time in _COLUMNS:
            batch_op.add_column(sa.Column(name, UTCDateTime() if is_time else sa.Float(), nullable=True))
        batch_op.create_index("ix_incidents_due_at", ["due_at"], unique=False)
        batch_op.create_index("ix_incidents_town_due", ["town_code", "due_at"], unique=False)

    conn = op.get_bind()
    sla = default_policy()
    t = sa.table("incidents", sa.column("id", sa.Uuid()), sa.column("reported_at", UTCDateTime()),
                 sa.column("accepted_at", UTCDateTime()), sa.column("closed_at", UTCDateTime()),
                 sa.column("status", sa.String()), sa.column("category", sa.String()),
                 sa.column("base_urgency", sa.String()),
                 *[sa.column(name, UTCDateTime() if is_time else sa.Float()) for name, is_time in _COLUMNS])
    update = (t.update().where(t.c.id == sa.bindparam("case_id"))
              .values({name: sa.bindparam(name) for name, _ in _COLUMNS}))
    last = None
    while True:
        q = sa.select(t.c.id, t.c.reported_at, t.c.accepted_at, t.c.closed_at, t.c.status,
                      t.c.category, t.c.base_urgency).order_by(t.c.id).limit(_BATCH)
        if last is not None:
            q = q.where(t.c.id > last)
        rows = conn.execute(q).all()
        if not rows:
            break
        conn.execute(update, [{"case_id": r.id, **deadline_outcomes(SimpleNamespace(**r._mapping), sla)}
                              for r in rows])
        last = rows[-1].id


def downgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index("ix_incidents_town_due")
        batch_op.drop_index("ix_incidents_due_at")
        for name, _ in reversed(_COLUMNS):
            batch_op.drop_column(name)
