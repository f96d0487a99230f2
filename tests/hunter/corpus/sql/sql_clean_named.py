# mypy: ignore-errors
def set_status(cur, run_id: int, status: str) -> None:
    cur.execute(
        "UPDATE runs SET status = :status WHERE id = :id", {"status": status, "id": run_id}
    )
