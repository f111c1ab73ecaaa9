"""Shared pytest set-up. Fixtures live in plugin modules beside this file, one per
real part the tests start: a PostgreSQL server, a moto server, synthesized stacks."""

import os

from tenantdb.infra.terraform import QUIET_NODE_ENV

# jsii's Node end-of-life banner is noise in every test that touches cdktf.
for _name, _value in QUIET_NODE_ENV.items():
    os.environ.setdefault(_name, _value)

pytest_plugins = ["fixtures_pg", "fixtures_aws", "fixtures_synth", "fixtures_local"]
