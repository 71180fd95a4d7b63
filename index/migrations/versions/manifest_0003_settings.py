"""Manifest: settings (key, value), e.g. which embedder wrote the stored vectors. A manifest from before it
records none: the index then counts as made by the embedder of that time (index/reembed.py)."""

import sqlalchemy as sa
from alembic import op

revision = "manifest_0003"
down_revision = "manifest_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if not sa.inspect(op.get_bind()).has_table("settings"):
        op.create_table(
            "settings",
            sa.Column("key", sa.Text, primary_key=True),
            sa.Column("value", sa.Text, nullable=False))
