"""Signed tenant context tokens: mint and parse (settings ``tenant_context = "signed"``).

A token names one tenant until an expiry, under a MAC that only holders of
the context key can make. The application mints one per request (or per
transaction) and passes it, as a bound parameter, to the same helper it uses
in plain mode::

    from tenantdb.database.tenancy.context_token import KeyRing
    ring = KeyRing.from_json(secret_string)          # the context key secret's value
    token = ring.mint(tenant_id, ttl_s=300)
    with conn.transaction():
        conn.execute("SELECT tenancy.set_tenant(%s)", (token,))
        ...

The format (docs/tenant-context.md; any language mints one in a few lines)::

    v1.<kid>.<tenant>.<exp>.<mac>

    kid     8 lower-case hex characters: which key signed it
    tenant  the tenant id, a canonical lower-case uuid
    exp     expiry, Unix seconds, decimal without leading zeros
    mac     64 lower-case hex characters: HMAC-SHA256(key, "v1.<kid>.<tenant>.<exp>")
            with key = the 32 bytes the secret's hex "key" decodes to

The database accepts a token only while ``exp`` is in the future and at most
``context_token_max_ttl_s`` (+ :data:`CLOCK_SKEW_S`) ahead, and only under a
key that is current or retiring (sql/045_tenant_context_signed.sql).

Standard library only (hmac, hashlib, json, secrets), so an application can
vendor this one file.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass, replace
from typing import Any

from tenantdb.errors import ToolkitError

VERSION = "v1"
SECRET_FORMAT = "tenantdb.context-key.v1"
"""The ``format`` member of the context key secret's JSON value."""

KEY_BYTES = 32
"""Key length: 256 bits, the output size of SHA-256 (RFC 2104's recommended minimum)."""

CLOCK_SKEW_S = 60
"""Seconds the database tolerates between the minting clock and its own (expiry bound, key retirement)."""

DEFAULT_TTL_S = 300
"""Lifetime of a token when none is given: long enough for a request, short if it leaks."""

_KID = re.compile(r"^[0-9a-f]{8}$")
_TOKEN = re.compile(
    r"^v1\.(?P<kid>[0-9a-f]{8})\."
    r"(?P<tenant>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\."
    r"(?P<exp>[1-9][0-9]{0,11})\.(?P<mac>[0-9a-f]{64})$")
"""The same pattern the database checks (sql/045_tenant_context_signed.sql)."""


class TokenError(ToolkitError, ValueError):
    """A token or key ring that cannot be used; the message names the part and never holds key material."""


@dataclass(frozen=True)
class Token:
    kid: str
    tenant_id: uuid.UUID
    expires_at: int
    mac: str

    @property
    def signed_part(self) -> str:
        return signed_part(self.kid, self.tenant_id, self.expires_at)


@dataclass(frozen=True)
class Key:
    """One context key. ``retires_at`` None: the current key; else it verifies until then."""

    kid: str
    secret: bytes
    created_at: int
    retires_at: int | None = None

    def __repr__(self) -> str:  # never show key material
        return f"Key(kid={self.kid!r}, created_at={self.created_at}, retires_at={self.retires_at})"

    def valid_at(self, now: float) -> bool:
        return self.retires_at is None or self.retires_at > now

    def to_json(self) -> dict[str, Any]:
        return {"kid": self.kid, "key": self.secret.hex(), "created_at": self.created_at,
                "retires_at": self.retires_at}


def signed_part(kid: str, tenant_id: uuid.UUID | str, expires_at: int) -> str:
    """What the MAC covers: ``v1.<kid>.<tenant>.<exp>``."""
    return f"{VERSION}.{kid}.{uuid.UUID(str(tenant_id))}.{int(expires_at)}"


def mac(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode("ascii"), hashlib.sha256).hexdigest()


def mint(key: Key, tenant_id: uuid.UUID | str, ttl_s: int = DEFAULT_TTL_S, *, now: float | None = None) -> str:
    """A token for ``tenant_id`` valid for ``ttl_s`` seconds, signed with ``key``."""
    if ttl_s < 1:
        raise TokenError(f"ttl_s {ttl_s}: must be at least 1 second")
    try:
        tenant = uuid.UUID(str(tenant_id))
    except ValueError:
        raise TokenError(f"tenant id {tenant_id!r} is not a uuid") from None
    exp = int(now if now is not None else time.time()) + int(ttl_s)
    part = signed_part(key.kid, tenant, exp)
    return f"{part}.{mac(key.secret, part)}"


