"""Where results go besides the store: ``--mlflow`` / ``--mlflow-uri URI`` and a sweep's name.

``run``, ``sweep`` and ``export`` each add :func:`mlflow_option` and :func:`mlflow_uri_option`
and open the store with :func:`open_store` (or log export rows with :func:`mlflow_logger`).
(One ``--mlflow [URI]`` option with an optional value is what click calls ``flag_value``; typer's
own parser does not support it, hence the two options.)"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Optional

import typer

from edgebench.cli import state
from edgebench.errors import ConfigError


def mlflow_option() -> Any:
    """``--mlflow``: also log each cell to MLflow (its default tracking URI unless ``--mlflow-uri``)."""
    return typer.Option(False, "--mlflow", help="Also log each cell as an MLflow run (params, metrics, manifest, "
                                                "raw samples) to $MLFLOW_TRACKING_URI, else MLflow's local "
                                                "default (what `mlflow ui` opens). Needs the mlflow extra.")


def mlflow_uri_option() -> Any:
    """``--mlflow-uri URI``: the tracking URI to log to (implies ``--mlflow``)."""
    return typer.Option(None, "--mlflow-uri", metavar="URI",
                        help="MLflow tracking URI, e.g. sqlite:///mlflow.db or http://host:5000 (implies --mlflow).")


def mlflow_logger(on: bool, uri: Optional[str] = None,
                  kinds: Iterable[str] = ("run",)) -> Optional[Callable[[Any], Any]]:
    """An MLflow logger when ``--mlflow`` or ``--mlflow-uri`` was given, else None."""
    if not on and uri is None:
        return None
    from edgebench.results.mlflow_log import MlflowLogger

    return MlflowLogger(uri, kinds=kinds)


def no_match(model: Optional[str], artifact_format: Optional[str], variant: Optional[str],
             target: Optional[str]) -> ConfigError:
    """The one-line error of a reading command (compare, report) whose run filters match nothing,
    naming each filter by the flag it was given with."""
    asked = " ".join(f"{flag} {value}" for flag, value in (("--model", model), ("--artifact-format", artifact_format),
                                                          ("--variant", variant), ("--target", target)) if value)
    return ConfigError(f"no stored run matches {asked}", hint="`edgebench compare` without filters shows what is stored")


def read_store(*, need_runs: bool = True):
    """The results store of ``--db`` opened for reading (``compare``, ``report``, ``recommend``).

    Raises ConfigError when the file does not exist, and, with ``need_runs``, when it holds no
    measured run yet (a zero-byte or export-only store would otherwise print an empty table)."""
    from pathlib import Path

    from edgebench.errors import ConfigError
    from edgebench.results import Store

    hint = "run `edgebench run` or `edgebench sweep` first"
    if not Path(state.db).exists():
        raise ConfigError(f"no results database at {state.db}", hint=hint)
    if need_runs and Path(state.db).is_file() and Path(state.db).stat().st_size == 0:
        # what SQLite leaves behind: say so without creating tables in it (reading writes nothing)
        raise ConfigError(f"results database {state.db} holds no measured runs yet", hint=hint)
    store = Store(state.db)
    if need_runs and store.readable and not store.results(kind="run"):
        store.close()
        raise ConfigError(f"results database {state.db} holds no measured runs yet", hint=hint)
    return store


def open_store(mlflow: bool = False, mlflow_uri: Optional[str] = None, *, sweep: Optional[str] = None):
    """The results store of ``--db`` wrapped in a sink that also logs to MLflow / names the sweep."""
    from edgebench.results import Store
    from edgebench.results.sink import Sink

    logger = mlflow_logger(mlflow, mlflow_uri)  # before opening: a bad URI fails before any work
    return Sink(Store(state.db), [logger] if logger else [], sweep=sweep)
