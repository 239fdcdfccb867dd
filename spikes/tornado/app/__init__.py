"""spikebench Tornado spike: the contract's CRUD-with-auth API on SQLAlchemy 2 async + asyncpg."""
