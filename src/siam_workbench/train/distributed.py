"""Multi-process training on ``torch.distributed``: process-group setup, rank helpers, the
sharding of a step's batch and of the epoch-end passes, and the local launcher behind
``siam train --nproc N``.

How a distributed run stays equal to a single-process one (docs/ENGINE.md, "Distributed"):

* **Same global batch.** Every rank holds an identical sampler (same seed, same miner state) and
  draws the same global batch; rank ``r`` embeds only its contiguous share of the rows
  (:func:`shard_bounds`). The shares are gathered (:func:`gather_rows_with_grad`) so that each
  rank computes the loss of the *whole* batch — triplets cross shards (a P×K batch's negatives
  live in other ranks' blocks). Only the local shard carries a gradient; DistributedDataParallel
  averages the gradients over the ``N`` ranks, so each rank back-propagates ``N × loss`` and the
  update equals the single-process one (up to float summation order).
* **Augmentation** is drawn per rank from a generator reseeded every step from
  ``(run seed, rank, step)`` (:func:`step_seed`): distinct per rank, reproducible for a fixed
  ``N``, and with no generator state to carry across a resume with another ``N``.
* **Epoch end.** The reference (centers) pass and validation embed ``1/N`` of the images each and
  gather them; rank 0's centers are broadcast so every rank holds the same bits. Rank 0 alone
  updates the miners and broadcasts the sampler's state (:meth:`DistContext.broadcast_object`).
* **Files.** Rank 0 alone holds the run lock and writes the run folder; the others never write.
* **Control.** Stop and pause are agreed at every iteration by one tiny all-reduce
  (:meth:`DistContext.control`): all ranks stop, pause or go on at the same step, so none waits
  for a rank that has left. A rank that dies closes its sockets and the others fail at their next
  collective; a rank that hangs (a machine gone) is given up after ``SIAM_DIST_TIMEOUT`` seconds.
"""

from __future__ import annotations

import datetime
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor

from siam_workbench.base.errors import SiamError

