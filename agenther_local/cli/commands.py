"""Imports every command module; each one registers its command on the group at import."""
from . import convert, evaluate, judge, models, report, run, train, validate, verify  # noqa: F401
