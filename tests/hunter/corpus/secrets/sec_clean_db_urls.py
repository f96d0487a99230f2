# mypy: ignore-errors
import os

LOCAL = "postgresql://analytics@localhost:5432/dev"
SQLITE = "sqlite:///data/lab.db"
TEMPLATE = "postgresql://etl:${DB_PASSWORD}@db.lab.internal:5432/warehouse"
FROM_ENV = f"postgresql://etl:{os.environ['DB_PASSWORD']}@db.lab.internal/warehouse"
