"""The revisions, one Alembic branch per database (see index/migrations/__init__.py)."""
