"""Conversations, as first released: one row per saved chat, its answers stored whole as JSON.

Releases before versioned schemas created the table with IF NOT EXISTS, so one that is already there is kept."""

import sqlalchemy as sa
from alembic import op

revision = "conversations_0001"
down_revision = None
branch_labels = ("conversations",)
depends_on = None


def upgrade() -> None:
    if not sa.inspect(op.get_bind()).has_table("conversations"):
        op.create_table(
            "conversations",
            sa.Column("id", sa.Text, primary_key=True),
            sa.Column("user", sa.Text),  # None without a login
            sa.Column("title", sa.Text, nullable=False),
            sa.Column("created", sa.Text, nullable=False),
            sa.Column("updated", sa.Text, nullable=False),
            sa.Column("turns", sa.Integer, nullable=False),
            sa.Column("answers", sa.Text, nullable=False))
