"""Command-line subcommands: each module has ``configure_parser`` and ``run``."""
