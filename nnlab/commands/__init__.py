"""Subcommands of the `nnlab` CLI: each module has add_parser(subparsers) and run(args) -> exit code."""
