"""The spikebench contract API on CherryPy + SQLAlchemy 2 ORM + psycopg 3."""