def parse(token: str) -> Token:
    """The token's fields, checked for form only (not the MAC, not the expiry)."""
    m = _TOKEN.match(token) if isinstance(token, str) else None
    if not m:
        raise TokenError("not a tenant context token (v1.<kid>.<tenant uuid>.<exp>.<64 hex mac>)")
    return Token(m["kid"], uuid.UUID(m["tenant"]), int(m["exp"]), m["mac"])


def verify(token: str, keys: list[Key], *, max_ttl_s: int, now: float | None = None) -> uuid.UUID | None:
    """The tenant a token names, or None: what the database's tenancy.current_tenant_id() answers."""
    try:
        t = parse(token)
    except TokenError:
        return None
    at = now if now is not None else time.time()
    if not (at < t.expires_at <= at + max_ttl_s + CLOCK_SKEW_S):
        return None
    key = next((k for k in keys if k.kid == t.kid and k.valid_at(at)), None)
    if key is None or not hmac.compare_digest(mac(key.secret, t.signed_part), t.mac):
        return None
    return t.tenant_id


# ----- the key ring: the context key secret's value ---------------------------

@dataclass(frozen=True)
class KeyRing:
    """The keys of one environment: exactly one current, any number retiring."""

    keys: tuple[Key, ...] = ()

    @property
    def current(self) -> Key:
        found = [k for k in self.keys if k.retires_at is None]
        if len(found) != 1:
            raise TokenError(f"the key ring has {len(found)} current keys; expected exactly one "
                             "(run tenantdb bootstrap)")
        return found[0]

    def mint(self, tenant_id: uuid.UUID | str, ttl_s: int = DEFAULT_TTL_S, *, now: float | None = None) -> str:
        """A token signed with the current key."""
        return mint(self.current, tenant_id, ttl_s, now=now)

    def valid(self, now: float) -> KeyRing:
        """Without the keys whose retirement has passed."""
        return KeyRing(tuple(k for k in self.keys if k.valid_at(now)))

    def with_key(self, key: Key) -> KeyRing:
        return KeyRing((*self.keys, key))

    def retiring_current(self, at: int) -> KeyRing:
        """The current key marked to retire at ``at`` (the others as they are)."""
        return KeyRing(tuple(replace(k, retires_at=at) if k.retires_at is None else k for k in self.keys))

    def to_json(self) -> dict[str, Any]:
        return {"format": SECRET_FORMAT, "keys": [k.to_json() for k in sorted(self.keys, key=_order)]}

    @classmethod
    def from_json(cls, value: str | dict[str, Any]) -> KeyRing:
        """From the secret's value (a JSON string or the parsed object)."""
        try:
            doc = json.loads(value) if isinstance(value, str) else value
        except json.JSONDecodeError:
            raise TokenError("the context key secret is not JSON") from None
        if not isinstance(doc, dict) or doc.get("format") != SECRET_FORMAT or not isinstance(doc.get("keys"), list):
            raise TokenError(f'the context key secret is not {{"format": "{SECRET_FORMAT}", "keys": [...]}}')
        return cls(tuple(_key(k, i) for i, k in enumerate(doc["keys"])))


def _order(k: Key) -> tuple[int, str]:
    return (k.created_at, k.kid)


def _key(item: Any, i: int) -> Key:
    where = f"context key secret keys[{i}]"
    if not isinstance(item, dict):
        raise TokenError(f"{where} is not an object")
    kid, hexkey = item.get("kid"), item.get("key")
    if not isinstance(kid, str) or not _KID.match(kid):
        raise TokenError(f"{where}.kid must be 8 lower-case hex characters")
    try:
        raw = bytes.fromhex(hexkey) if isinstance(hexkey, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != KEY_BYTES:
        raise TokenError(f"{where}.key (kid {kid}) must be {KEY_BYTES * 2} hex characters")
    created, retires = item.get("created_at"), item.get("retires_at")
    if not isinstance(created, int) or not (retires is None or isinstance(retires, int)):
        raise TokenError(f"{where} (kid {kid}): created_at must be Unix seconds, retires_at Unix seconds or null")
    return Key(kid, raw, created, retires)


def new_key(now: float | None = None) -> Key:
    """A fresh current key: 32 random bytes and a random key id."""
    return Key(secrets.token_hex(4), secrets.token_bytes(KEY_BYTES), int(now if now is not None else time.time()))
