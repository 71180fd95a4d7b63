"""Manifest: BM25 postings beside the journal (index/keyword_index.py). A manifest from before keyword search
gains the tables here, empty; the next index run backfills the postings of its live versions."""

import sqlalchemy as sa
from alembic import op

revision = "manifest_0002"
down_revision = "manifest_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    existing = inspector.get_table_names()
    if "keyword_chunks" not in existing:
        op.create_table(
            "keyword_chunks",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("version_id", sa.Text, nullable=False),
            sa.Column("chunk", sa.Integer, nullable=False),  # the chunk's number in its version
            sa.Column("length", sa.Integer, nullable=False),  # terms in the chunk, for BM25's length normalisation
            sa.UniqueConstraint("version_id", "chunk"))
    if "keyword_terms" not in existing:
        # Clustered by term (WITHOUT ROWID): a query reads each of its terms' postings as one range.
        op.create_table(
            "keyword_terms",
            sa.Column("term", sa.Text, nullable=False),
            sa.Column("chunk_id", sa.Integer, nullable=False),  # keyword_chunks.id
            sa.Column("tf", sa.Integer, nullable=False),
            sa.PrimaryKeyConstraint("term", "chunk_id"),
            sqlite_with_rowid=False)
    if "keyword_terms_chunk" not in {index["name"] for index in inspector.get_indexes("keyword_terms")}:
        op.create_index("keyword_terms_chunk", "keyword_terms", ["chunk_id"])
