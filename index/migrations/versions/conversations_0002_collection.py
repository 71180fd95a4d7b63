"""Conversations: the collection each one searched (NULL: the default collection, which is what every
conversation saved before collections existed searched)."""

import sqlalchemy as sa
from alembic import op

revision = "conversations_0002"
down_revision = "conversations_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A file written by the release that added the column, before versioning, has it already.
    if "collection" not in {column["name"] for column in sa.inspect(op.get_bind()).get_columns("conversations")}:
        op.add_column("conversations", sa.Column("collection", sa.Text))  # SQLite adds a column without batch mode
