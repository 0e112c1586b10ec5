"""`python -m agenther_local` = the `agenther-local` command."""
from .cli import main

main()
