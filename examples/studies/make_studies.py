"""Build the studies' checkpoints and labelled folders from data that ships with scikit-image and
scikit-learn — nothing is downloaded — then run one sweep file per study::

    python examples/studies/make_studies.py studies          # ~10 minutes on 2 busy CPU cores
    edgebench sweep studies/distill.toml                      # one table per study
    edgebench sweep studies/vit_compression.toml
    edgebench sweep studies/mobilevit_hf.toml
    edgebench sweep studies/resnet18_lightning.toml

What it writes under OUTDIR:

- ``data/photos/{train,val}/<i>-<name>/``: 6 classes, each one photo (scikit-image: astronaut,
  coffee, chelsea, rocket; scikit-learn ``load_sample_images``: china, flower) seen through random
  crops, flips and colour jitter; ``data/photos3/``: its first 3 classes. Folders are index-named
  (``0-astronaut``) because a plain state_dict carries no class names.
- ``data/digits/{train,val}/digit_<k>/``: scikit-learn ``load_digits`` (8×8) upscaled to 64×64 RGB,
  named as the MobileViT config's ``id2label`` names them.
- ``checkpoints/``:
  ``teacher_vit_b16_l2.pth`` a ViT-B/16-shaped teacher (hidden 768, 12 heads, MLP 3072, patch 16,
  224²) with its depth REDUCED from 12 to 2 encoder layers so that training, export and the
  sweeps take minutes, not hours (``--arch vit_b_16 --arch-kwargs num_layers=2``); briefly trained
  on the 6 photo classes. ``student_mnv3s.pth``: a torchvision MobileNetV3-Small trained on the
  same classes, distilled from the teacher (cross-entropy + KL to the teacher's soft labels).
  ``mobilevit_digits/``: a Hugging Face ``MobileViTForImageClassification`` (the XX-small config:
  1.3 M params) with 10 classes at 160×160, random init + a few steps on the digits, written with
  ``save_pretrained`` plus its ``MobileViTImageProcessor`` (which flips RGB→BGR, as Apple's
  MobileViT weights expect). ``resnet18_lightning.ckpt``: a torchvision ResNet18 with its stem,
  layer1 and layer2 frozen, the rest trained briefly on 3 photo classes, saved as PyTorch
  Lightning saves a checkpoint (a dict with ``state_dict`` keys prefixed ``model.``, ``epoch``,
  ``global_step``, ``hyper_parameters`` …; Lightning itself is not needed).
- ``<study>.toml``: the sweep files of ``examples/studies/`` with their ``studies/`` paths pointed
  at OUTDIR.

All weights start random (no pretrained download) and train for a handful of steps: the numbers are
the harness's, not a paper's. ``--only`` builds a subset (``data`` is always built).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
STUDIES = ("distill", "mobilevit", "resnet18")
PHOTO_CLASSES = ("astronaut", "coffee", "chelsea", "rocket", "china", "flower")
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _say(text: str, t0: float) -> None:
    print(f"[{time.perf_counter() - t0:6.1f}s] {text}", flush=True)


# ---------------------------------------------------------------------------------------- data
def _photos() -> dict[str, np.ndarray]:
    import skimage.data
    from sklearn.datasets import load_sample_images

    sk = load_sample_images()
    named = dict(zip((Path(f).stem for f in sk.filenames), sk.images))
    return {"astronaut": skimage.data.astronaut(), "coffee": skimage.data.coffee(),
            "chelsea": skimage.data.chelsea(), "rocket": skimage.data.rocket(),
            "china": named["china"], "flower": named["flower"]}


def _augment(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random 30–100 % area crop, a flip half the time and ±15 % brightness per channel."""
    h, w = img.shape[:2]
    area = rng.uniform(0.3, 1.0) * h * w
    ratio = rng.uniform(3 / 4, 4 / 3)
    ch = int(min(h, max(16, np.sqrt(area / ratio))))
    cw = int(min(w, max(16, np.sqrt(area * ratio))))
    y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    out = img[y:y + ch, x:x + cw].astype(np.float32)
    if rng.random() < 0.5:
        out = out[:, ::-1]
    out *= rng.uniform(0.85, 1.15, size=(1, 1, 3))
    return np.clip(out, 0, 255).astype(np.uint8)


