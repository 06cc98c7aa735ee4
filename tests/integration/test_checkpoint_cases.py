"""Issue 12: the studies' own checkpoints (shared/cases/make_checkpoint_cases.py) through `inspect`
and `export` as a user types them — torch.export programs at any size, Hugging Face folders,
width multipliers, TorchScript without a recorded size, pre-processing flags."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edgebench.cli import main

# the project's shared cases sit beside the checkout (../shared), in development and in CI
CASES = Path(__file__).resolve().parents[3] / "shared" / "cases" / "make_checkpoint_cases.py"


@pytest.fixture(scope="session")
def ckpt(tmp_path_factory) -> Path:
    """The cases script's checkpoints, generated once per session into a temporary folder."""
    if not CASES.is_file():
        pytest.skip(f"{CASES} is not on this machine")
    where = tmp_path_factory.mktemp("checkpoint_cases")
    subprocess.run([sys.executable, str(CASES)], cwd=where, check=True, capture_output=True, timeout=600)
    return where / "ckpt"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(["--db", str(Path(argv[0])), *argv[1:]])
    out, err = capsys.readouterr()
    return exc.value.code, out, " ".join(err.split())


def inspect(capsys, tmp_path, *argv: str) -> tuple[int, str, str]:
    return run(capsys, str(tmp_path / "r.db"), "inspect", *argv)


def test_pt2_at_160_uses_the_programs_shape(ckpt, tmp_path, capsys):
    code, out, err = inspect(capsys, tmp_path, "--checkpoint", str(ckpt / "mnv2_160.pt2"))
    assert code == 0, err
    assert "1×3×160×160" in out and "classes 10" in out and "the program's input" in out
    # MobileNetV2 at 160²: ~300 M MACs × (160/224)² ≈ 153 M, not the 224² count
    assert "152.82 M" in out


def test_pt2_12x12_pool(ckpt, tmp_path, capsys):
    code, out, err = inspect(capsys, tmp_path, "--checkpoint", str(ckpt / "pool_12x12.pt2"))
    assert code == 0, err
    assert "1×3×12×12" in out and "Guard failed" not in out + err


def test_pt2_contradicting_input_shape_is_one_line(ckpt, tmp_path, capsys):
    code, out, err = inspect(capsys, tmp_path, "--checkpoint", str(ckpt / "mnv2_160.pt2"),
                             "--input-shape", "1,3,224,224")
    assert code == 2
    assert err.startswith("error load: --input-shape 1,3,224,224 but mnv2_160.pt2 was exported for 1,3,160,160")
    assert "Traceback" not in err


def test_export_pt2_at_160(ckpt, tmp_path, capsys):
    code, out, err = run(capsys, str(tmp_path / "r.db"), "export", "--checkpoint", str(ckpt / "mnv2_160.pt2"),
                         "-f", "torchscript", "-o", str(tmp_path / "out"))
    assert code == 0, err
    manifest = json.loads((tmp_path / "out/mnv2_160/mnv2_160-fp32.pt.manifest.json").read_text())
    assert manifest["inputs"][0]["shape"] == [1, 3, 160, 160]
    assert manifest["outputs"][0]["shape"] == [1, 10]
    assert manifest["source"]["input_shape_from"] == "the program's input"
    assert manifest["preprocessing"]["crop"] == [160, 160]


def test_width_half_state_dict_is_detected(ckpt, tmp_path, capsys):
    code, out, err = inspect(capsys, tmp_path, "--checkpoint", str(ckpt / "mnv2_w050.pth"), "--arch", "mobilenet_v2")
    assert code == 0, err
    text = "".join(line.strip("│ ") + " " for line in out.splitlines())
    assert "width_mult=0.5 detected from features.0.0.weight" in " ".join(text.split())
    assert "--num-classes 16" not in out + err
    assert "a state_dict does not record its resolution" in " ".join(out.replace("│", " ").split())


def test_wrong_width_hint_names_arch_kwargs(ckpt, tmp_path, capsys):
    code, out, err = inspect(capsys, tmp_path, "--checkpoint", str(ckpt / "mnv2_w050.pth"), "--arch", "mobilenet_v2",
                             "--arch-kwargs", "width_mult=0.75")
    assert code == 2
    assert "--arch-kwargs width_mult=0.5" in err
    assert "--num-classes" not in err


def test_arch_kwargs_reach_the_builder(tmp_path, capsys):
    code, out, err = inspect(capsys, tmp_path, "--model", "mobilenet_v2", "--arch-kwargs", "width_mult=0.5")
    assert code == 0, err
    assert "1.97 M" in out  # MobileNetV2 ×0.5 has 1.97 M params (×1.0: 3.50 M)
    code, out, err = inspect(capsys, tmp_path, "--model", "mobilenet_v2", "--arch-kwargs", "bogus=1")
    assert code == 2 and "bogus" in err and "Traceback" not in err


def test_torchscript_needs_input_shape(tmp_path, capsys):
    import torch

    from tests.conftest import make_tiny_cnn

    path = tmp_path / "traced.pt"
    torch.jit.trace(make_tiny_cnn(), torch.randn(1, 3, 48, 48)).save(str(path))
    code, out, err = inspect(capsys, tmp_path, "--checkpoint", str(path))
    assert code == 2
    assert err == ("error load: traced.pt: the input shape is unknown (TorchScript keeps no input sizes) — "
                   "pass --input-shape, e.g. --input-shape 1,3,224,224")
    code, out, err = inspect(capsys, tmp_path, "--checkpoint", str(path), "--input-shape", "1,3,48,48")
    assert code == 0, err
    assert "1×3×48×48" in out and "--input-shape" in out


