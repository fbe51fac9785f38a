"""The two ways rnnshape refuses a job, and the exit code each one maps to.

Kept apart from spec.py and probe.py so that the CLI can catch both without
importing torch.
"""

from __future__ import annotations

from enum import IntEnum

from rnnshape.language import join


class ExitStatus(IntEnum):
    """Exit codes of every rnnshape command (the contract in the design notes)."""

    OK = 0
    CHECK_FAILED = 1  # a prediction or a reference differs from torch; or torch refused the tensors given (check, summary)
    BAD_INPUT = 2  # an invalid flag value or combination
    ENVIRONMENT = 3  # device missing, not enough memory, torch missing; stdout full or closed
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
    READER_LEFT = 141  # the reader closed the pipe (`... | head`): 128 + SIGPIPE, as cat exits


class Verdict:
    """A report whose exit code follows from whether everything it checked held (`ok`): 0, else 1."""

    ok: bool

    @property
    def exit_status(self) -> ExitStatus:
        return ExitStatus.OK if self.ok else ExitStatus.CHECK_FAILED


# Flags whose name is not simply the field name with dashes.
_OPTION_FOR_FIELD = {"num_layers": "--layers"}


def option_for(field: str) -> str:
    """The command-line flag that sets `field` (`hidden_size` -> `--hidden-size`)."""
    return _OPTION_FOR_FIELD.get(field, "--" + field.replace("_", "-"))


class SpecError(ValueError):
    """A value or combination that rnnshape (or torch) cannot accept.

    `field` is the RNNSpec field (the Python API's word), `option` the flag (the
    CLI's word); the message reads after either of them.
    """

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message  # a Message (language.tr): said in the chosen language where it is shown
        super().__init__(f"{field} {message}")

    @property
    def option(self) -> str:
        return option_for(self.field)

    def cli_message(self) -> str:
        # Joined, not an f-string: the flag stays as typed, the message is said in the chosen language.
        return join(" ", (self.option, self.message))


class EnvironmentProblem(RuntimeError):
    """The request is valid but this machine cannot carry it out (exit 3).

    str() of it is its message itself, a Message (language.tr) where it was made with one,
    so that `error(str(exc))` says it in the chosen language.
    """

    def __str__(self) -> str:
        if len(self.args) == 1 and isinstance(self.args[0], str):
            return self.args[0]
        return super().__str__()


class FileProblem(SpecError):
    """A checkpoint FILE that cannot be read as one (exit 2, like any bad input).

    Named by its path rather than a flag: `error: FILE model.pt is empty (0 bytes) ...`.
    """

    def __init__(self, path: str, message: str):
        self.path = path
        super().__init__("file", message)

    def cli_message(self) -> str:
        import shlex

        from rnnshape.render.text import visible

        # A name's newline or escape sequence shown as text (\n, \x1b), not obeyed by the terminal.
        return join(" ", ("FILE", shlex.quote(visible(self.path)), self.message))


class ArgumentProblem(SpecError):
    """A positional argument the command cannot take (exit 2), named as its usage line names it.

    `error: KIND must be one of inspect, verify, sweep, checkpoint (got 'yaml')`.
    """

    def __init__(self, metavar: str, field: str, message: str):
        self.metavar = metavar
        super().__init__(field, message)

    def cli_message(self) -> str:
        return join(" ", (self.metavar, self.message))
