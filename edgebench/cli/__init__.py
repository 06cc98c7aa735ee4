"""The ``edgebench`` command: typer parses flags into specs and calls the library. No logic here.

Each command group lives in its own module (``cli/models.py``, ``cli/export.py`` …) and adds its
commands to :data:`app`. Errors a user can act on print as one line on stderr with exit code 2;
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from edgebench import __version__
from edgebench.errors import EdgebenchError

app = typer.Typer(
    name="edgebench",
    help="Export PyTorch vision models to on-device formats (`edgebench export --help` lists them) and "
         "measure them on desktop, Raspberry Pi and Android.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
PIPE_WIDTH = 10_000  # piped or captured output: tables keep their natural width, nothing is cut
console = Console()
if not console.is_terminal:
    console = Console(width=PIPE_WIDTH)
err_console = Console(stderr=True)


@dataclass
class State:
    """Global options, set by the callback before any command runs."""

    debug: bool = False
    db: Path = Path(".edgebench") / "results.db"


state = State()


def _version(value: bool) -> None:
    if value:
        console.print(f"edgebench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
    db: Path = typer.Option(Path(".edgebench") / "results.db", "--db",
                            help="Results database (SQLite); may also follow the sub-command."),
    version: Optional[bool] = typer.Option(None, "--version", callback=_version, is_eager=True,
                                           help="Print the version and exit."),
) -> None:
    state.debug = debug
    state.db = db


def fail(err: EdgebenchError) -> None:
    """Print one error line (stage: message — hint) on stderr and exit 2."""
    err_console.print(f"[bold red]error[/] {err}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def hoist_db(argv: list[str]) -> list[str]:
    """Move ``--db X`` / ``--db=X`` written after the sub-command (``edgebench run m.onnx --db x.db``,
    as the README reads) in front of it, where the root option lives. Arguments after ``--`` stay."""
    i = 0
    while i < len(argv) and argv[i].startswith("-") and argv[i] != "--":  # root options
        i += 2 if argv[i] == "--db" else 1
    head, tail, moved = argv[:i], [], []
    rest = argv[i:]
    j = 0
    while j < len(rest):
        arg = rest[j]
        if arg == "--":
            tail += rest[j:]
            break
        if arg == "--db" and j + 1 < len(rest):
            moved += rest[j:j + 2]
            j += 2
            continue
        if arg.startswith("--db="):
            moved.append(arg)
        else:
            tail.append(arg)
        j += 1
    return head + moved + tail


def _report_unsaved(code: int, failed: bool = False) -> int:
    """Print one line per store whose results went to a spill file; the exit code to use.
    ``failed``: the command already printed its one error line (records an earlier command spilled
    are then not announced on a second line)."""
    from edgebench.results.store import unsaved

    lines = unsaved(include_waiting=not failed)
    for err in lines:
        err_console.print(f"[bold red]error[/] {err}", highlight=False, soft_wrap=True)
    return (code or 2) if lines else code


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    from edgebench.cli import commands  # noqa: F401  (registers every command group)

    from edgebench.results.store import forget_opened

    forget_opened()  # an in-process caller may run several commands: each reports only its own stores
    argv = hoist_db(list(argv if argv is not None else sys.argv[1:]))
    debug = "--debug" in argv
    if not debug:
        # converters print pages of deprecation chatter; errors that matter arrive as EdgebenchError
        import logging
        import os
        import warnings

        warnings.filterwarnings("ignore")
        logging.getLogger("torch").setLevel(logging.ERROR)
        os.environ.setdefault("TORCH_LOGS", "-torch")  # torch resets its loggers on import; this sticks
        for var in ("TF_CPP_MIN_LOG_LEVEL", "GLOG_minloglevel"):  # LiteRT's converter logs via absl/glog
            os.environ.setdefault(var, "2")
    try:
        app(args=argv, standalone_mode=True)
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        sys.exit(_report_unsaved(code))
    except EdgebenchError as err:
        if debug:
            raise
        err_console.print(f"[bold red]error[/] {err}", highlight=False, soft_wrap=True)
        sys.exit(_report_unsaved(2, failed=True))
    except KeyboardInterrupt:
        err_console.print("interrupted: every result finished so far is in the database; re-run to resume")
        sys.exit(_report_unsaved(130))
    sys.exit(_report_unsaved(0))
