"""The extensions step of the bootstrap (sql/030_extensions.sql): its placeholders and its summary.

``settings.extensions`` is validated against the extensions RDS for PostgreSQL
offers (tenantdb.settings.RDS_EXTENSIONS), so on RDS every name can be created
by the master user. The local stand-in (AWS is an emulator) may lack one
(pgvector is not packaged here): the SQL then skips it and the summary, like
verify's EXTENSIONS-STANDIN, names it and says why; on AWS a missing one stops
the step.
"""

from __future__ import annotations

from psycopg import sql

from tenantdb.settings import Settings

NOT_PACKAGED: dict[str, str] = {
    "vector": "pgvector is not in the Debian archive this machine reaches (no postgresql-15-pgvector)",
}
"""Extensions RDS offers that the local stand-in cannot have, and why."""


def why_not_offered(name: str) -> str:
    """Why the local stand-in lacks extension ``name`` (one phrase)."""
    return NOT_PACKAGED.get(name, "not packaged with this machine's PostgreSQL server "
                                  "(pg_available_extensions lacks it); RDS offers it")


def may_be_missing(s: Settings) -> bool:
    """True where the database is the local stand-in: AWS is an emulator there, never on AWS."""
    return s.aws_endpoint_url is not None


def placeholders(s: Settings) -> dict[str, sql.Composable]:
    """``{extensions}`` (the names, an array literal) and ``{extensions_may_be_missing}``."""
    return {"extensions": sql.Literal(list(s.extensions)),
            "extensions_may_be_missing": sql.Literal(may_be_missing(s))}


def missing_on_standin(s: Settings, have: dict[str, str]) -> dict[str, str]:
    """name -> why, for each wanted extension the local stand-in does not have."""
    if not may_be_missing(s):
        return {}
    return {name: why_not_offered(name) for name in s.extensions if name not in have}


def summary(s: Settings, installed: str | None) -> str:
    """One line from the step's fingerprint (030_extensions.state.sql: "name version, ..." or "none"):
    what is installed, with versions, and what the stand-in skipped and why."""
    text = installed or "none"
    have = dict(item.split(" ", 1) for item in text.split(", ")) if text != "none" else {}
    parts = [", ".join(f"{n} {have[n]}" for n in s.extensions if n in have) + " installed" if have
             else "no extensions wanted" if not s.extensions else "none installed"]
    parts += [f"{name} skipped: {why}" for name, why in missing_on_standin(s, have).items()]
    return "; ".join(parts)
