"""The spikebench contract API on Bottle + SQLAlchemy 2 ORM + psycopg 3."""
