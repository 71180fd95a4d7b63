"""Alembic's environment: runs on the connection migrate() opened, inside its transaction (index/migrations)."""

from alembic import context

from index.migrations import VERSION_TABLE

context.configure(connection=context.config.attributes["connection"], version_table=VERSION_TABLE,
                  transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
