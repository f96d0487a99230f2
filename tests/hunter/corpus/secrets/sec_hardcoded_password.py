# mypy: ignore-errors
import psycopg

password = "sKDmAP!a8cT8HI#"
conn = psycopg.connect(host="db.lab.internal", user="etl", password=password)
