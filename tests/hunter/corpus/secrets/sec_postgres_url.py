# mypy: ignore-errors
import sqlalchemy as sa

engine = sa.create_engine("postgresql://analytics:Bw6srVguB4Z7ADDF@db.lab.internal:5432/warehouse")
