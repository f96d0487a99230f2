# mypy: ignore-errors
def delete_order(cursor, order_id):
    cursor.execute(f"DELETE FROM orders WHERE id = {order_id}")
