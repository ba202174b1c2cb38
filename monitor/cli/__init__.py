"""The ``driftline`` command line: one module per subcommand."""
