"""One module per `tenantdb` command, each with the same interface.

``HELP``: one line for ``tenantdb --help``.
``add_arguments(parser)``: the command's options (and subcommands).
``run(args) -> int``: does the work and returns the exit code.

The entry point (:mod:`tenantdb.cli`) only maps names to these modules and
dispatches; a command module imports its library code lazily inside ``run``
so each command starts fast and never pays for another's imports.
"""
