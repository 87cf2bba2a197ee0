"""The divergence guard: catch a NaN/inf or exploding step, roll back to a good state, halve the lrs.

GAN training sometimes blows up: one bad batch, a too-large learning rate or a bf16 overflow
produces a non-finite loss, and from then on every weight is NaN and the rest of the run is
wasted. The guard keeps an in-memory snapshot of everything a checkpoint holds (networks, EMA,
optimiser moments, objective state, data-stream position, step and RNG states), and when a step
goes bad it restores the last snapshot taken while everything was clean, halves every learning
rate and carries on. After ``max_rollbacks`` rollbacks it gives up with ``TrainingDivergedError``.

Why it lives in the Trainer rather than in a callback: every process must take the same decision
at the same step, so the check is a collective (an all-reduce), and callbacks run on rank 0 only.

Why it is cheap: a step computes its gradient norms (as a log step does) and hands them and its
losses to the guard unread: they stay on the device, no ``.item()``, so no host sync on a GPU.
They are judged every ``every`` steps in one transfer, and also on every log and checkpoint step,
so nothing is logged or saved that the guard has not vetted; those steps sync anyway. A check that
passes takes the snapshot (a device-side copy; it draws no random numbers, so it never changes a
run that does not diverge). "Exploding" means a gradient norm above ``max_grad_norm_factor`` times
the median of that network's recent clean norms, judged once ``min_history`` of them were seen.
"""

from __future__ import annotations

import json
import statistics
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING

import torch

from ganforge.errors import TrainingDivergedError

if TYPE_CHECKING:
    from ganforge.training.diagnostics import EventLog
    from ganforge.training.trainer import Trainer


def all_finite(tensors: Iterable[torch.Tensor]) -> torch.Tensor:
    """One device-side bool: are all floating-point ``tensors`` finite? (No host sync.)

    A tensor's norm is non-finite exactly when one of its entries is (short of ~1e19-sized
    weights, which are diverged anyway), and ``_foreach_norm`` computes all norms in few kernels.
    """
    floats = [t.detach() for t in tensors if t.is_floating_point()]
    if not floats:
        return torch.ones((), dtype=torch.bool)
    norms = torch._foreach_norm(floats)
    return torch.isfinite(torch.stack([n.float() for n in norms])).all()