def test_hf_folder_inspect(ckpt, tmp_path, capsys):
    code, out, err = inspect(capsys, tmp_path, "--checkpoint", str(ckpt / "hf_mobilevit_160"))
    assert code == 0, err
    text = " ".join(out.replace("│", " ").split())
    assert "huggingface" in text and "MobileViTForImageClassification" in text
    assert "1×3×160×160" in text and "classes 10" in text
    assert "LABEL_0, LABEL_1" in text
    # no preprocessor_config.json: MobileViT's processor (no normalisation, BGR) at the config's 160²
    assert "crop 160x160" in text and "mean (0, 0, 0) std (1, 1, 1), BGR" in text


def test_hf_folder_with_preprocessor_config_and_labels(ckpt, tmp_path, capsys):
    folder = tmp_path / "hf"
    shutil.copytree(ckpt / "hf_mobilevit_160", folder)
    config = json.loads((folder / "config.json").read_text())
    names = ["apple", "bus", "cat", "dog", "eel", "fig", "gnu", "hat", "ink", "jar"]
    config["id2label"] = {str(i): n for i, n in enumerate(names)}
    config["label2id"] = {n: i for i, n in enumerate(names)}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "preprocessor_config.json").write_text(json.dumps({
        "image_processor_type": "MobileViTImageProcessor", "do_resize": True, "size": {"shortest_edge": 180},
        "do_center_crop": True, "crop_size": {"height": 160, "width": 160}, "do_rescale": True,
        "resample": 3, "do_flip_channel_order": False}))
    code, out, err = inspect(capsys, tmp_path, "--checkpoint", str(folder))
    assert code == 0, err
    text = " ".join(out.replace("│", " ").split())
    assert "apple, bus, cat" in text
    assert "resize 180 → crop 160x160, bicubic" in text and "RGB — from preprocessor_config.json" in text
    # user flags win over the config, and say so
    code, out, err = inspect(capsys, tmp_path, "--checkpoint", str(folder), "--mean", "0.5,0.5,0.5",
                             "--std", "0.25,0.25,0.25", "--interpolation", "bilinear")
    text = " ".join(out.replace("│", " ").split())
    assert code == 0, err
    assert "bilinear, mean (0.5, 0.5, 0.5) std (0.25, 0.25, 0.25)" in text and "overridden by --mean, --std" in text


def test_safetensors_state_dict(tmp_path, capsys):
    import torchvision
    from safetensors.torch import save_file

    sd = torchvision.models.resnet18(num_classes=3).state_dict()
    save_file(sd, str(tmp_path / "r18.safetensors"))
    code, out, err = inspect(capsys, tmp_path, "--checkpoint", str(tmp_path / "r18.safetensors"), "--arch", "resnet18",
                             "--num-classes", "3", "--input-shape", "1,3,128,128")
    assert code == 0, err
    assert "state_dict" in out and "1×3×128×128" in out and "classes 3" in out
    (tmp_path / "bad.safetensors").write_bytes(b"not a safetensors file")
    code, out, err = inspect(capsys, tmp_path, "--checkpoint", str(tmp_path / "bad.safetensors"), "--arch", "resnet18")
    assert code == 2 and err.startswith("error load: bad.safetensors is not a readable safetensors file")


@pytest.mark.slow
def test_hf_folder_exports_to_every_format(ckpt, tmp_path, capsys):
    from edgebench.exporters import registry

    formats = [f for f in registry.names() if registry.get(f).unavailable_reason() is None]
    argv = ["export", "--checkpoint", str(ckpt / "hf_mobilevit_160"), "-o", str(tmp_path / "out")]
    for f in formats:
        argv += ["-f", f]
    code, out, err = run(capsys, str(tmp_path / "r.db"), *argv)
    manifests = sorted((tmp_path / "out" / "hf_mobilevit_160").glob("*.manifest.json"))
    assert len(manifests) == len(formats), out + err
    for path in manifests:
        m = json.loads(path.read_text())
        assert m["inputs"][0]["shape"] == [1, 3, 160, 160], path.name
        assert m["outputs"][0]["shape"] == [1, 10], path.name
        assert m["input_spec"]["class_names"] == [f"LABEL_{i}" for i in range(10)]
        assert m["source"]["kind"] == "huggingface"
        # the randomly initialised MobileViT's logits are ~1e-41: parity says it cannot judge that
        vs = (m["parity"] or {}).get("vs_eager")
        if vs is not None:
            assert m["status"] == "OK", (path.name, m["warnings"])
    assert code == 0, out + err


@pytest.mark.slow
def test_hf_model_exported_or_pickled(ckpt, tmp_path, capsys):
    """A transformers model saved as a torch.export program or a pickled module: its ModelOutput is
    unwrapped to the logits, its size and class names come from the program / config."""
    import torch
    from transformers import MobileViTForImageClassification

    m = MobileViTForImageClassification.from_pretrained(str(ckpt / "hf_mobilevit_160"), local_files_only=True).eval()
    torch.export.save(torch.export.export(m, (torch.randn(1, 3, 160, 160),), strict=False), tmp_path / "hf.pt2")
    torch.save(m, tmp_path / "hf_whole.pt")
    for argv in (["--checkpoint", str(tmp_path / "hf.pt2")],
                 ["--checkpoint", str(tmp_path / "hf_whole.pt"), "--trust-checkpoint"]):
        code, out, err = inspect(capsys, tmp_path, *argv)
        assert code == 0, err
        text = " ".join(out.replace("│", " ").split())
        assert "1×3×160×160" in text and "classes 10" in text
        assert "exported output is its logits" in text
    assert "LABEL_0, LABEL_1" in text and "transformers config image_size" in text
