"""An export whose parity says nothing (denormal eager outputs) keeps saying so on every run row."""

from __future__ import annotations

from pathlib import Path


def test_unjudged_parity_follows_the_artifact_into_run(tmp_path, tiny_zoo_entry, db):
    import torch

    from edgebench.exporters import export, registry
    from edgebench.harness.artifacts import from_path
    from edgebench.harness.measure import measure_artifact
    from edgebench.results import Status, Store
    from edgebench.spec import BenchSpec, ExportSpec, ModelSpec
    from edgebench.targets import resolve

    model = tiny_zoo_entry.build(10)
    with torch.no_grad():  # an "untrained" head: logits ~1e-41, below float32's normal range
        model[-1].weight.mul_(1e-40)
        model[-1].bias.zero_()
    ckpt = tmp_path / "collapsed.pth"
    torch.save(model.state_dict(), ckpt)
    fmt = next(f for f in registry.names() if registry.get(f).runtime == "torch")
    (exported,) = export(ModelSpec(name=None, checkpoint=ckpt, arch="tiny_cnn"),
                         ExportSpec(formats=(fmt,), out_dir=tmp_path / "artifacts"))
    assert exported.status == Status.OK, exported.error
    art = from_path(Path(exported.artifact.path))
    assert "cannot be judged" in art.manifest["parity"]["unjudged"]
    bench = BenchSpec(warmup_runs=1, warmup_seconds=0, runs=5, min_seconds=0, threads=1)
    with Store(db) as store:
        r = measure_artifact(art, resolve("local"), bench, store=store)
    assert r.status == Status.OK, r.error
    assert any(w.startswith("export parity:") and "cannot be judged" in w for w in r.warnings), r.warnings
