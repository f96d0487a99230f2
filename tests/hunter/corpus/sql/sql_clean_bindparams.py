# mypy: ignore-errors
from sqlalchemy import create_engine, text

engine = create_engine("sqlite:///catalog.db")
QUERY = text("SELECT * FROM items WHERE title LIKE :pattern")


def search(term: str):
    with engine.connect() as conn:
        return conn.execute(QUERY, {"pattern": f"%{term}%"}).all()
