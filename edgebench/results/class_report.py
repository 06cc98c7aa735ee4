"""Per-class recall and the confusion matrix of a labelled-dataset run, as plain text lines with
the model's class names (what ``edgebench run --dataset`` prints under its table)."""

from __future__ import annotations

from typing import Any


def class_report(accuracy: dict[str, Any] | None, title: str = "") -> list[str]:
    """Lines for a labelled accuracy dict (``per_class_recall``, ``confusion_matrix``,
    ``matrix_labels``); empty for any other kind (agreement, pairs, none)."""
    acc = accuracy or {}
    matrix, labels = acc.get("confusion_matrix"), acc.get("matrix_labels")
    if acc.get("kind") != "labelled" or not matrix or not labels:
        return []
    how = f", classes mapped by {acc['class_mapping']}" if acc.get("class_mapping") else ""
    lines = [f"{title}per-class recall (n={acc.get('n')}{how}):"]
    width = max(len(str(name)) for name in labels)
    for name, row in zip(labels, matrix):
        total = sum(row)
        recall = (acc.get("per_class_recall") or {}).get(name)
        right = round(recall * total) if recall is not None else None
        shown = f"{right}/{total} {recall:6.1%}" if recall is not None else f"0/{total}"
        lines.append(f"  {str(name):<{width}}  {shown}")
    lines.append("confusion matrix (rows: true class, columns: predicted):")
    cell = max(width, max(len(str(v)) for row in matrix for v in row), 5)
    lines.append("  " + " " * width + "  " + " ".join(f"{str(n):>{cell}}" for n in labels))
    for name, row in zip(labels, matrix):
        lines.append(f"  {str(name):<{width}}  " + " ".join(f"{v:>{cell}}" for v in row))
    return lines
