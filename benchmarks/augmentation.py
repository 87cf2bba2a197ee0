"""Does adding GAN samples to a small real training set help a classifier? Images and tables: one JSON line.

Why: "generate more training data" is the most common hope people bring to GANs, and the honest
answer depends on the baseline. Every arm below is trained and scored in the same run, on the same
real data, with the same classifier and compute, and the cheap alternatives (classic augmentation,
class weights, SMOTE) are arms too, so a gain from GAN samples is only claimed against them.

**Images** (``--parts images``): a seeded 20-digits-per-class subset (200 digits) of the embedded
MNIST train split. The class-conditional preset ``configs/image/mnist_conditional.yaml`` (projection
cGAN) is trained on those 200 digits ONLY (``--steps`` overrides its 6,000 steps; the built-in
``mnist`` dataset has no subset option, so the digits go through the ``npz`` file dataset). The
classifier is a small CNN (``MnistCNNNet`` with channels 16-32-64, ~156k parameters: the standard
conv-BN-ReLU-pool design ganforge's own ``mnist-cnn`` extractor uses, 4x narrower, because a CNN is
what one would actually train on images, and on 2 CPU cores it must train 15 times). Every arm trains
for the same ``--clf-steps`` minibatch steps (batch 64, AdamW, one-cycle lr), so differences come
from the data, not from more updates. Arms:

- ``real``: the 200 digits; ``real_shift``: the same with random +-2 px shifts (classic augmentation);
- ``real_gan_k<k>``: the 200 digits + k generated digits per class (``--k``, default 200 and 1000),
  pooled and drawn uniformly (so with k=1000 the real digits are 2% of the pool);
- ``full_real``: all 4,000 train digits: the ceiling a data collector would reach.

Scored on the 1,000 held-out test digits (never used for any choice), ``--seeds`` classifier seeds
(default 3). One GAN per run (``--gan-seed``): GAN-to-GAN variance is not in the std. The line also
gives the generator's label accuracy (share of its digits the shipped ``mnist-cnn`` reads as the class
asked for; a diagnostic only: that network saw all 4,000 train digits).

**Tables** (``--parts tables``): binary tables made imbalanced: ``breast_cancer`` (malignant is the
minority) and ``fair`` (target ``had_affair`` = affairs > 0, column ``affairs`` dropped; "yes" is the
minority). Per seed: a stratified 70/30 train/test split of the whole table, then the training
minority is subsampled to ``--minority-share`` (10%) of the training rows; the test split keeps the
natural prevalence (more minority test rows, less noise; balanced accuracy does not depend on
prevalence). Arms, each adding as many minority rows as it takes to balance the classes:

- ``real``: as is; ``real_class_weight``: class weights inversely proportional to frequency;
- ``smote``: SMOTE (Chawla et al. 2002; SMOTE-NC with discrete features) from imbalanced-learn;
- ``tabulargan``: ``TabularGAN`` at its defaults fit on the imbalanced training table (target
  included), rows sampled with ``conditions={target: minority}``.

Classifiers: logistic regression (standardised numbers, one-hot codes) and a 100-tree random forest.
Scores on the real test split: balanced accuracy and the minority class's F1. Numbers are
``[mean, std]`` over seeds; ``delta_vs_real`` is the mean and std of the paired (same seed)
difference to the ``real`` arm.

    python benchmarks/augmentation.py                       # full: ~15 min GAN + ~15 min rest, 2 cores
    python benchmarks/augmentation.py --quick               # plumbing check, < 2 min on one thread
    python benchmarks/augmentation.py --parts images --set objective.augment=diffaug
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
import yaml

import ganforge
from bench_common import machine_facts
from ganforge.augment.functional import translate
from ganforge.data.embedded import mnist_arrays
from ganforge.data.tables import FAIR_CODED, load_table
from ganforge.metrics import label_accuracy
from ganforge.metrics.features import create_extractor
from ganforge.metrics.features.mnist_cnn import MnistCNNNet
from ganforge.tabular import TabularGAN

ROOT = Path(__file__).resolve().parents[1]
PRESET = ROOT / "configs/image/mnist_conditional.yaml"
CLF_CHANNELS = (16, 32, 64)
CLF_BATCH = 64
MAX_SHIFT = 2  # pixels, the classic-augmentation arm (mnist-cnn's own training used +-2 px too)
NUM_CLASSES = 10
TABLES = ("breast_cancer", "fair")
TEST_FRACTION = 0.3


# ---------------------------------------------------------------------------- shared
def mean_std(values: list[float]) -> list[float]:
    """``[mean, sample std]`` rounded for the line (std 0 for one value)."""
    mean = statistics.fmean(values)
    return [round(mean, 4), round(statistics.stdev(values), 4) if len(values) > 1 else 0.0]


def summarise(per_seed: dict[str, list[float]], base: str) -> dict[str, Any]:
    """Per arm: ``[mean, std]`` and the paired (same-seed) difference to arm ``base``."""
    out: dict[str, Any] = {}
    for arm, values in per_seed.items():
        entry: dict[str, Any] = {"score": mean_std(values)}
        if arm != base:
            entry["delta_vs_real"] = mean_std([v - b for v, b in zip(values, per_seed[base], strict=True)])
        out[arm] = entry
    return out


# ---------------------------------------------------------------------------- images
def few_shot_digits(per_class: int, seed: int) -> tuple[torch.Tensor, np.ndarray]:
    """``per_class`` digits of each class drawn (seeded) from the 4,000-digit train split."""
    x, y = mnist_arrays("train")
    rng = np.random.default_rng(seed)
    idx = np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in range(10)])
    return x[idx], np.asarray(y[idx])


def train_gan(
    x: torch.Tensor, y: np.ndarray, steps: int, gan_seed: int, overrides: list[str], workdir: Path
) -> tuple[ganforge.GeneratorHandle, dict[str, Any]]:
    """The conditional preset trained on exactly these digits (saved as an .npz the ``npz`` dataset
    reads; values already in [-1, 1] stay as they are)."""
    path = workdir / "few_shot_digits.npz"
    np.savez(path, x=x.numpy(), y=y.astype(np.int64))
    raw = yaml.safe_load(PRESET.read_text())
    raw["data"] = {"name": "npz", "path": str(path), "batch_size": raw["data"].get("batch_size", 64)}
    raw["train"].update(steps=steps, seed=gan_seed, progress=False)
    t0 = time.perf_counter()
    run = ganforge.train(raw, out=workdir / "gan", overrides=overrides)
    facts = {"train_wall_s": round(time.perf_counter() - t0, 1), "steps": run.summary.get("step", steps)}
    return run.generator(), facts


def shift(x: torch.Tensor, gen: torch.Generator, max_shift: int = MAX_SHIFT) -> torch.Tensor:
    """Random integer shifts in [-max_shift, max_shift] px, the background (-1) filling the border."""
    n = len(x)
    dy, dx = (torch.randint(-max_shift, max_shift + 1, (n,), generator=gen) for _ in range(2))
    return translate(x + 1.0, dy, dx, padding="zeros") - 1.0


def train_classifier(
    x: torch.Tensor, y: torch.Tensor, seed: int, steps: int, augment: bool = False
) -> MnistCNNNet:
    """A fresh small CNN, ``steps`` minibatches drawn with replacement, AdamW with a one-cycle lr.

    A fixed step count (not epochs) gives every arm the same compute whatever its pool size."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = MnistCNNNet(channels=CLF_CHANNELS, dropout=0.3)
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps, pct_start=0.2)
    net.train()
    for _ in range(steps):
        idx = torch.randint(len(x), (CLF_BATCH,), generator=gen)
        xb = shift(x[idx], gen) if augment else x[idx]
        loss = F.cross_entropy(net(xb)[1], y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return net.eval()


@torch.no_grad()
def accuracy(net: MnistCNNNet, x: torch.Tensor, y: torch.Tensor, batch: int = 500) -> float:
    hits = sum(
        int((net(x[i : i + batch])[1].argmax(1) == y[i : i + batch]).sum()) for i in range(0, len(x), batch)
    )
    return hits / len(x)


def image_part(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    x_few, y_few = few_shot_digits(args.per_class, args.subset_seed)
    handle, gan_facts = train_gan(x_few, y_few, args.steps, args.gan_seed, args.set, workdir)
    k_max = max(args.k)
    labels = torch.arange(NUM_CLASSES).repeat_interleave(k_max)  # k_max of class 0, then of 1, ...
    x_syn = handle.sample(len(labels), seed=args.gan_seed, labels=labels).clamp(-1, 1)
    logits = create_extractor("mnist-cnn").extract(x_syn)["logits"]
    gan_facts["label_accuracy_mnist_cnn"] = round(float(label_accuracy(logits, labels)), 4)

    x_full, y_full = mnist_arrays("train")
    x_test, y_test = mnist_arrays("test")
    y_test_t = torch.as_tensor(y_test)
    real_y = torch.as_tensor(y_few)
    pools: dict[str, tuple[torch.Tensor, torch.Tensor, bool]] = {
        "real": (x_few, real_y, False),
        "real_shift": (x_few, real_y, True),
    }
    for k in args.k:  # the first k of each class: the pools are nested, k=200 is part of k=1000
        pick = torch.arange(len(labels)).view(NUM_CLASSES, k_max)[:, :k].reshape(-1)
        pools[f"real_gan_k{k}"] = (torch.cat([x_few, x_syn[pick]]), torch.cat([real_y, labels[pick]]), False)
    pools["full_real"] = (x_full, torch.as_tensor(y_full), False)
    scores: dict[str, list[float]] = {arm: [] for arm in pools}
    clf_s: dict[str, list[float]] = {arm: [] for arm in pools}
    for seed in range(args.seeds):
        for arm, (x, y, aug) in pools.items():
            t = time.perf_counter()
            net = train_classifier(x, y, seed, args.clf_steps, augment=aug)
            clf_s[arm].append(time.perf_counter() - t)
            scores[arm].append(accuracy(net, x_test, y_test_t))
    return {
        "real_digits": len(x_few),
        "per_class": args.per_class,
        "subset_seed": args.subset_seed,
        "gan": {"preset": str(PRESET.relative_to(ROOT)), "overrides": args.set, **gan_facts},
        "classifier": f"MnistCNNNet{CLF_CHANNELS}, {args.clf_steps} steps x batch {CLF_BATCH}, AdamW",
        "pool_sizes": {arm: len(p[0]) for arm, p in pools.items()},
        "metric": "accuracy on the 1,000 held-out test digits",
        "arms": summarise(scores, "real"),
        "clf_fit_s": {arm: round(statistics.fmean(v), 1) for arm, v in clf_s.items()},
        "wall_s": round(time.perf_counter() - t0, 1),
    }


# ---------------------------------------------------------------------------- tables
def binary_table(name: str) -> tuple[pd.DataFrame, list[str], str, str]:
    """``(frame, discrete, target, minority)``: a two-class table and its minority class."""
    if name == "fair":
        frame, _, _ = load_table("fair")
        frame["had_affair"] = np.where(frame.pop("affairs") > 0, "yes", "no")
        return frame, [*FAIR_CODED, "had_affair"], "had_affair", "yes"
    if name == "breast_cancer":
        frame, discrete, target = load_table("breast_cancer")
        return frame, discrete, target, "malignant"
    raise SystemExit(f"error: no binary version of table '{name}'; choose from {', '.join(TABLES)}")


def imbalanced_split(
    frame: pd.DataFrame, target: str, minority: str, share: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified train/test split, then the train minority cut to ``share`` of the train rows."""
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(frame, test_size=TEST_FRACTION, stratify=frame[target], random_state=seed)
    is_min = (train[target] == minority).to_numpy()
    n_keep = max(2, round(share / (1 - share) * int((~is_min).sum())))
    keep = np.random.default_rng(seed).choice(
        np.flatnonzero(is_min), min(n_keep, int(is_min.sum())), replace=False
    )
    train = pd.concat([train[~is_min], train.iloc[keep]])
    return train.reset_index(drop=True), test.reset_index(drop=True)


def smote_rows(
    train: pd.DataFrame, features: list[str], cat: list[str], target: str, seed: int
) -> pd.DataFrame:
    """SMOTE (SMOTE-NC when there are discrete features) up to balanced classes."""
    from imblearn.over_sampling import SMOTE, SMOTENC

    k = min(5, int(train[target].value_counts().min()) - 1)
    if cat:
        sampler: Any = SMOTENC([features.index(c) for c in cat], k_neighbors=k, random_state=seed)
    else:
        sampler = SMOTE(k_neighbors=k, random_state=seed)
    x, y = sampler.fit_resample(train[features], train[target])
    out = x.copy()
    out[target] = np.asarray(y)
    return out[list(train.columns)]


def gan_rows(
    train: pd.DataFrame, discrete: list[str], target: str, minority: str, seed: int, epochs: int | None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``train`` plus TabularGAN minority rows (conditional sampling) up to balanced classes."""
    n_new = int((train[target] != minority).sum() - (train[target] == minority).sum())
    kwargs: dict[str, Any] = {} if epochs is None else {"epochs": epochs}
    t0 = time.perf_counter()
    model = TabularGAN(seed=seed, progress=False, **kwargs).fit(train, discrete)
    fit_s = time.perf_counter() - t0
    rows = model.sample(n_new, conditions={target: minority}, seed=seed)
    facts = {"fit_s": fit_s, "epochs_run": model.training["epochs_run"]}
    return pd.concat([train, rows[list(train.columns)]], ignore_index=True), facts


def make_classifier(name: str, numeric: list[str], cat: list[str], seed: int, weighted: bool) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    prep = ColumnTransformer(
        [("num", StandardScaler(), numeric), ("cat", OneHotEncoder(handle_unknown="ignore"), cat)]
    )
    weight = "balanced" if weighted else None
    if name == "logreg":
        model: Any = LogisticRegression(max_iter=5000, class_weight=weight)
    else:
        model = RandomForestClassifier(n_estimators=100, random_state=seed, n_jobs=1, class_weight=weight)
    return make_pipeline(prep, model)


def table_part(name: str, args: argparse.Namespace) -> dict[str, Any]:
    from sklearn.metrics import balanced_accuracy_score, f1_score

    t0 = time.perf_counter()
    frame, discrete, target, minority = binary_table(name)
    features = [c for c in frame.columns if c != target]
    cat = [c for c in features if c in discrete]
    numeric = [c for c in features if c not in discrete]
    arms = ("real", "real_class_weight", "smote", "tabulargan")
    clfs = ("logreg", "random_forest")
    scores = {(c, m, a): [] for c in clfs for m in ("balanced_accuracy", "f1_minority") for a in arms}
    gan_facts, smote_s, sizes = [], [], {}
    for seed in range(args.seeds):
        train, test = imbalanced_split(frame, target, minority, args.minority_share, seed)
        t = time.perf_counter()
        smoted = smote_rows(train, features, cat, target, seed)
        smote_s.append(time.perf_counter() - t)
        gan_train, facts = gan_rows(train, discrete, target, minority, seed, args.tabular_epochs)
        gan_facts.append(facts)
        data = {"real": train, "real_class_weight": train, "smote": smoted, "tabulargan": gan_train}
        sizes = {
            "train_rows": len(train),
            "train_minority": int((train[target] == minority).sum()),
            "test_rows": len(test),
            "test_minority": int((test[target] == minority).sum()),
            "augmented_rows": len(smoted),
        }
        for clf in clfs:
            for arm in arms:
                model = make_classifier(clf, numeric, cat, seed, weighted=arm == "real_class_weight")
                rows = data[arm]
                pred = model.fit(rows[features], rows[target]).predict(test[features])
                truth = test[target].to_numpy()
                scores[clf, "balanced_accuracy", arm].append(balanced_accuracy_score(truth, pred))
                scores[clf, "f1_minority", arm].append(f1_score(truth, pred, pos_label=minority))
    results = {
        clf: {
            metric: summarise({a: scores[clf, metric, a] for a in arms}, "real")
            for metric in ("balanced_accuracy", "f1_minority")
        }
        for clf in clfs
    }
    return {
        "target": target,
        "minority": minority,
        "minority_share_in_train": args.minority_share,
        **sizes,
        "classifiers": results,
        "tabulargan": {
            "fit_s": mean_std([f["fit_s"] for f in gan_facts]),
            "epochs_run": [f["epochs_run"] for f in gan_facts],
        },
        "smote_s": mean_std(smote_s),
        "wall_s": round(time.perf_counter() - t0, 1),
    }


# ---------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", nargs="+", default=["images", "tables"], choices=["images", "tables"])
    p.add_argument("--seeds", type=int, default=3, help="classifier seeds (tables: also split seeds)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quick", action="store_true", help="tiny everything: checks the plumbing only")
    g = p.add_argument_group("images")
    g.add_argument("--per-class", type=int, default=20, help="real digits per class (default 20 = 200)")
    g.add_argument("--subset-seed", type=int, default=0)
    g.add_argument("--steps", type=int, help="GAN steps (default: the preset's 6,000)")
    g.add_argument("--gan-seed", type=int, default=0)
    g.add_argument(
        "--set", action="append", default=[], help="extra GAN config override, e.g. objective.augment=diffaug"
    )
    g.add_argument("--k", type=int, nargs="+", default=[200, 1000], help="generated digits per class")
    g.add_argument("--clf-steps", type=int, default=1000, help="classifier minibatch steps, every arm")
    t = p.add_argument_group("tables")
    t.add_argument("--tables", nargs="+", choices=TABLES, help=f"default: {' '.join(TABLES)}")
    t.add_argument("--minority-share", type=float, default=0.1, help="minority share of the train rows")
    t.add_argument("--tabular-epochs", type=int, help="override TabularGAN's default 300 epochs")
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.clf_steps, args.k = args.steps or 20, 20, [5, 10]
        args.seeds, args.tabular_epochs = min(args.seeds, 2), args.tabular_epochs or 2
        args.tables = args.tables or ["breast_cancer"]
    args.tables = args.tables or list(TABLES)
    if not 0 < args.minority_share < 0.5:
        p.error(f"--minority-share must be in (0, 0.5) to leave a minority, got {args.minority_share}")
    if args.steps is None:
        args.steps = int(yaml.safe_load(PRESET.read_text())["train"]["steps"])
    torch.set_num_threads(args.threads)
    from threadpoolctl import threadpool_limits

    t0 = time.perf_counter()
    line: dict[str, Any] = {
        "benchmark": "augmentation",
        "quick": args.quick,
        "seeds": list(range(args.seeds)),
    }
    with threadpool_limits(args.threads), tempfile.TemporaryDirectory(prefix="augmentation-") as tmp:
        if "images" in args.parts:
            line["images"] = image_part(args, Path(tmp))
        if "tables" in args.parts:
            line["tables"] = {name: table_part(name, args) for name in args.tables}
    line["format"] = "[mean, std] over seeds; delta_vs_real = paired same-seed difference to arm 'real'"
    line["total_wall_s"] = round(time.perf_counter() - t0, 1)
    line["machine"] = machine_facts(args.threads)
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
