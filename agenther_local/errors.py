"""The only errors the CLI shows. Each message is one line: the place, the problem, the fix."""


class AgentherError(Exception):
    """An error meant to be shown to the user as one line (the CLI exits 1)."""


class RecordError(AgentherError):
    """One input record is malformed. `field` is a path like 'steps[2].observation'."""

    def __init__(self, field: str, problem: str, where: str = ""):
        self.field = field
        self.problem = problem
        self.where = where
        super().__init__(self.line())

    def line(self) -> str:
        parts = [p for p in (self.where, self.field) if p]
        return ": ".join(parts + [self.problem])

    def at(self, where: str) -> "RecordError":
        """The same error, located at `where` (e.g. 'runs.jsonl:17')."""
        return RecordError(self.field, self.problem, where)


class InputFileError(AgentherError):
    """A whole input file cannot be read (missing, a directory, unknown format)."""


class ModelError(AgentherError):
    """A judge model cannot be found, verified or loaded."""


class PromptError(AgentherError):
    """A prompt template is missing or uses an undefined variable."""


class ConfigError(AgentherError):
    """A config file or option value is invalid."""
