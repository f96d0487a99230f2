# mypy: ignore-errors
from sqlalchemy import create_engine, text

engine = create_engine("sqlite:///catalog.db")


def search(term: str):
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT * FROM items WHERE title LIKE '%{term}%'")).all()
