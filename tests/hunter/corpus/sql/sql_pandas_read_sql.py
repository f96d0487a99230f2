# mypy: ignore-errors
import pandas as pd
import sqlalchemy as sa

engine = sa.create_engine("sqlite:///warehouse.db")


def daily(table: str, day: str) -> pd.DataFrame:
    return pd.read_sql(f"SELECT * FROM {table} WHERE day = '{day}'", engine)
