# mypy: ignore-errors
import xmlrpc.client

proxy = xmlrpc.client.ServerProxy("http://scheduler.lab:8000/")
print(proxy.list_jobs())