def build_data(out: Path, n_train: int = 12, n_val: int = 6) -> None:
    """The labelled folders (see the module docstring)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for i, (name, img) in enumerate(zip(PHOTO_CLASSES, (_photos()[c] for c in PHOTO_CLASSES))):
        for split, n in (("train", n_train), ("val", n_val)):
            for j in range(n):
                crop = Image.fromarray(_augment(img, rng))
                for root in (["photos", "photos3"] if i < 3 else ["photos"]):
                    folder = out / "data" / root / split / f"{i}-{name}"
                    folder.mkdir(parents=True, exist_ok=True)
                    crop.save(folder / f"{j:03d}.png")
    from sklearn.datasets import load_digits

    digits = load_digits()
    seen = {k: 0 for k in range(10)}
    for img, label in zip(digits.images, digits.target):
        k = seen[int(label)]
        if k >= 20 + 5:
            continue
        seen[int(label)] += 1
        split = "train" if k < 20 else "val"
        folder = out / "data" / "digits" / split / f"digit_{int(label)}"
        folder.mkdir(parents=True, exist_ok=True)
        gray = Image.fromarray((img * (255 / 16)).astype(np.uint8)).resize((64, 64), Image.BILINEAR)
        gray.convert("RGB").save(folder / f"{k:03d}.png")


def _folder(root: Path, transform) -> tuple:
    """(images N×3×H×W, labels N) of a class-folder tree, class index from the folder order."""
    import torch
    from PIL import Image

    xs, ys = [], []
    for label, cls in enumerate(sorted(p for p in root.iterdir() if p.is_dir())):
        for f in sorted(cls.glob("*.png")):
            with Image.open(f) as im:
                xs.append(transform(im.convert("RGB")))
            ys.append(label)
    return torch.stack(xs), torch.tensor(ys)


def _tv_transform(size: int = 224):
    """What edgebench uses for a torchvision ImageNet model: resize 256, centre crop 224, ImageNet mean/std."""
    import torch
    from torchvision.transforms import v2

    return v2.Compose([v2.PILToTensor(), v2.Resize(int(size * 256 / 224), antialias=True), v2.CenterCrop(size),
                       v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)])


# ------------------------------------------------------------------------------------ training
def _train(model, x, y, steps: int, lr: float, batch: int = 12, teacher=None, params=None) -> float:
    """``steps`` Adam steps on random batches; with ``teacher``: + KL to its soft labels (T=2).
    Returns the last loss."""
    import torch
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(0)
    opt = torch.optim.AdamW(params if params is not None else model.parameters(), lr=lr, weight_decay=0.01)
    loss = torch.tensor(0.0)
    for _ in range(steps):
        idx = torch.randint(len(x), (batch,), generator=gen)
        logits = model(x[idx])
        loss = F.cross_entropy(logits, y[idx])
        if teacher is not None:
            with torch.no_grad():
                soft = F.softmax(teacher(x[idx]) / 2.0, dim=1)
            loss = loss + 4.0 * F.kl_div(F.log_softmax(logits / 2.0, dim=1), soft, reduction="batchmean")
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(loss)


def _settle_batchnorm(model, x) -> None:
    """Recompute the running statistics of every TRAINED BatchNorm (frozen ones keep theirs) over the
    training images: a handful of steps leaves momentum averages far from the data, and eval-mode
    accuracy would then say nothing about what was learnt."""
    import torch

    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
             and m.weight is not None and m.weight.requires_grad]
    if not norms:
        return
    model.eval()
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the passes below
        m.train()
    with torch.no_grad():
        for i in range(0, len(x), 16):
            model(x[i:i + 16])
    for m in norms:
        m.momentum = 0.1
    model.eval()


def _accuracy(model, x, y) -> float:
    import torch

    model.eval()
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def build_distill(out: Path, steps: int, t0: float) -> None:
    """The ViT-B/16-shaped teacher (2 layers) and the MobileNetV3-Small student, 6 photo classes."""
    import torch
    import torchvision

    tf = _tv_transform()
    x, y = _folder(out / "data" / "photos" / "train", tf)
    xv, yv = _folder(out / "data" / "photos" / "val", tf)
    torch.manual_seed(0)
    teacher = torchvision.models.VisionTransformer(image_size=224, patch_size=16, num_layers=2, num_heads=12,
                                                   hidden_dim=768, mlp_dim=3072, num_classes=len(PHOTO_CLASSES))
    teacher.train()
    loss = _train(teacher, x, y, steps, lr=3e-4, batch=8)
    _say(f"teacher ViT-B/16 shape, 2 layers: loss {loss:.3f}, val accuracy {_accuracy(teacher, xv, yv):.0%}", t0)
    torch.save(teacher.state_dict(), out / "checkpoints" / "teacher_vit_b16_l2.pth")
    student = torchvision.models.mobilenet_v3_small(weights=None, num_classes=len(PHOTO_CLASSES)).train()
    loss = _train(student, x, y, 2 * steps, lr=2e-3, batch=12, teacher=teacher.eval())
    _settle_batchnorm(student, x)
    _say(f"student MobileNetV3-Small: loss {loss:.3f}, val accuracy {_accuracy(student, xv, yv):.0%}", t0)
    torch.save(student.state_dict(), out / "checkpoints" / "student_mnv3s.pth")


def build_mobilevit(out: Path, steps: int, t0: float) -> None:
    """Hugging Face MobileViT (XX-small config), 10 digit classes at 160×160, save_pretrained."""
    import torch
    from transformers import MobileViTConfig, MobileViTForImageClassification, MobileViTImageProcessor

    names = [f"digit_{k}" for k in range(10)]
    config = MobileViTConfig(num_labels=10, image_size=160, hidden_sizes=[64, 80, 96],
                             neck_hidden_sizes=[16, 16, 24, 48, 64, 80, 320], expand_ratio=2.0,
                             id2label=dict(enumerate(names)), label2id={n: k for k, n in enumerate(names)})
    processor = MobileViTImageProcessor(size={"shortest_edge": 160}, crop_size={"height": 160, "width": 160})
    torch.manual_seed(0)
    hf = MobileViTForImageClassification(config)

    def load(split: str):
        from PIL import Image

        xs, ys = [], []
        for f in sorted((out / "data" / "digits" / split).glob("digit_*/*.png")):
            with Image.open(f) as im:
                xs.append(im.convert("RGB").copy())
            ys.append(names.index(f.parent.name))
        # the processor itself prepares the training batch, as a user's training script would
        return processor(images=xs, return_tensors="pt")["pixel_values"], torch.tensor(ys)

    x, y = load("train")
    xv, yv = load("val")

    class Logits(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, t):
            return self.m(pixel_values=t).logits

    model = Logits(hf).train()
    loss = _train(model, x, y, 3 * steps, lr=2e-3, batch=16)
    _settle_batchnorm(model, x)
    _say(f"Hugging Face MobileViT-XXS: loss {loss:.3f}, val accuracy {_accuracy(model, xv, yv):.0%}", t0)
    folder = out / "checkpoints" / "mobilevit_digits"
    hf.eval().save_pretrained(folder)  # config.json + model.safetensors
    processor.save_pretrained(folder)  # preprocessor_config.json


def build_resnet18(out: Path, steps: int, t0: float) -> None:
    """ResNet18, stem + layer1 + layer2 frozen, 3 photo classes, a Lightning-style checkpoint."""
    import torch
    import torchvision

    tf = _tv_transform()
    x, y = _folder(out / "data" / "photos3" / "train", tf)
    xv, yv = _folder(out / "data" / "photos3" / "val", tf)
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=3)
    frozen = ("conv1", "bn1", "layer1", "layer2")
    for name, p in model.named_parameters():
        p.requires_grad_(not name.startswith(frozen))
    model.train()
    for name in frozen:  # frozen blocks keep their BatchNorm statistics too
        getattr(model, name).eval()
    hparams = {"lr": 1e-3, "num_classes": 3, "frozen": list(frozen), "batch_size": 12, "arch": "resnet18"}
    loss = _train(model, x, y, steps, lr=hparams["lr"], batch=12,
                  params=[p for p in model.parameters() if p.requires_grad])
    _settle_batchnorm(model, x)
    _say(f"ResNet18 (frozen {', '.join(frozen)}): loss {loss:.3f}, val accuracy {_accuracy(model, xv, yv):.0%}", t0)
    ckpt = {
        "epoch": 0, "global_step": steps, "pytorch-lightning_version": "2.4.0",
        "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
        "hyper_parameters": hparams, "optimizer_states": [], "lr_schedulers": [], "callbacks": {},
        "loops": {}, "hparams_name": "kwargs",
    }
    torch.save(ckpt, out / "checkpoints" / "resnet18_lightning.ckpt")


def write_sweeps(out: Path) -> list[Path]:
    """The shipped sweep files with their ``studies/`` paths pointed at ``out``."""
    written = []
    for toml in sorted(HERE.glob("*.toml")):
        text = toml.read_text().replace('"studies/', f'"{out.resolve().as_posix()}/')
        dest = out / toml.name
        dest.write_text(text)
        written.append(dest)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outdir", type=Path, help="where the data, checkpoints and sweep files go")
    parser.add_argument("--only", default=",".join(STUDIES),
                        help=f"comma-separated subset of {', '.join(STUDIES)} (the data is always built)")
    parser.add_argument("--steps", type=int, default=20, help="training steps (the student and MobileViT take more)")
    args = parser.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(STUDIES)
    if unknown:
        parser.error(f"--only: unknown {', '.join(sorted(unknown))} (known: {', '.join(STUDIES)})")
    import torch

    torch.set_num_threads(max(1, torch.get_num_threads()))
    t0 = time.perf_counter()
    out = args.outdir
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    build_data(out)
    _say(f"labelled folders in {out / 'data'}", t0)
    builders = {"distill": build_distill, "mobilevit": build_mobilevit, "resnet18": build_resnet18}
    for name in only:
        builders[name](out, args.steps, t0)
    (out / "checkpoints" / "README.json").write_text(json.dumps(
        {"built": only, "steps": args.steps, "note": "random init + brief training; see make_studies.py"}, indent=2))
    for path in write_sweeps(out):
        _say(f"sweep file {path}", t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
