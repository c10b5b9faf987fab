"""The command line: one module per subcommand (gui, train, optimize, export, study); main.py parses and dispatches."""
