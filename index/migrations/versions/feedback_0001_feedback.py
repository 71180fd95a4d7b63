"""Feedback, as first released: one row per rating of an answer.

Releases before versioned schemas created the table with IF NOT EXISTS, so one that is already there is kept."""

import sqlalchemy as sa
from alembic import op

revision = "feedback_0001"
down_revision = None
branch_labels = ("feedback",)
depends_on = None


def upgrade() -> None:
    if not sa.inspect(op.get_bind()).has_table("feedback"):
        op.create_table(
            "feedback",
            sa.Column("id", sa.Integer, primary_key=True),  # INTEGER PRIMARY KEY: the rowid, numbered by SQLite
            sa.Column("at", sa.Text, nullable=False),
            sa.Column("user", sa.Text),
            sa.Column("rating", sa.Text, nullable=False),  # "up" or "down"
            sa.Column("comment", sa.Text, nullable=False),
            sa.Column("history", sa.Text, nullable=False),  # JSON: the turns before the question
            sa.Column("answer", sa.Text, nullable=False))  # JSON: the rated answer
