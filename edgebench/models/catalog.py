"""Zoo listing with counted params and MACs (what ``edgebench models`` prints)."""

from __future__ import annotations

from typing import Any


def human(n: float | None, unit: str = "") -> str:
    """1.82e9 → '1.82 G'."""
    if n is None:
        return "—"
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {suffix}{unit}"
    return f"{n:.0f}{unit}"


def zoo_rows(counts: bool = True) -> list[dict[str, Any]]:
    """One dict per zoo entry; a model whose extra is missing says so instead of counts."""
    from edgebench.errors import EdgebenchError
    from edgebench.models import load
    from edgebench.models.counting import count
    from edgebench.models.zoo import zoo
    from edgebench.spec import ModelSpec

    rows = []
    for name, e in zoo.items():
        row = {"name": name, "task": e.input_spec.task, "input": "×".join(map(str, e.input_spec.shape)),
               "params": "—", "macs": "—", "published_macs": human(e.published_macs), "source": e.source}
        if counts:
            try:
                lm = load(ModelSpec(name=name))
                c = count(lm.module, lm.input_spec.example())
                row["params"], row["macs"] = human(c.params), human(c.macs)
            except EdgebenchError as err:
                row["params"] = row["macs"] = f"n/a ({err.hint or err.message})"
        rows.append(row)
    return rows