#: Seconds a collective waits for the other ranks before giving up (env ``SIAM_DIST_TIMEOUT``).
#: Long enough for rank 0's epoch-end miner update at 50,000 classes while the others wait.
DEFAULT_TIMEOUT_S = 1800.0
#: Environment variables torchrun sets for every worker (and ``siam train --nproc`` too).
ENV_KEYS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def env_world_size() -> int:
    """``WORLD_SIZE`` as torchrun sets it (1 when unset: a plain single-process run)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        raise SiamError(f"WORLD_SIZE is not a number: {os.environ['WORLD_SIZE']!r}") from None


def timeout_seconds() -> float:
    raw = os.environ.get("SIAM_DIST_TIMEOUT", "")
    try:
        value = float(raw) if raw else DEFAULT_TIMEOUT_S
    except ValueError:
        raise SiamError(f"SIAM_DIST_TIMEOUT must be seconds, got {raw!r}") from None
    if value <= 0:
        raise SiamError(f"SIAM_DIST_TIMEOUT must be > 0, got {raw!r}")
    return value


@dataclass
class DistContext:
    """This process's place in the process group, and the collectives the trainer uses."""

    rank: int
    world: int
    local_rank: int
    backend: str  # "gloo" (CPU) or "nccl" (CUDA)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def comm_device(self) -> torch.device:
        """Where tensors must be for this backend's collectives."""
        if self.backend == "nccl":
            return torch.device("cuda", self.local_rank)
        return torch.device("cpu")

    def train_device(self, requested: torch.device) -> torch.device:
        """The training device of this rank: ``cuda:LOCAL_RANK`` on CUDA, else ``requested``."""
        if requested.type == "cuda":
            if self.backend != "nccl":
                raise SiamError("the process group was set up for the CPU (gloo), but training "
                                "asks for CUDA")
            torch.cuda.set_device(self.local_rank)
            return torch.device("cuda", self.local_rank)
        return requested

    # -- collectives --------------------------------------------------------------------------
    def broadcast_object(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank (pickled; for small control data and miner state)."""
        box = [obj if self.is_main else None]
        dist.broadcast_object_list(box, src=0, device=self.comm_device)
        return box[0]

    def broadcast_tensor(self, t: Tensor) -> Tensor:
        """Rank 0's values of ``t`` (same shape and dtype on every rank), on ``t``'s device."""
        buf = t.detach().to(self.comm_device).contiguous()
        dist.broadcast(buf, src=0)
        return buf.to(t.device)

    def first_error(self, message: str | None) -> str | None:
        """Agree on failure: every rank gets the lowest rank's error message, or None if no
        rank failed. Called at the same point by every rank."""
        out: list[Any] = [None] * self.world
        dist.all_gather_object(out, message)
        for rank, msg in enumerate(out):
            if msg is not None:
                return msg if rank == 0 else f"rank {rank}: {msg}"
        return None

    def control(self, stop: bool, paused: bool) -> tuple[bool, bool]:
        """(stop, pause) as any rank asked: one all-reduce (max) of two flags."""
        flags = torch.tensor([float(stop), float(paused)], device=self.comm_device)
        dist.all_reduce(flags, op=dist.ReduceOp.MAX)
        return bool(flags[0] > 0), bool(flags[1] > 0)

    def gather_rows(self, local: Tensor, sizes: list[int]) -> Tensor:
        """Concatenate every rank's ``local`` rows in rank order (rank ``r`` has ``sizes[r]``
        rows; the others' must be known to all). Returns a tensor on ``local``'s device."""
        width = max(sizes)
        pad = local.new_zeros((width, *local.shape[1:]), device=self.comm_device)
        pad[:local.shape[0]] = local.detach().to(self.comm_device)
        parts = [torch.empty_like(pad) for _ in range(self.world)]
        dist.all_gather(parts, pad)
        return torch.cat([p[:n] for p, n in zip(parts, sizes)]).to(local.device)

    def gather_rows_with_grad(self, local: Tensor, sizes: list[int]) -> Tensor:
        """Like :meth:`gather_rows`, with this rank's own block being ``local`` itself, so the
        gradient of anything computed from the result flows back into this rank's rows."""
        full = self.gather_rows(local, sizes)
        lo = sum(sizes[:self.rank])
        return torch.cat([full[:lo], local, full[lo + local.shape[0]:]])

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """DistributedDataParallel around ``model`` (parameters broadcast from rank 0)."""
        from torch.nn.parallel import DistributedDataParallel

        if self.backend == "nccl":
            return DistributedDataParallel(model, device_ids=[self.local_rank],
                                           output_device=self.local_rank)
        return DistributedDataParallel(model)

    def close(self) -> None:
        if dist.is_initialized():
            dist.destroy_process_group()


def shard_bounds(n: int, world: int, rank: int) -> tuple[int, int]:
    """Rows ``[lo, hi)`` of ``n`` that rank ``rank`` of ``world`` handles: contiguous, sizes
    differing by at most one, in rank order (what :meth:`DistContext.gather_rows` restores)."""
    base, extra = divmod(int(n), int(world))
    lo = rank * base + min(rank, extra)
    return lo, lo + base + (1 if rank < extra else 0)


def shard_sizes(n: int, world: int) -> list[int]:
    return [hi - lo for lo, hi in (shard_bounds(n, world, r) for r in range(world))]


def step_seed(seed: int, rank: int, step: int) -> int:
    """The augmentation seed of ``rank`` at ``step``: well mixed, distinct per rank and step."""
    words = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(rank), int(step)])
    return int(words.generate_state(1, np.uint64)[0] & ((1 << 63) - 1))


