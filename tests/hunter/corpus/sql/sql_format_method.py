# mypy: ignore-errors
def set_status(cur, run_id, status):
    cur.execute("UPDATE runs SET status = '{}' WHERE id = {}".format(status, run_id))
