"""Users, and an owner for every task.

Tasks created before this migration have no owner (NULL) and are served to nobody.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("username", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
        sqlite_autoincrement=True,
    )
    op.drop_index("ix_tasks_priority_id", table_name="tasks")
    op.drop_index("ix_tasks_completed_id", table_name="tasks")
    with op.batch_alter_table("tasks", recreate="auto", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.add_column(sa.Column("owner_id", Id, nullable=True))
        batch.create_foreign_key(op.f("fk_tasks_owner_id_users"), "users", ["owner_id"], ["id"], ondelete="CASCADE")
    op.create_index("ix_tasks_owner_id_id", "tasks", ["owner_id", "id"])
    op.create_index("ix_tasks_owner_id_completed_id", "tasks", ["owner_id", "completed", "id"])
    op.create_index("ix_tasks_owner_id_priority_id", "tasks", ["owner_id", "priority", "id"])


def downgrade() -> None:
    op.drop_index("ix_tasks_owner_id_priority_id", table_name="tasks")
    op.drop_index("ix_tasks_owner_id_completed_id", table_name="tasks")
    op.drop_index("ix_tasks_owner_id_id", table_name="tasks")
    with op.batch_alter_table("tasks", recreate="auto", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_constraint(op.f("fk_tasks_owner_id_users"), type_="foreignkey")
        batch.drop_column("owner_id")
    op.create_index("ix_tasks_completed_id", "tasks", ["completed", "id"])
    op.create_index("ix_tasks_priority_id", "tasks", ["priority", "id"])
    op.drop_table("users")
