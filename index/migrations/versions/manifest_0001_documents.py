"""Manifest, as first released: the live documents, their extracted texts and the write-ahead journal.

Releases before versioned schemas created these tables with IF NOT EXISTS, so a table that is already there is
kept as it is (with its rows)."""

import sqlalchemy as sa
from alembic import op

revision = "manifest_0001"
down_revision = None
branch_labels = ("manifest",)
depends_on = None


def upgrade() -> None:
    existing = sa.inspect(op.get_bind()).get_table_names()
    if "documents" not in existing:
        op.create_table(
            "documents",
            sa.Column("path", sa.Text, primary_key=True),  # absolute path: the document's identity
            sa.Column("source", sa.Text, nullable=False),  # the path as the user gave it
            sa.Column("sha256", sa.Text, nullable=False),
            sa.Column("version_id", sa.Text, nullable=False, unique=True),
            sa.Column("chunks", sa.Integer, nullable=False),
            sa.Column("indexed_at", sa.Text, nullable=False))
    if "texts" not in existing:
        op.create_table(
            "texts",
            sa.Column("sha256", sa.Text, primary_key=True),
            sa.Column("text", sa.LargeBinary, nullable=False))  # zlib-compressed UTF-8
    if "journal" not in existing:
        op.create_table("journal", sa.Column("version_id", sa.Text, primary_key=True))
