"""SCRAM-SHA-256 password verifiers (RFC 5802, RFC 7677), computed client-side.

``ALTER ROLE ... PASSWORD 'SCRAM-SHA-256$...'`` stores a verifier PostgreSQL
accepts as is, so the clear password never travels in SQL text and never
reaches the server's log or pg_stat_statements, whatever their settings.
psycopg has no helper for this; libpq's PQencryptPasswordConn would need a
connection and a round trip.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

ITERATIONS = 4096
"""PostgreSQL's default scram_iterations."""


def scram_sha256_verifier(password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>``, the form pg_authid holds.

    The password should be ASCII (SASLprep leaves ASCII unchanged); the
    toolkit's generated passwords are.
    """
    salt = salt if salt is not None else os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = lambda b: base64.b64encode(b).decode("ascii")  # noqa: E731 - a one-line local helper reads better as a lambda
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"
