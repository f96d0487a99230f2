# mypy: ignore-errors
def report(cur, region, since):
    sql = "SELECT region, sum(total) FROM sales "
    sql += "WHERE region = '" + region + "' "
    sql += "AND day >= '" + since + "' GROUP BY region"
    cur.execute(sql)
    return cur.fetchall()