def init_from_env(device: torch.device) -> DistContext | None:
    """Join the process group torchrun (or ``siam train --nproc``) described in the
    environment; None when ``WORLD_SIZE`` is unset or 1. gloo for the CPU, NCCL for CUDA."""
    world = env_world_size()
    if world <= 1:
        return None
    missing = [k for k in ENV_KEYS if k not in os.environ]
    if missing:
        raise SiamError(f"WORLD_SIZE is {world} but {', '.join(missing)} not set (launch with "
                        "torchrun or siam train --nproc)")
    rank, local_rank = int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"])
    if device.type == "cuda":
        if not torch.cuda.is_available() or not dist.is_nccl_available():
            raise SiamError("CUDA training across processes needs CUDA and NCCL")
        if local_rank >= torch.cuda.device_count():
            raise SiamError(f"LOCAL_RANK {local_rank} but only {torch.cuda.device_count()} "
                            "CUDA devices")
        backend = "nccl"
        torch.cuda.set_device(local_rank)
    else:
        backend = "gloo"
    timeout = datetime.timedelta(seconds=timeout_seconds())
    try:
        dist.init_process_group(backend, timeout=timeout, rank=rank, world_size=world)
    except (RuntimeError, ValueError) as exc:
        raise SiamError(f"cannot join the process group at {os.environ['MASTER_ADDR']}:"
                        f"{os.environ['MASTER_PORT']} as rank {rank} of {world} "
                        f"({' '.join(str(exc).split())[:200]})") from None
    return DistContext(rank=rank, world=world, local_rank=local_rank, backend=backend)


def default_threads(local_world: int) -> int:
    """Intra-op threads per process when ``train.threads`` is 0: the cores shared out."""
    return max(1, (os.cpu_count() or 1) // max(1, local_world))


def is_comm_error(exc: BaseException) -> bool:
    """A collective failed because another rank died, hung past the timeout or left."""
    if isinstance(exc, dist.DistError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and any(s in text for s in (
        "Connection closed by peer", "Connection reset", "Broken pipe", "Timed out",
        "timed out", "gloo", "NCCL", "Socket"))


# -- the local launcher (siam train --nproc N) ------------------------------------------------

def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launch_local(argv: list[str], nproc: int, grace_s: float = 30.0) -> int:
    """Run ``python -m siam_workbench.cli <argv>`` as ``nproc`` ranks on this machine (what
    ``torchrun --standalone --nproc-per-node N`` does), and wait for them.

    SIGINT / SIGTERM are passed on to every rank (they agree to stop at the same iteration and
    leave a resumable run). When a rank fails or is killed, the others are sent SIGTERM and,
    after ``grace_s``, SIGKILL, so none is left waiting. Returns 0 when every rank did, else 2.
    """
    root = str(Path(__file__).resolve().parents[2])
    base = dict(os.environ)
    base["PYTHONPATH"] = os.pathsep.join(p for p in (root, base.get("PYTHONPATH", "")) if p)
    base.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()), WORLD_SIZE=str(nproc),
                LOCAL_WORLD_SIZE=str(nproc))
    procs: list[subprocess.Popen] = []
    received: list[int] = []

    def forward(signum: int, frame: object) -> None:
        received.append(signum)
        for p in procs:
            if p.poll() is None:
                p.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for rank in range(nproc):
            env = dict(base, RANK=str(rank), LOCAL_RANK=str(rank))
            procs.append(subprocess.Popen([sys.executable, "-m", "siam_workbench.cli", *argv],
                                         env=env))
        failed: tuple[int, int] | None = None
        deadline: float | None = None
        while any(p.poll() is None for p in procs):
            for rank, p in enumerate(procs):
                code = p.poll()
                if code not in (None, 0) and failed is None:
                    failed = (rank, code)
                    deadline = time.monotonic() + grace_s
                    for q in procs:
                        if q.poll() is None:
                            q.send_signal(signal.SIGTERM)
            if deadline is not None and time.monotonic() > deadline:
                for q in procs:
                    if q.poll() is None:
                        q.kill()
            time.sleep(0.1)
        if failed is None:
            codes = [p.returncode for p in procs]
            failed = next(((r, c) for r, c in enumerate(codes) if c != 0), None)
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    if failed is None:
        return 0
    rank, code = failed
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
        print(f"siam train: error: the training process of rank {rank} was killed ({name}); "
              "every rank stopped; resume from the run's last checkpoint with --resume RUN",
              file=sys.stderr)
    return 2
