"""Read the access stack's JSON and the live catalog into one normalized structure, so the tests can
compare what Terraform declares with what the bootstrap made (tests/test_roles_equivalence.py).

Both sides produce {kind: set of tuples}:
  roles       (name, login, superuser, bypassrls, createdb, createrole, replication, inherit)
  members     (role, member)
  database    (grantee, privilege)
  schema      (grantee, schema, privilege)        grantee "public" for PUBLIC
  schema_owner(schema, owner)
  defaults    (grantee, owner, schema or "*", object_type, privilege)
  extensions  (name,)
"""

from __future__ import annotations

import re
from typing import Any

import psycopg
from psycopg import sql

# postgresql_role attributes -> their provider defaults (used when the JSON leaves one out).
ROLE_ATTRS = (("login", False), ("superuser", False), ("bypass_row_level_security", False),
              ("create_database", False), ("create_role", False), ("replication", False), ("inherit", True))
_REF = re.compile(r"^\$\{(postgresql_[a-z_]+)\.([A-Za-z0-9_-]+)\.name\}$")
_DEFAULT_KIND = {"r": "table", "S": "sequence", "n": "schema", "f": "function", "T": "type"}


def resolve(doc: dict[str, Any], value: str) -> str:
    """``${postgresql_role.app_user.name}`` -> the name that resource declares; literals as they are."""
    m = _REF.match(value)
    return doc["resource"][m[1]][m[2]]["name"] if m else value


def from_json(doc: dict[str, Any]) -> dict[str, set[tuple]]:
    res = doc.get("resource", {})
    out: dict[str, set[tuple]] = {k: set() for k in ("roles", "members", "database", "schema", "schema_owner",
                                                      "defaults", "extensions")}
    for body in res.get("postgresql_role", {}).values():
        out["roles"].add((body["name"], *(body.get(a, d) for a, d in ROLE_ATTRS)))
    for body in res.get("postgresql_grant_role", {}).values():
        out["members"].add((resolve(doc, body["grant_role"]), resolve(doc, body["role"])))
    for body in res.get("postgresql_grant", {}).values():
        role = resolve(doc, body["role"])
        for p in body["privileges"]:
            if body["object_type"] == "database":
                out["database"].add((role, p))
            elif body["object_type"] == "schema":
                out["schema"].add((role, resolve(doc, body["schema"]), p))
            else:
                out.setdefault("objects", set()).add((role, body["object_type"], p))
    for body in res.get("postgresql_schema", {}).values():
        out["schema_owner"].add((body["name"], resolve(doc, body["owner"])))
    for body in res.get("postgresql_default_privileges", {}).values():
        for p in body["privileges"]:
            out["defaults"].add((resolve(doc, body["role"]), resolve(doc, body["owner"]), body.get("schema", "*"),
                                 body["object_type"], p))
    for body in res.get("postgresql_extension", {}).values():
        out["extensions"].add((body["name"],))
    return out


