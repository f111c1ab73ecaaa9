"""The custom DB parameter group (AC6, Story 0.4 task 3)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from stacks.cdk import Construct, DbParameterGroup, DbParameterGroupParameter, named


@dataclass(frozen=True)
class ParameterGroupProps:
    name: str
    family: str
    parameters: Mapping[str, tuple[str, str]]
    """Parameter name -> (value in RDS units, apply method)."""
    description: str
    """Says the project, the engine major and the environment, so a console reader knows whose group it is."""


class ParameterGroup(Construct):
    def __init__(self, scope: Construct, id_: str, props: ParameterGroupProps):
        super().__init__(scope, id_)
        self.group = named(DbParameterGroup(
            self, "group",
            name=props.name,
            family=props.family,
            description=props.description,
            parameter=[DbParameterGroupParameter(name=n, value=v, apply_method=m)
                       for n, (v, m) in sorted(props.parameters.items())],
        ), "postgres")

    @property
    def name(self) -> str:
        return self.group.name
