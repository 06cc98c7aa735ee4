"""Every checkpoint form loads; every bad input is one LoadError line and a pickle never runs."""

from __future__ import annotations

import os
import pickle
import zipfile

import pytest
import torch
import torchvision

from edgebench.errors import LoadError
from edgebench.models import load
from edgebench.models.checkpoint import detect_kind, unwrap_state_dict
from edgebench.spec import ModelSpec


@pytest.fixture(scope="module")
def r18():
    torch.manual_seed(0)
    return torchvision.models.resnet18(num_classes=10).eval()


def _same(a, b, x):
    with torch.no_grad():
        return torch.allclose(a(x), b(x), atol=1e-5)


@pytest.mark.parametrize("wrap", ["plain", "state_dict", "model", "module_prefix", "lightning"])
def test_state_dict_forms(tmp_path, r18, wrap):
    sd = r18.state_dict()
    obj = {
        "plain": sd,
        "state_dict": {"state_dict": sd, "epoch": 3},
        "model": {"model": sd, "optimizer": {}},
        "module_prefix": {f"module.{k}": v for k, v in sd.items()},
        "lightning": {"state_dict": {f"model.{k}": v for k, v in sd.items()}, "hyper_parameters": {"lr": 0.1}},
    }[wrap]
    path = tmp_path / "ckpt.pth"
    torch.save(obj, path)
    lm = load(ModelSpec(name=None, checkpoint=path, arch="resnet18", num_classes=10))
    assert lm.source["kind"] == "state_dict" and len(lm.source["sha256"]) == 64
    assert _same(lm.module, r18, torch.randn(1, 3, 64, 64))
    assert lm.input_spec.num_classes == 10


def test_pt2_needs_no_code(tmp_path, r18):
    path = tmp_path / "m.pt2"
    ep = torch.export.export(r18, (torch.randn(1, 3, 224, 224),))
    torch.export.save(ep, path)
    assert detect_kind(path) == "pt2"
    lm = load(ModelSpec(name=None, checkpoint=path))
    assert lm.source["kind"] == "pt2"
    assert _same(lm.module, r18, torch.randn(1, 3, 224, 224))


def test_torchscript(tmp_path, r18):
    path = tmp_path / "m.pt"
    torch.jit.save(torch.jit.trace(r18, torch.randn(1, 3, 64, 64)), path)
    assert detect_kind(path) == "jit"
    lm = load(ModelSpec(name=None, checkpoint=path))
    assert lm.source["kind"] == "jit"
    assert _same(lm.module, r18, torch.randn(1, 3, 64, 64))


class _Payload:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


@pytest.mark.parametrize("protocol", [2, 4])
def test_malicious_pickle_refused_and_never_runs(tmp_path, protocol):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    with open(path, "wb") as fh:
        pickle.dump({"weight": _Payload(marker)}, fh, protocol=protocol)
    with pytest.raises(LoadError) as info:
        load(ModelSpec(name=None, checkpoint=path, arch="resnet18"))
    assert "--trust-checkpoint" in str(info.value)
    assert "\n" not in str(info.value)
    assert not marker.exists()


def test_malicious_pickle_inside_torch_zip_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil_zip.pt"
    torch.save({"w": torch.zeros(2)}, path)
    # replace the zip's data.pkl with a payload, as a tampered checkpoint would
    with zipfile.ZipFile(path) as zf:
        items = {n: zf.read(n) for n in zf.namelist()}
    name = next(n for n in items if n.endswith("data.pkl"))
    items[name] = pickle.dumps({"w": _Payload(marker)}, protocol=2)
    with zipfile.ZipFile(path, "w") as zf:
        for n, data in items.items():
            zf.writestr(n, data)
    with pytest.raises(LoadError):
        load(ModelSpec(name=None, checkpoint=path, arch="resnet18"))
    assert not marker.exists()


def test_pickled_module_needs_trust(tmp_path, tiny_cnn):
    path = tmp_path / "whole.pt"
    torch.save(tiny_cnn, path)
    with pytest.raises(LoadError, match="--trust-checkpoint"):
        load(ModelSpec(name=None, checkpoint=path))
    lm = load(ModelSpec(name=None, checkpoint=path, trust_checkpoint=True))
    assert lm.source["kind"] == "pickled-module"
    assert _same(lm.module, tiny_cnn, torch.randn(1, 3, 32, 32))


def test_missing_file(tmp_path):
    with pytest.raises(LoadError, match="does not exist"):
        load(ModelSpec(name=None, checkpoint=tmp_path / "nope.pt", arch="resnet18"))


def test_random_bytes(tmp_path):
    path = tmp_path / "random.pt"
    path.write_bytes(os.urandom(4096).replace(b"\x80", b"\x00").replace(b"PK", b"pk"))
    with pytest.raises(LoadError, match="not a PyTorch checkpoint"):
        load(ModelSpec(name=None, checkpoint=path, arch="resnet18"))


def test_truncated(tmp_path, r18):
    path = tmp_path / "cut.pt"
    torch.save(r18.state_dict(), path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(LoadError, match="truncated or corrupt"):
        load(ModelSpec(name=None, checkpoint=path, arch="resnet18", num_classes=10))


def test_wrong_arch_names_keys(tmp_path, r18):
    path = tmp_path / "r18.pt"
    torch.save(r18.state_dict(), path)
    with pytest.raises(LoadError) as info:
        load(ModelSpec(name=None, checkpoint=path, arch="mobilenet_v2", num_classes=10))
    msg = str(info.value)
    assert "keys missing" in msg and "unexpected" in msg and "conv1.weight" in msg


def test_wrong_num_classes_suggests_the_right_one(tmp_path, r18):
    path = tmp_path / "r18.pt"
    torch.save(r18.state_dict(), path)
    with pytest.raises(LoadError, match="--num-classes 10"):
        load(ModelSpec(name=None, checkpoint=path, arch="resnet18", num_classes=1000))


def test_state_dict_without_arch(tmp_path, r18):
    path = tmp_path / "r18.pt"
    torch.save(r18.state_dict(), path)
    with pytest.raises(LoadError, match="needs --arch"):
        load(ModelSpec(name=None, checkpoint=path))


def test_unwrap_rejects_non_tensor_dict():
    with pytest.raises(LoadError, match="no state_dict"):
        unwrap_state_dict({"epoch": 3})