def from_catalog(conn: psycopg.Connection, names: list[str], schemas: list[str]) -> dict[str, set[tuple]]:
    """The same structure from the live catalog, for the roles ``names`` (and PUBLIC) in ``schemas``."""
    q = lambda text, params=None: {tuple(r) for r in conn.execute(text, params).fetchall()}  # noqa: E731 - a one-line local helper reads better as a lambda
    p = {"names": names, "schemas": schemas}
    return {
        "roles": q("SELECT rolname, rolcanlogin, rolsuper, rolbypassrls, rolcreatedb, rolcreaterole, "
                   "rolreplication, rolinherit FROM pg_roles WHERE rolname = ANY(%(names)s)", p),
        "members": q("SELECT pg_get_userbyid(roleid), pg_get_userbyid(member) FROM pg_auth_members "
                     "WHERE pg_get_userbyid(roleid) = ANY(%(names)s)", p),
        "database": q("SELECT pg_get_userbyid(x.grantee), x.privilege_type FROM pg_database d, aclexplode(d.datacl) x "
                      "WHERE d.datname = current_database() AND pg_get_userbyid(x.grantee) = ANY(%(names)s)", p),
        "schema": q("SELECT CASE WHEN x.grantee = 0 THEN 'public' ELSE pg_get_userbyid(x.grantee) END, n.nspname, "
                    "x.privilege_type FROM pg_namespace n, aclexplode(n.nspacl) x WHERE n.nspname = ANY(%(schemas)s) "
                    "AND (x.grantee = 0 OR pg_get_userbyid(x.grantee) = ANY(%(names)s))", p),
        "schema_owner": q("SELECT nspname, pg_get_userbyid(nspowner) FROM pg_namespace "
                          "WHERE nspname = ANY(%(schemas)s) AND nspname <> 'public'", p),
        "defaults": {(g, o, s, _DEFAULT_KIND[k], priv) for g, o, s, k, priv in q(
            "SELECT pg_get_userbyid(x.grantee), pg_get_userbyid(d.defaclrole), "
            "CASE WHEN d.defaclnamespace = 0 THEN '*' ELSE d.defaclnamespace::regnamespace::text END, "
            "d.defaclobjtype::text, x.privilege_type FROM pg_default_acl d, aclexplode(d.defaclacl) x "
            "WHERE pg_get_userbyid(x.grantee) = ANY(%(names)s) "
            "AND x.grantee <> d.defaclrole", p)},  # a global default ACL spells out the owner's own rights
        "extensions": q("SELECT extname FROM pg_extension WHERE extname <> 'plpgsql'"),
    }


def apply_like_the_provider(conn: psycopg.Connection, doc: dict[str, Any]) -> None:
    """Stand-in for ``terraform apply`` of the access stack (the provider binary is not on this machine):
    the statements cyrilgdn/postgresql issues for each resource, run as the master (provider
    ``superuser = false``), in dependency order. It reads only the JSON, never tenantdb.database.bootstrap.roles."""
    res = doc.get("resource", {})
    ident = sql.Identifier
    for body in res.get("postgresql_role", {}).values():
        words = ["LOGIN" if body.get("login") else "NOLOGIN"]
        words += [("" if body.get(a, d) else "NO") + w for (a, d), w in zip(
            ROLE_ATTRS[1:], ("SUPERUSER", "BYPASSRLS", "CREATEDB", "CREATEROLE", "REPLICATION", "INHERIT"),
            strict=True)]
        conn.execute(sql.SQL("CREATE ROLE {} " + " ".join(words)).format(ident(body["name"])))
    for body in res.get("postgresql_grant_role", {}).values():
        conn.execute(sql.SQL("GRANT {} TO {}").format(ident(resolve(doc, body["grant_role"])),
                                                      ident(resolve(doc, body["role"]))))
    for body in res.get("postgresql_schema", {}).values():
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}").format(
            ident(body["name"]), ident(resolve(doc, body["owner"]))))
    for body in res.get("postgresql_extension", {}).values():
        conn.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(ident(body["name"])))
    for body in res.get("postgresql_grant", {}).values():
        role = resolve(doc, body["role"])
        grantee = sql.SQL("PUBLIC") if role == "public" else ident(role)
        privs = sql.SQL(", ").join(sql.SQL(p) for p in body["privileges"])
        if body["object_type"] == "database":
            target = sql.SQL("DATABASE {}").format(ident(body["database"]))
        else:
            target = sql.SQL("SCHEMA {}").format(ident(resolve(doc, body["schema"])))
        # postgresql_grant is authoritative for (role, object): revoke all, then grant the list.
        conn.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(target, grantee))
        conn.execute(sql.SQL("GRANT {} ON {} TO {}").format(privs, target, grantee))
    kinds = {"table": "TABLES", "sequence": "SEQUENCES", "schema": "SCHEMAS", "function": "FUNCTIONS"}
    for body in res.get("postgresql_default_privileges", {}).values():
        where = sql.SQL(" IN SCHEMA {}").format(ident(body["schema"])) if body.get("schema") else sql.SQL("")
        conn.execute(sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {}{} GRANT {} ON {} TO {}").format(
            ident(resolve(doc, body["owner"])), where, sql.SQL(", ").join(sql.SQL(p) for p in body["privileges"]),
            sql.SQL(kinds[body["object_type"]]), ident(resolve(doc, body["role"]))))
