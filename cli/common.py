"""Shared CLI plumbing: one-line errors with their code, password input, file reading."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from ballot_tx.errors import BallotchainError, ErrorCode


class UserError(click.ClickException):
    """A user-facing failure: printed as one line 'error [CODE]: message', exit status 1."""

    def __init__(self, code: ErrorCode | str, message: str, localized: bool = False) -> None:
        super().__init__(message)
        self.code = str(code)
        self.localized = localized

    def format_message(self) -> str:
        from cli.i18n import error_sentence

        text = self.message if self.localized else error_sentence(self.code, self.message)
        return f"[{self.code}] {text}"

    def show(self, file: Any = None) -> None:
        from cli.i18n import _

        click.echo(_("Error: {message}").format(message=self.format_message()),
                   file=file, err=True)


def fail(code: ErrorCode | str, message: str) -> NoReturn:
    raise UserError(code, message)


def fail_localized(code: ErrorCode | str, message: str) -> NoReturn:
    """Fail with a message already in the voter's language (made with ``cli.i18n._``)."""
    raise UserError(code, message, localized=True)


class Group(click.Group):
    """A click group that turns every expected error into one clear line, never a traceback."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Run one command line. The language it speaks (``--lang``, else English for the
        officials' commands) is that command's, not the process's: once the command and its
        error line are done the language from before is back, so whatever runs commands
        in-process (tests, a program driving the CLI) is not left in another language."""
        from cli.i18n import language, speaking

        with speaking(language()):
            return super().main(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BallotchainError as e:
            raise UserError(e.code, e.message) from None
        except FileNotFoundError as e:
            raise UserError(ErrorCode.IO_ERROR, f"no such file: {e.filename}") from None
        except PermissionError as e:
            raise UserError(ErrorCode.IO_ERROR, f"permission denied: {e.filename}") from None
        except IsADirectoryError as e:
            raise UserError(ErrorCode.IO_ERROR, f"is a directory: {e.filename}") from None


def read_text(path: Path) -> str:
    try:
        return path.read_text()
    except UnicodeDecodeError:
        fail(ErrorCode.IO_ERROR, f"{path} is not a text file")
    except OSError as e:
        fail(ErrorCode.IO_ERROR, f"cannot read {path}: {e.strerror}")


def read_password_stdin() -> bytes:
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        fail(ErrorCode.USAGE, "--password-stdin was given but standard input had no password")
    return line.encode()
