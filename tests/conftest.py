"""Shared pytest set-up. Fixtures live in plugin modules beside this file, one per
real part the tests start: a PostgreSQL server, a moto server, synthesized stacks."""

import os

# jsii's Node end-of-life banner is noise in every test that touches cdktf.
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "16,18,20")

pytest_plugins = ["fixtures_pg", "fixtures_aws", "fixtures_synth", "fixtures_local"]
