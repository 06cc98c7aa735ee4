"""The ONNX plug-in's file readers on third-party-style files: weights held in Constant nodes
(paddle2onnx, RapidOCR) count as parameters, in subgraphs too."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto as T  # noqa: E402
from onnx import helper as h  # noqa: E402
from onnx import numpy_helper as nh  # noqa: E402

from edgebench.exporters import for_suffix  # noqa: E402
from edgebench.harness.artifacts import from_path  # noqa: E402


def _model(nodes, initializer=()):
    g = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", T.FLOAT, [1, 64])],
                     [h.make_tensor_value_info("y", T.FLOAT, [1, 64])], initializer=list(initializer))
    return h.make_model(g, opset_imports=[h.make_opsetid("", 13)])


def test_constant_node_weights_are_parameters(tmp_path):
    # the shared case const_weights.onnx: a 64×64 MatMul weight in a Constant node → 4096, not 0
    w = nh.from_array(np.ones((64, 64), np.float32), "w")
    path = tmp_path / "const_weights.onnx"
    onnx.save(_model([h.make_node("Constant", [], ["w"], value=w), h.make_node("MatMul", ["x", "w"], ["y"])]), path)
    assert for_suffix(path).file_param_counts(path) == (4096, 4096)
    info = from_path(path).info()  # `edgebench run` on the file without a manifest
    assert info.params == 4096 and info.nonzero_params == 4096


def test_initializers_constants_and_subgraphs_add_up_scalars_do_not(tmp_path):
    w = np.zeros((64, 64), np.float32)
    w[0, :10] = 1.0
    bias = nh.from_array(np.arange(64, dtype=np.float32), "b")
    scalar = nh.from_array(np.array(2.0, np.float32), "s")
    then_w = nh.from_array(np.ones((3, 4), np.float32), "tw")
    branch = h.make_graph([h.make_node("Constant", [], ["t"], value=then_w)], "then", [],
                          [h.make_tensor_value_info("t", T.FLOAT, [3, 4])])
    cond = nh.from_array(np.array(True), "c")
    nodes = [h.make_node("MatMul", ["x", "w"], ["m"]), h.make_node("Constant", [], ["b"], value=bias),
             h.make_node("Constant", [], ["s"], value=scalar), h.make_node("Add", ["m", "b"], ["a"]),
             h.make_node("Mul", ["a", "s"], ["y"]),
             h.make_node("Constant", [], ["c"], value=cond),
             h.make_node("If", ["c"], ["z"], then_branch=branch, else_branch=branch)]
    path = tmp_path / "mixed.onnx"
    onnx.save(_model(nodes, [nh.from_array(w, "w")]), path)
    # 4096 (initializer) + 64 (Constant bias) + 2 × 12 (one Constant in each branch); scalars skipped
    assert for_suffix(path).file_param_counts(path) == (4096 + 64 + 24, 10 + 63 + 24)
