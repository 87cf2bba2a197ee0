"""Guard rail for refactors: a 20-step tiny run of every bundled preset, its final checkpoint digested.

    python scripts/preset_checksums.py -o before.json            # record
    python scripts/preset_checksums.py --compare before.json     # after the change: same digests?

Runs on the CPU with one torch thread and ``train.deterministic=true``, so the digests repeat on one
machine; another CPU model may round differently, so record and compare on the same machine.
Prints one JSON line: presets, how many match, and the names that differ.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch

import ganforge
from ganforge.config import bundled_configs
from ganforge.testing import final_checkpoint, state_digest, tiny_overrides


def digest_preset(name: str, steps: int) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        overrides = [*tiny_overrides(name, steps), "train.deterministic=true"]
        run = ganforge.train(name, out=Path(tmp) / "run", overrides=overrides)
        return state_digest(*final_checkpoint(run.path))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, help="write {preset: digest} here")
    parser.add_argument("--compare", type=Path, help="a file written by -o to compare against")
    parser.add_argument("--only", default="", help="comma-separated presets (default: all)")
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)
    names = [n for n in args.only.split(",") if n] or bundled_configs()
    digests = {}
    for name in names:
        digests[name] = digest_preset(name, args.steps)
        print(f"{name}: {digests[name][:16]}", file=sys.stderr, flush=True)
    if args.out:
        args.out.write_text(json.dumps(digests, indent=1) + "\n")
    result: dict[str, object] = {"presets": len(digests), "steps": args.steps}
    if args.compare:
        before = json.loads(args.compare.read_text())
        new = sorted(n for n in digests if n not in before)  # presets added since: nothing to compare
        differ = sorted(n for n in digests if n in before and before[n] != digests[n])
        result.update(identical=len(digests) - len(differ) - len(new), differ=differ, new=new)
    print(json.dumps(result))
    return 1 if result.get("differ") else 0


if __name__ == "__main__":
    sys.exit(main())
