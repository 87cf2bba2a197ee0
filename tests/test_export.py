"""One-file models and deployment exports (issue 19, items 1 and 2): a run becomes one safetensors
file that opens as the same handle with the same samples; generators and translators become ONNX /
TorchScript graphs that match PyTorch to 1e-4 at another batch size; bad input gets one sentence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

import ganforge
from ganforge.cli.main import main
from ganforge.errors import CheckpointError, ConfigError
from ganforge.export import TOLERANCE, export
from ganforge.models.base import Generator
from ganforge.registry import MODELS
from ganforge.tasks import onefile
from ganforge.tasks.graphs import sampler_graph, translator_graph
from ganforge.tasks.onefile import describe_file, read_metadata

# (model, data shape, classes): a generator of each kind of latent/label input and a translator of
# each kind of condition (none, two directions, mask, attribute).
GREY, RGB = (1, 32, 32), (3, 32, 32)
GENERATORS = [("dcgan_tiny", GREY, 0), ("cgan_tiny", GREY, 10), ("stylegan2_tiny", RGB, 5),
              ("r3gan_tiny", RGB, 0), ("biggan_tiny", RGB, 10), ("mlp_tiny", (2,), 0)]  # fmt: skip
TRANSLATORS = [("pix2pix_tiny", GREY, "AtoB"), ("cyclegan_tiny", GREY, "BtoA"), ("srgan_tiny", RGB, "AtoB"),
               ("inpaint_tiny", RGB, "AtoB"), ("attr_edit_tiny", GREY, "AtoB")]  # fmt: skip


def graph_of(name: str, shape: tuple[int, ...], classes: int = 0, direction: str = "AtoB"):
    g = MODELS.build(name, shape, num_classes=classes)["g"].eval()
    if name in {t[0] for t in TRANSLATORS}:
        return translator_graph(g, direction)
    return sampler_graph(g, classes if getattr(g, "conditional", False) else 0, truncation=1.0)


@pytest.fixture(scope="module")
def model_file(tiny_image_run: ganforge.Run, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "model.safetensors"
    assert main(["export", str(tiny_image_run.path), "-o", str(out)]) == 0
    return out


def test_a_one_file_model_samples_exactly_as_its_run(tiny_image_run: ganforge.Run, model_file: Path) -> None:
    from_run = ganforge.load(tiny_image_run.path).sample(8, seed=3, labels=[1, 2, 3, 4, 5, 6, 7, 8])
    handle = ganforge.from_pretrained(model_file)
    assert isinstance(handle, ganforge.GeneratorHandle)
    assert torch.equal(handle.sample(8, seed=3, labels=[1, 2, 3, 4, 5, 6, 7, 8]), from_run)
    assert torch.equal(
        ganforge.load(model_file).sample(4, seed=1), ganforge.load(tiny_image_run.path).sample(4, seed=1)
    )


def test_the_file_says_what_it_is(model_file: Path) -> None:
    meta = read_metadata(model_file)
    assert meta["format"] == "ganforge.model" and meta["task"] == "generation"
    assert meta["config"]["model"]["name"] == "dcgan_tiny"
    assert meta["info"]["data_shape"] == [1, 32, 32]
    assert meta["versions"]["ganforge"] == ganforge.__version__ and meta["versions"]["torch"]
    assert meta["source"]["ema"] is True and meta["source"]["step"] == 3
    assert "step" in meta["metrics"]
    with safe_open(str(model_file), framework="pt") as f:
        assert all(key.startswith("g.") for key in f.keys())  # noqa: SIM118  (only the generator)
    described = describe_file(model_file)
    assert described["model"]["name"] == "dcgan_tiny" and described["parameters"]["g"] > 0
    assert described["steps"]["trained"] == 3 and described["checkpoint"]["ema"] is True


def test_sample_and_info_take_a_model_file(model_file: Path, tmp_path: Path, capsys) -> None:
    assert main(["sample", str(model_file), "-n", "4", "-o", str(tmp_path / "x.npz")]) == 0
    assert main(["sample", str(model_file), "-n", "3", "-o", str(tmp_path / "pngs") + "/"]) == 0
    assert len(list((tmp_path / "pngs").glob("*.png"))) == 3
    capsys.readouterr()
    assert main(["info", str(model_file), "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["kind"] == "model file" and facts["task"] == "generation"
    assert facts["versions"]["ganforge"] == ganforge.__version__
    assert main(["info", str(model_file)]) == 0
    assert "dcgan_tiny" in capsys.readouterr().out
    assert main(["sample", str(model_file), "-n", "4", "-o", str(tmp_path / "x.npz"), "--no-ema"]) == 2


@pytest.mark.parametrize(("name", "shape", "classes"), GENERATORS)
def test_generators_export_to_torchscript(
    name: str, shape: tuple[int, ...], classes: int, tmp_path: Path
) -> None:
    from ganforge.export import _check, _write_torchscript

    graph = graph_of(name, shape, classes)
    _write_torchscript(graph, tmp_path / "g.pt", "{}")
    loaded = torch.jit.load(str(tmp_path / "g.pt"))
    assert _check(graph, lambda *xs: loaded(*xs)) <= TOLERANCE  # at batch 3, traced at 2


@pytest.mark.parametrize(("name", "shape", "direction"), TRANSLATORS)
def test_translators_export_to_torchscript(name: str, shape: tuple, direction: str, tmp_path: Path) -> None:
    from ganforge.export import _check, _write_torchscript

    graph = graph_of(name, shape, 0, direction)
    _write_torchscript(graph, tmp_path / "t.pt", "{}")
    loaded = torch.jit.load(str(tmp_path / "t.pt"))
    assert _check(graph, lambda *xs: loaded(*xs)) <= TOLERANCE


def test_onnx_export_of_a_run_matches_pytorch(tiny_image_run: ganforge.Run, tmp_path: Path, capsys) -> None:
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    out = tmp_path / "g.onnx"
    assert main(["export", str(tiny_image_run.path), "-o", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)  # stdout is the JSON alone: no exporter chatter
    assert result["inputs"] == ["z"] and result["outputs"] == ["samples"]
    assert result["max_abs_diff"] <= TOLERANCE and "standard normal" in result["doc"]
    props = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert json.loads(props["ganforge"])["versions"]["ganforge"] == ganforge.__version__


@pytest.mark.parametrize(
    ("name", "shape", "second"),
    [("cgan_tiny", GREY, "label"), ("inpaint_tiny", RGB, "mask"), ("attr_edit_tiny", GREY, "attr")],
)
def test_graphs_with_a_second_input_export_to_onnx(
    name: str, shape: tuple, second: str, tmp_path: Path
) -> None:
    pytest.importorskip("onnxscript")
    pytest.importorskip("onnxruntime")
    from ganforge.export import _check, _run_onnx, _write_onnx

    graph = graph_of(name, shape, 10 if second == "label" else 0)
    assert list(graph.inputs)[1] == second
    _write_onnx(graph, tmp_path / "t.onnx", "{}")
    assert _check(graph, lambda *xs: _run_onnx(tmp_path / "t.onnx", graph, xs)) <= TOLERANCE


@pytest.mark.slow
@pytest.mark.parametrize(("name", "shape", "classes"), GENERATORS)
def test_every_generator_family_exports_to_onnx(
    name: str, shape: tuple[int, ...], classes: int, tmp_path: Path
) -> None:
    pytest.importorskip("onnxruntime")
    from ganforge.export import _check, _run_onnx, _write_onnx

    graph = graph_of(name, shape, classes)
    _write_onnx(graph, tmp_path / "g.onnx", "{}")
    assert _check(graph, lambda *xs: _run_onnx(tmp_path / "g.onnx", graph, xs)) <= TOLERANCE


def test_bad_input_gets_one_sentence(tiny_image_run: ganforge.Run, model_file: Path, tmp_path: Path) -> None:
    run = str(tiny_image_run.path)
    with pytest.raises(ConfigError, match="cannot tell the format"):
        export(run, tmp_path / "m.xyz")
    with pytest.raises(ConfigError, match="exists; pass --force"):
        export(run, model_file)
    with pytest.raises(ConfigError, match="already a one-file model"):
        export(model_file, tmp_path / "copy.safetensors")
    with pytest.raises(ConfigError, match="unknown export format"):
        export(run, tmp_path / "m.bin", format="tflite")
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file at all")
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        ganforge.from_pretrained(tmp_path / "junk.safetensors")
    save_file({"w": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(CheckpointError, match="not a ganforge model"):
        ganforge.from_pretrained(tmp_path / "other.safetensors")
    assert main(["export", str(tmp_path / "missing"), "-o", str(tmp_path / "m.safetensors")]) == 2
    assert not (tmp_path / "m.safetensors").exists()


def test_a_generator_that_draws_noise_in_its_forward_is_refused() -> None:
    class Noisy(Generator):
        z_dim, out_shape = 4, (4,)

        def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
            return z + torch.randn_like(z)

    with pytest.raises(ConfigError, match="draws random numbers"):
        sampler_graph(Noisy(), 0, truncation=1.0)


def test_tables_have_a_one_file_model_but_no_graph(tmp_path: Path) -> None:
    sets = ["model.name=ctgan_tiny", "train.steps=2", "train.device=cpu", "train.progress=false"]
    argv = [
        "train",
        "tabular/ctgan",
        "--out",
        str(tmp_path / "iris"),
        *(a for s in sets for a in ("--set", s)),
    ]
    assert main(argv) == 0
    out = tmp_path / "iris.safetensors"
    export(tmp_path / "iris", out)
    rows = ganforge.from_pretrained(out).sample(5, seed=0)
    assert list(rows.columns) == list(ganforge.open_run(tmp_path / "iris").sample(5, seed=0).columns)
    with pytest.raises(ConfigError, match="tabular models have no ONNX/TorchScript export"):
        export(tmp_path / "iris", tmp_path / "iris.onnx")


def test_an_export_that_fails_its_check_replaces_nothing(
    tiny_image_run: ganforge.Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ganforge.export as export_module

    out = tmp_path / "g.pt"
    out.write_bytes(b"the good file")
    monkeypatch.setattr(export_module, "TOLERANCE", -1.0)  # no export can pass
    with pytest.raises(ConfigError, match="differs from the PyTorch network"):
        export(tiny_image_run.path, out, force=True)
    assert out.read_bytes() == b"the good file" and list(tmp_path.iterdir()) == [out]


def test_corrupt_metadata_is_one_checkpoint_error(model_file: Path, tmp_path: Path) -> None:
    with safe_open(str(model_file), framework="pt") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    cases = {"format_version": "1.0", "info": json.dumps({"data_shape": [1, 32, 32], "num_classes": "ten"}),
             "source": json.dumps([1, 2])}  # fmt: skip
    for key, value in cases.items():
        save_file(tensors, str(tmp_path / "bad.safetensors"), metadata={**meta, key: value})
        with pytest.raises(CheckpointError, match=r"model file .* (corrupt|cannot be built)"):
            ganforge.from_pretrained(tmp_path / "bad.safetensors")


@pytest.mark.parametrize(
    "widths", [{"ngf": 50_000, "ndf": 50_000}, {"ndf": 20_000}], ids=["g-and-d", "d-only"]
)
def test_a_file_naming_a_far_larger_network_is_refused_before_it_is_built(
    model_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, widths: dict[str, int]
) -> None:
    """A crafted file (small weights, a config of a huge G or D) is sized on the meta device and
    refused before any network is built for real."""
    with safe_open(str(model_file), framework="pt") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    config = json.loads(meta["config"])
    config["model"] = {**config["model"], **widths}  # ~10^11 values in G, in D or in both
    save_file(tensors, str(tmp_path / "huge.safetensors"), metadata={**meta, "config": json.dumps(config)})

    def real_build(*args, **kwargs):
        raise AssertionError("the networks were built for real")

    monkeypatch.setattr(onefile, "generator_of", real_build)  # the sizing (on meta) must refuse first
    with pytest.raises(CheckpointError, match=r"names networks of [\d,]+ values but holds"):
        ganforge.from_pretrained(tmp_path / "huge.safetensors")


@pytest.mark.parametrize("name", sorted({n for n, *_ in GENERATORS + TRANSLATORS}))
def test_every_family_can_be_sized_on_the_meta_device(name: str) -> None:
    """What lets a model file be checked before its network is allocated (check_network_size)."""
    shape = dict((n, s) for n, s, *_ in GENERATORS + TRANSLATORS)[name]
    with torch.device("meta"):
        nets = MODELS.build(name, shape, num_classes=10 if name in ("cgan_tiny", "biggan_tiny") else 0)
    assert all(p.is_meta for net in nets.values() for p in net.parameters())
