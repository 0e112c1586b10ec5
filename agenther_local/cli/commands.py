"""Imports every command module so each registers itself on the group."""
# Each module does `@cli.command(...)` at import.
import importlib

for _name in ("models", "judge", "validate", "run", "convert", "verify", "evaluate", "report"):
    try:
        importlib.import_module(f"{__package__}.{_name}")
    except ModuleNotFoundError as e:
        if e.name != f"{__package__}.{_name}":
            raise
