"""One module per `avatarvid` subcommand: each has `register(subparsers)` that adds its parser
and sets `func(args) -> exit code`. The CLI imports heavy modules only inside `func`."""
