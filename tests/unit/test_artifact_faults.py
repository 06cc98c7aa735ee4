"""Files that are not what they seem: checkpoints handed to `run`, wrapper infixes, numpy scalars
beside the weights, FIFOs and devices named like models, and the temp files of a killed export."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from edgebench.errors import ConfigError, LoadError
from edgebench.exporters.cells import clean_stale_temps, is_temp_name
from edgebench.harness.artifacts import discover, extensions, from_path
from edgebench.models.checkpoint import load_checkpoint


@pytest.fixture(scope="module")
def r18_state_dict():
    import torch
    import torchvision

    torch.manual_seed(0)
    return torchvision.models.resnet18(num_classes=3).state_dict()


def a_suffix() -> str:
    """Any file suffix edgebench measures (the test names no format)."""
    return sorted(s for s in extensions() if s != ".mlpackage")[0]


def test_layer1_module_infix_is_stripped_and_loads(tmp_path, r18_state_dict):
    import torch

    path = tmp_path / "r18_infix.pth"
    torch.save({k.replace("layer1.", "layer1.module.", 1): v for k, v in r18_state_dict.items()}, path)
    module, kind = load_checkpoint(path, "resnet18", 3, trust=False)
    assert kind == "state_dict"
    assert torch.equal(module.state_dict()["layer1.0.conv1.weight"], r18_state_dict["layer1.0.conv1.weight"])


def test_features_module_infix_with_the_wrong_arch_names_the_infix(tmp_path, r18_state_dict):
    import torch

    path = tmp_path / "infix.pth"
    torch.save({k.replace("layer1.", "layer1.module.", 1): v for k, v in r18_state_dict.items()}, path)
    with pytest.raises(LoadError) as info:
        load_checkpoint(path, "mobilenet_v2", 3, trust=False)
    assert "'.module.'" in info.value.hint


def test_numpy_scalars_beside_the_weights_load_without_trust(tmp_path, r18_state_dict):
    import numpy as np
    import torch

    path = tmp_path / "meta.pth"
    torch.save({"state_dict": r18_state_dict, "best_acc": np.float64(0.91), "epoch": np.int64(12)}, path)
    module, kind = load_checkpoint(path, "resnet18", 3, trust=False)
    assert kind == "state_dict"


class _Payload:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_other_globals_stay_refused(tmp_path, r18_state_dict):
    import torch

    marker = tmp_path / "ran"
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": r18_state_dict, "x": _Payload(marker)}, path)
    with pytest.raises(LoadError, match="--trust-checkpoint"):
        load_checkpoint(path, "resnet18", 3, trust=False)
    assert not marker.exists()


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".ckpt"])  # artifact suffix or not
def test_a_healthy_checkpoint_given_to_run_says_export_it(tmp_path, r18_state_dict, suffix):
    import torch

    path = tmp_path / f"plain_state_dict{suffix}"
    torch.save(r18_state_dict, path)
    with pytest.raises(ConfigError) as info:
        from_path(path)
    line = str(info.value)
    assert "this is a checkpoint, not an artifact: use `edgebench export --checkpoint" in line
    assert "corrupt" not in line


def test_a_folder_of_checkpoints_says_so(tmp_path, r18_state_dict):
    import torch

    torch.save(r18_state_dict, tmp_path / "best.pt")
    with pytest.raises(ConfigError, match="holds checkpoints \\(best.pt\\), not artifacts"):
        discover([tmp_path])


def test_fifo_and_device_named_like_models_are_refused_before_reading(tmp_path):
    fifo = tmp_path / f"pipe{a_suffix()}"
    os.mkfifo(fifo)
    zero = tmp_path / f"zero{a_suffix()}"
    zero.symlink_to("/dev/zero")
    # in a child with a timeout: reading either would hang or never end
    code = ("import sys\nfrom edgebench.harness.artifacts import from_path\n"
            "for p in sys.argv[1:]:\n"
            "    try: from_path(p)\n"
            "    except Exception as e: print(e)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(fifo), str(zero)], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    lines = proc.stdout.splitlines()
    assert len(lines) == 2, proc.stderr
    assert "is a FIFO (named pipe), not a model file" in lines[0]
    assert "is a character device, not a model file" in lines[1]
    discover_dir = tmp_path  # discovery skips both (and says there is nothing to measure)
    with pytest.raises(ConfigError, match="no model files"):
        discover([discover_dir])


def test_a_fifo_as_checkpoint_is_refused_before_reading(tmp_path):
    fifo = tmp_path / "best.pth"
    os.mkfifo(fifo)
    with pytest.raises(LoadError, match="not a regular file"):
        load_checkpoint(fifo, "resnet18", None, trust=False)


def test_temp_files_of_a_killed_export_are_not_artifacts(tmp_path):
    sfx = a_suffix()
    real = tmp_path / f"m-fp32{sfx}"
    real.write_bytes(b"x")
    dead = tmp_path / f".tmp-999999999-abcd1234-m-fp32{sfx}"  # no such pid
    dead.write_bytes(b"half")
    old = tmp_path / f".tmp-abcd1234-m-fp32{sfx}"  # the name older versions wrote
    old.write_bytes(b"half")
    assert [a.path for a in discover([tmp_path])] == [real]
    with pytest.raises(ConfigError, match="temporary file of an export that did not finish"):
        from_path(dead)
    assert is_temp_name(dead.name) and not is_temp_name(real.name)


def test_the_next_export_cleans_dead_temp_files_only(tmp_path):
    sfx = a_suffix()
    dead = tmp_path / f".tmp-999999999-abcd1234-m{sfx}"
    dead.write_bytes(b"half")
    legacy = tmp_path / f".old-abcd1234-m{sfx}"
    legacy.mkdir()
    live = tmp_path / f".tmp-{os.getpid()}-abcd1234-m{sfx}"  # an export still running
    live.write_bytes(b"writing")
    keep = tmp_path / f"m{sfx}"
    keep.write_bytes(b"artifact")
    removed = clean_stale_temps(tmp_path)
    assert sorted(removed) == sorted([dead, legacy])
    assert live.exists() and keep.exists() and not dead.exists() and not legacy.exists()


def test_a_file_copied_over_its_artifact_is_not_described_by_the_stale_manifest(tmp_path):
    from edgebench.exporters.manifest import write_manifest
    from edgebench.models.checkpoint import sha256_file

    sfx = a_suffix()
    art = tmp_path / f"m-fp32{sfx}"
    art.write_bytes(b"fp32 bytes")
    write_manifest(art, {"schema_version": 1, "format": "fmt", "model": "m", "variant": "fp32",
                         "sha256": sha256_file(art), "size_bytes": 10, "gzip_bytes": 9, "params": 5})
    fresh = from_path(art)
    assert fresh.variant == "fp32" and fresh.manifest and fresh.warnings == ()
    art.write_bytes(b"int8 bytes, copied over the fp32 file")
    stale = from_path(art)
    assert stale.manifest is None and stale.variant == "unknown" and stale.model == "m-fp32"
    assert len(stale.warnings) == 1 and "does not match its manifest" in stale.warnings[0]
    assert stale.info().size_bytes == len(b"int8 bytes, copied over the fp32 file")  # the real bytes
