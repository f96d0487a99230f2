"""Storage: database connections and error translation (SQLite by default), and
content-addressed blob files (:class:`BlobStore`)."""

from grace_kernel.store._blobs import Blob, BlobStore, identity, require_regular, unlink_durably
from grace_kernel.store._sqlite import SQLiteTables, connect_sqlite, readonly_uri, sqlite_errors

__all__ = [
    "Blob",
    "BlobStore",
    "SQLiteTables",
    "connect_sqlite",
    "identity",
    "readonly_uri",
    "require_regular",
    "sqlite_errors",
    "unlink_durably",
]
