# mypy: ignore-errors
import pymysql

conn = pymysql.connect(host="10.0.4.12", user="report", password="HGSny-zaEmhH-4gmH")
