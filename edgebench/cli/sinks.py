"""Where results go besides the store: ``--mlflow [TRACKING_URI]`` and a sweep's name.

``run``, ``sweep`` and ``export`` each add :func:`mlflow_option` and open the store with
:func:`open_store` (or log export rows with :func:`mlflow_logger`)."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Optional

import typer

from edgebench.cli import state

DEFAULT = "default"  # --mlflow without a value: MLflow's own default tracking URI


def mlflow_option() -> Any:
    """``--mlflow [TRACKING_URI]``: the value is optional."""
    return typer.Option(None, "--mlflow", is_flag=False, flag_value=DEFAULT, metavar="[TRACKING_URI]",
                        help="Also log each cell as an MLflow run (params, metrics, manifest, raw samples). "
                             "Without a URI: $MLFLOW_TRACKING_URI, else MLflow's local default "
                             "(what `mlflow ui` opens). Needs the mlflow extra.")


def mlflow_logger(uri: Optional[str], kinds: Iterable[str] = ("run",)) -> Optional[Callable[[Any], Any]]:
    """An MLflow logger for ``--mlflow`` (None when the flag is absent)."""
    if uri is None:
        return None
    from edgebench.results.mlflow_log import MlflowLogger

    return MlflowLogger(None if uri == DEFAULT else uri, kinds=kinds)


def open_store(mlflow: Optional[str] = None, *, sweep: Optional[str] = None):
    """The results store of ``--db`` wrapped in a sink that also logs to MLflow / names the sweep."""
    from edgebench.results import Store
    from edgebench.results.sink import Sink

    logger = mlflow_logger(mlflow)  # before opening: a bad URI fails before any work
    return Sink(Store(state.db), [logger] if logger else [], sweep=sweep)
