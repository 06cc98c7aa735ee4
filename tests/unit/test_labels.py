"""Class folders map to the model's class indices by name or index — never renumbered from 0."""

from __future__ import annotations

import numpy as np
import pytest

from edgebench.errors import ConfigError
from edgebench.harness.accuracy import evaluate, load_dataset
from edgebench.harness.labels import map_folders
from edgebench.models.input_spec import InputSpec

NAMES = ("apple", "bus", "cat", "dog", "eel", "fig", "gnu", "hat", "ink", "jar")


def test_by_class_name_with_only_some_classes():
    m = map_folders(["cat", "Hat", "ink_"[:3]], NAMES, 10)
    assert m.index == {"cat": 2, "Hat": 7, "ink": 8}
    assert m.names == {2: "cat", 7: "hat", 8: "ink"} and m.how == "class name"


def test_by_index_named_folders():
    m = map_folders(["3", "7-hat"], NAMES, 10)
    assert m.index == {"3": 3, "7-hat": 7} and m.names == {3: "dog", 7: "hat"}
    assert map_folders(["281", "5_tabby"], None, 1000).index == {"281": 281, "5_tabby": 5}


@pytest.mark.parametrize("folders, names, n, message", [
    (["cat", "zebra"], NAMES, 10, "'zebra' match none of the model's 10 class names"),
    (["cat", "dog"], None, 10, "2 class folders ('cat', 'dog') but the model has 10 classes and no class names"),
    (["2", "2-cat"], NAMES, 10, "both map to class 2"),
    (["3-cat"], NAMES, 10, "says index 3 but 'cat' is the model's class 2"),
    (["12"], None, 10, "names class 12 but the model has 10 classes"),
    (["CAT"], ("cat", "Cat", "dog"), 3, "matches 2 of the model's classes"),
])
def test_ambiguity_is_an_error(folders, names, n, message):
    with pytest.raises(ConfigError) as exc:
        map_folders(folders, names, n)
    assert message in str(exc.value)


def test_sorted_order_only_when_every_class_is_there():
    m = map_folders(["b", "a", "c"], None, 3)
    assert m.index == {"a": 0, "b": 1, "c": 2} and "all 3" in m.how


def _folder(tmp_path, classes):
    from PIL import Image

    for c in classes:
        (tmp_path / c).mkdir()
        for i in range(2):
            Image.fromarray(np.full((8, 8, 3), 10 * i, np.uint8)).save(tmp_path / c / f"{i}.png")
    return tmp_path


def test_partial_folder_scores_the_right_classes(tmp_path):
    # a 10-class model; the folder has only cat (2) and hat (7); the model gets 3 of 4 right
    root = _folder(tmp_path, ["cat", "hat"])
    spec = InputSpec(shape=(1, 3, 8, 8), num_classes=10, class_names=NAMES)
    ds = load_dataset(root, spec)
    assert ds.labels == (2, 2, 7, 7)
    outputs = np.zeros((4, 1, 10), np.float32)
    for row, cls in enumerate([2, 2, 7, 3]):
        outputs[row, 0, cls] = 1
    acc = evaluate(outputs, ds)
    assert acc["accuracy"] == 0.75
    assert acc["per_class_recall"] == {"cat": 1.0, "hat": 0.5}
    assert acc["matrix_labels"] == ["cat", "hat", "other"]
    assert acc["confusion_matrix"] == [[2, 0, 0], [0, 1, 1]]
    assert acc["class_mapping"] == "class name"


def test_partial_folder_without_names_is_refused(tmp_path):
    root = _folder(tmp_path, ["cat", "hat"])
    with pytest.raises(ConfigError, match="pass --labels labels.txt"):
        load_dataset(root, InputSpec(shape=(1, 3, 8, 8), num_classes=10))


def test_class_report_names_the_models_classes():
    from edgebench.results.class_report import class_report

    acc = {"kind": "labelled", "n": 4, "per_class_recall": {"cat": 1.0, "hat": 0.5},
           "confusion_matrix": [[2, 0, 0], [0, 1, 1]], "matrix_labels": ["cat", "hat", "other"],
           "class_mapping": "class name"}
    assert class_report(acc, "m: ") == [
        "m: per-class recall (n=4, classes mapped by class name):",
        "  cat    2/2 100.0%",
        "  hat    1/2  50.0%",
        "confusion matrix (rows: true class, columns: predicted):",
        "           cat   hat other",
        "  cat        2     0     0",
        "  hat        0     1     1",
    ]
    assert class_report({"kind": "pairs", "psnr_db": 30.0}) == []


def test_an_out_of_range_index_folder_hint_names_no_flag_the_run_command_lacks():
    with pytest.raises(ConfigError) as exc:
        map_folders(["1500-foo"], None, 1000)
    assert "--num-classes" not in exc.value.hint and "an index below 1000" in exc.value.hint
