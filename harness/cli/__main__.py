"""`python -m harness.cli`: the `mipo-bench` command."""

from harness.cli.root import main

main()
