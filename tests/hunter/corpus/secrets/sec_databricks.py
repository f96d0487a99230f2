# mypy: ignore-errors
from databricks import sql

conn = sql.connect(server_hostname="adb-123.azuredatabricks.net", http_path="/sql/1.0/warehouses/abc", access_token="dapif3e48e01cee19a4585b0c2afaeec2a75")
