# mypy: ignore-errors
import psycopg


def recent(conn: psycopg.Connection, project: str, limit: int):
    with conn.cursor() as cur:
        cur.execute(
            "SELECT id, started FROM runs WHERE project = %s ORDER BY started DESC LIMIT %s",
            (project, limit),
        )
        return cur.fetchall()
