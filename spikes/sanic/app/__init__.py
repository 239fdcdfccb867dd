"""The spikebench contract API on Sanic + pydantic + SQLAlchemy 2 async ORM + asyncpg."""