class DivergenceGuard:
    """``check(trainer)`` after every step; ``observe(...)`` from inside each phase.

    ``every``: steps between checks (and snapshots); ``also_every``: further check intervals (the
    log and checkpoint intervals). ``max_rollbacks``: rollbacks allowed over the run; the next
    divergence raises. ``max_grad_norm_factor``: 0 turns the explosion test off.
    """

    def __init__(
        self,
        every: int = 10,
        max_rollbacks: int = 3,
        max_grad_norm_factor: float = 1000.0,
        also_every: Iterable[int] = (),
        events: EventLog | None = None,
        min_history: int = 50,
        history: int = 256,
    ) -> None:
        self.every, self.max_rollbacks, self.factor = every, max_rollbacks, max_grad_norm_factor
        self.also_every = tuple(n for n in also_every if n > 0)
        self.events = events
        self.min_history = min_history
        self.norm_history: dict[str, deque[float]] = {}
        self.limits: dict[str, float] = {}  # grad-norm ceiling per network, once history allows
        self.rollbacks = 0
        self._losses: list[torch.Tensor] = []  # since the last check, still on the device
        self._norms: dict[str, list[torch.Tensor]] = {}
        self._snapshot: tuple[dict[str, torch.Tensor], str] | None = None
        self.history_len = history

    # ------------------------------------------------------------------ every step, no sync
    def observe(self, net: str, loss: torch.Tensor, grad_norm: torch.Tensor) -> None:
        """Keep one phase's loss and (averaged) gradient norm for the next check: no kernel, no sync."""
        self._losses.append(loss.detach().reshape(-1))
        self._norms.setdefault(net, []).append(grad_norm.detach().reshape(()))

    # ------------------------------------------------------------------ every few steps
    def due(self, step: int, total: int) -> bool:
        return step % self.every == 0 or step == total or any(step % n == 0 for n in self.also_every)

    def check(self, trainer: Trainer) -> bool:
        """At a due step, read the flags (all ranks agree); snapshot if clean, else roll back.

        Returns True when it rolled back: the caller must then skip this step's callbacks, which
        would otherwise log or save the state the guard just discarded.
        """
        if not self.due(trainer.state.step, trainer.steps):
            return False
        finite, bounded, norms = self._read_flags(trainer)
        if finite and bounded:
            for net, values in norms.items():
                hist = self.norm_history.setdefault(net, deque(maxlen=self.history_len))
                hist.extend(values)
                if self.factor > 0 and len(hist) >= self.min_history:
                    self.limits[net] = self.factor * statistics.median(hist)
            self.snapshot(trainer)
            return False
        self.rollback(trainer, "a loss or gradient became NaN/inf" if not finite else self._explosion(norms))
        return True

    def _read_flags(self, trainer: Trainer) -> tuple[bool, bool, dict[str, list[float]]]:
        """Judge the window's losses, norms and weights in one host transfer (one all-reduce under
        torch.distributed): (all finite, all norms within their limits, the norms per network)."""
        device = trainer.device
        state = [p for net in trainer.nets.values() for p in (*net.parameters(), *net.buffers())]
        state += [p for ema in trainer.ema.values() for p in ema.model.parameters()]
        names = sorted(self._norms)
        norms = [torch.stack(self._norms[n]).float().to(device) for n in names]
        losses = torch.cat([x.float().to(device) for x in self._losses]) if self._losses else torch.zeros(0)
        finite = all_finite(state).to(device) & torch.isfinite(losses.to(device)).all()
        bounded = torch.ones((), dtype=torch.bool, device=device)
        for name, values in zip(names, norms, strict=True):
            finite = finite & torch.isfinite(values).all()
            if name in self.limits:
                bounded = bounded & (values <= self.limits[name]).all()
        flat = torch.cat([torch.stack([finite.float(), bounded.float()]), *norms])
        if trainer.dist.enabled:  # the least-clean rank decides for everyone
            import torch.distributed as dist

            dist.all_reduce(flat, op=dist.ReduceOp.MIN)
        host = flat.cpu().tolist()
        by_net, offset = {}, 2
        for name, values in zip(names, norms, strict=True):
            by_net[name] = host[offset : offset + len(values)]
            offset += len(values)
        self._losses.clear()
        self._norms.clear()
        return host[0] == 1.0, host[1] == 1.0, by_net

    def _explosion(self, norms: dict[str, list[float]]) -> str:
        worst = max(
            (
                (net, max(vals) / self.limits[net])
                for net, vals in norms.items()
                if net in self.limits and vals
            ),
            key=lambda item: item[1],
            default=("?", 0.0),
        )
        return (
            f"the gradient norm of '{worst[0]}' exploded to {worst[1] * self.factor:.0f}x its running median"
        )

    # ------------------------------------------------------------------ snapshot and rollback
    def snapshot(self, trainer: Trainer) -> None:
        """Device-side deep copy of the trainer's whole state; clones keep each tensor's layout."""
        tensors, meta = trainer.state_tensors()
        text = json.dumps({**meta, "step": trainer.state.step})  # a deep copy, as a checkpoint keeps it
        self._snapshot = ({k: v.detach().clone() for k, v in tensors.items()}, text)

    def rollback(self, trainer: Trainer, reason: str) -> None:
        step = trainer.state.step
        self.rollbacks += 1
        if self._snapshot is None or self.rollbacks > self.max_rollbacks:
            message = (
                f"training diverged at step {step} ({reason}) after {self.rollbacks - 1} rollbacks with"
                f" halved learning rates; lower optim.g.lr/optim.d.lr, train in fp32, or add a"
                f" regulariser such as a gradient penalty"
            )
            if self.events is not None:
                self.events.emit(step, "diverged", message, {"rollbacks": self.rollbacks - 1}, echo=False)
            raise TrainingDivergedError(message)
        lrs = {name: [g["lr"] for g in opt.param_groups] for name, opt in trainer.optimizers.items()}
        bases = {
            name: [g.get("base_lr", g["lr"]) for g in opt.param_groups]
            for name, opt in trainer.optimizers.items()
        }
        tensors, text = self._snapshot
        meta = json.loads(text)
        # Clone again: optimisers may adopt the tensors they load, and the snapshot must stay intact
        # for a second rollback to the same point.
        trainer.load_state({k: v.clone() for k, v in tensors.items()}, meta, "snapshot")
        for name, opt in trainer.optimizers.items():
            for group, lr, base in zip(opt.param_groups, lrs[name], bases[name], strict=True):
                group["lr"], group["base_lr"] = lr * 0.5, base * 0.5  # a schedule scales base_lr
        trainer.window.clear()  # the discarded steps' statistics must not reach the log
        trainer.window_counts.clear()
        trainer.last_batch = None
        self._losses.clear()
        self._norms.clear()
        if self.events is not None:
            self.events.emit(
                step,
                "rollback",
                f"{reason} by step {step}; rolled back to step {meta['step']} and halved the learning"
                f" rates (rollback {self.rollbacks} of at most {self.max_rollbacks})",
                {"to_step": meta["step"], "rollbacks": self.rollbacks, **trainer.learning_rates()},
            )
