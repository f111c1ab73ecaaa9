"""A small builder for IAM policy documents (``aws_iam_policy_document``).

Documents stay data sources rather than JSON strings so the synthesized stack
(and ``tenantdb check``, checkov) can read every statement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from stacks.cdk import (
    Construct,
    DataAwsIamPolicyDocument,
    DataAwsIamPolicyDocumentStatement,
    DataAwsIamPolicyDocumentStatementCondition,
    DataAwsIamPolicyDocumentStatementPrincipals,
    named,
)


@dataclass(frozen=True)
class Statement:
    sid: str
    actions: Sequence[str]
    resources: Sequence[str] = ("*",)
    """In a key policy ``*`` means "this key"; empty for trust policies."""
    principals: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """Principal type (``AWS``, ``Service``) -> identifiers. Empty for identity policies."""
    conditions: Sequence[tuple[str, str, Sequence[str]]] = ()
    """(test, variable, values), e.g. ("StringEquals", "kms:ViaService", [...])."""


def document(scope: Construct, logical_id: str, statements: Sequence[Statement]) -> DataAwsIamPolicyDocument:
    return named(DataAwsIamPolicyDocument(
        scope, logical_id,
        statement=[
            DataAwsIamPolicyDocumentStatement(
                sid=st.sid,
                effect="Allow",
                actions=list(st.actions),
                resources=list(st.resources) or None,
                principals=[DataAwsIamPolicyDocumentStatementPrincipals(type=t, identifiers=list(ids))
                            for t, ids in st.principals.items()] or None,
                condition=[DataAwsIamPolicyDocumentStatementCondition(test=t, variable=v, values=list(vals))
                           for t, v, vals in st.conditions] or None,
            )
            for st in statements
        ],
    ), logical_id)
