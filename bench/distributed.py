#!/usr/bin/python3
"""Data-parallel scaling, fovea on Open MPI beside PyTorch 1.13 DistributedDataParallel (gloo),
in one command (docs/distributed.md). For LeNet-5 (1x28x28) and resnet18 (3x32x32), SGD-momentum
steps at global batch 64 on a fixed random batch: 1 process x 1 thread, then 2 ranks x 1 thread
each with its half of the batch. Scaling efficiency = throughput(2 ranks) / (2 x throughput(1)).
Then the all-reduce of one 25 MB bucket as fovea's DataParallel runs it against a bare
MPI_Allreduce loop of the same bytes.

--resnet50-table instead measures one resnet50 step (3x224x224, batch 32, one process on
--threads threads) and prints the scaling the ring all-reduce cost model predicts for 2 to 64
such nodes on 10 and 100 Gb/s links (docs/distributed.md).

Usage: /usr/bin/python3 bench/distributed.py [--budget 5] [--build build] [--resnet50-table [--threads 2]]
"""
import argparse
import datetime
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import time

import torch
import torch.distributed as tdist
import torch.multiprocessing as mp
import torch.nn as nn
import torch.nn.functional as F
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from lenet5_fashion import LeNet5  # noqa: E402

MODELS = [("lenet5", "LeNet-5 1x28x28"), ("resnet18", "resnet18 3x32x32")]
BATCH = 64
# Open MPI refuses root unless told; said for the benchmark's own jobs only
MPI_ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMP_NUM_THREADS="1")


def fovea(build, ranks, *args):
    exe = os.path.join(build, "bench_distributed")
    if not os.path.exists(exe):
        sys.exit(f"bench: {exe} not found; run 'make build' first")
    cmd = [exe, "1", *map(str, args)]
    if ranks > 1:
        mpirun = shutil.which("mpirun")
        if not mpirun:
            sys.exit("bench: mpirun not found (make deps installs openmpi-bin)")
        cmd = [mpirun, "-np", str(ranks), *cmd]
    out = subprocess.run(cmd, env=MPI_ENV, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed:\n{out.stdout}{out.stderr}")
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def fovea_concurrent(build, name, budget):
    """Two independent single processes at the same time, each with half the batch and no
    communication: the best 2 ranks can do on this machine, whose cores share caches and memory."""
    exe = os.path.join(build, "bench_distributed")
    procs = [subprocess.Popen([exe, "1", "train", name, str(BATCH // 2), str(budget)], env=MPI_ENV,
                              stdout=subprocess.PIPE, text=True) for _ in range(2)]
    steps = [json.loads(p.communicate()[0].splitlines()[-1])["step_ms"] for p in procs]
    return BATCH / (max(steps) / 1e3)


def torch_model(name):
    torch.manual_seed(0)
    return LeNet5() if name == "lenet5" else torchvision.models.resnet18(weights=None, num_classes=10)


def timed(step, budget, world):
    """Median step time, as bench_distributed measures it: warm-up, a count rank 0 sets, each
    step started together and timed by the slowest rank."""
    for _ in range(2):
        step()
    t0 = time.perf_counter()
    step()
    n = torch.tensor([max(5, int(budget / max(time.perf_counter() - t0, 1e-6)))])
    if world > 1:
        tdist.broadcast(n, 0)
    times = []
    for _ in range(int(n)):
        if world > 1:
            tdist.barrier()
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    t = torch.tensor(times, dtype=torch.float64)
    if world > 1:
        tdist.all_reduce(t, op=tdist.ReduceOp.MAX)
    return float(t.sort().values[len(times) // 2])


def torch_worker(rank, world, port, name, budget, queue):
    torch.set_num_threads(1)
    if world > 1:
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        tdist.init_process_group("gloo", rank=rank, world_size=world, timeout=datetime.timedelta(seconds=120))
    model = torch_model(name)
    net = nn.parallel.DistributedDataParallel(model) if world > 1 else model
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    g = torch.Generator().manual_seed(100 + rank)
    side, ch = (28, 1) if name == "lenet5" else (32, 3)
    x = torch.randn(BATCH // world, ch, side, side, generator=g)
    y = (torch.rand(BATCH // world, generator=g) * 10).long()
    net.train()

    def step():
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()
    s = timed(step, budget, world)
    if rank == 0:
        queue.put(s)
    if world > 1:
        tdist.destroy_process_group()


def pytorch(name, world, budget):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = [ctx.Process(target=torch_worker, args=(r, world, port, name, budget, queue)) for r in range(world)]
    for p in procs:
        p.start()
    try:
        step_s = queue.get(timeout=600)
    finally:
        for p in procs:
            p.join(timeout=60)
            if p.is_alive():
                p.kill()
    return BATCH / step_s


def resnet50_table(a):
    r = fovea_threads(a.build, a.threads, "train", "resnet50", 32, a.budget, 224)
    t_c, mb = r["step_ms"] / 1e3, r["gradient_mb"]
    grad_bytes = mb * 1024 * 1024
    print(f"resnet50 (10 classes), 3x224x224, batch 32 per node: measured step {t_c:.2f} s on {a.threads} threads "
          f"({32 / t_c:.1f} img/s); gradients {mb:.1f} MiB, {math.ceil(mb / 25)} buckets of 25 MB")
    print("modelled: t(N) = t_step + 2(N-1)/N x gradient bytes / link speed (no overlap: the worst case)")
    print(f"{'nodes':>5} | {'10 Gb/s: comm s':>15} {'efficiency':>10} {'img/s':>9} | "
          f"{'100 Gb/s: comm s':>16} {'efficiency':>10} {'img/s':>9}")
    for n in (2, 4, 8, 16, 32, 64):
        row = f"{n:5d}"
        for gbps in (10, 100):
            comm = 2 * (n - 1) / n * grad_bytes * 8 / (gbps * 1e9)
            eff = t_c / (t_c + comm)
            row += f" | {comm:{15 if gbps == 10 else 16}.3f} {eff:10.3f} {n * 32 / (t_c + comm):9.1f}"
        print(row)
    for gbps in (10, 100):
        comm = 2 * grad_bytes * 8 / (gbps * 1e9)
        print(f"at {gbps} Gb/s the efficiency stays above 0.9 at any N while a step takes more than 9 x {comm:.3f} s "
              f"= {9 * comm:.2f} s (more with overlap)")


def fovea_threads(build, threads, *args):
    exe = os.path.join(build, "bench_distributed")
    if not os.path.exists(exe):
        sys.exit(f"bench: {exe} not found; run 'make build' first")
    out = subprocess.run([exe, str(threads), *map(str, args)], env=dict(MPI_ENV, OMP_NUM_THREADS=str(threads)),
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"bench: {exe} failed:\n{out.stdout}{out.stderr}")
    return json.loads(out.stdout.splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget", type=float, default=5.0, help="seconds of timed steps per case")
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--resnet50-table", action="store_true", help="the modelled resnet50 scaling instead")
    ap.add_argument("--threads", type=int, default=2, help="--resnet50-table: threads of the measured node")
    a = ap.parse_args()
    if a.resnet50_table:
        return resnet50_table(a)
    print(f"data-parallel scaling on {os.cpu_count()} cores, global batch {BATCH}, 1 thread per rank "
          f"(PyTorch {torch.__version__} DDP over gloo; fovea over Open MPI)")
    print(f"{'model':18} {'':8} {'1 rank img/s':>13} {'2 ranks img/s':>14} {'efficiency':>11}")
    for name, label in MODELS:
        one = fovea(a.build, 1, "train", name, BATCH, a.budget)[0]["images_per_sec"]
        two = fovea(a.build, 2, "train", name, BATCH, a.budget)[0]["images_per_sec"]
        bound = fovea_concurrent(a.build, name, a.budget)
        p1, p2 = pytorch(name, 1, a.budget), pytorch(name, 2, a.budget)
        print(f"{label:18} {'fovea':8} {one:13.1f} {two:14.1f} {two / (2 * one):11.2f}")
        print(f"{'':18} {'pytorch':8} {p1:13.1f} {p2:14.1f} {p2 / (2 * p1):11.2f}")
        print(f"{'':18} {'bound':8} {'':13} {bound:14.1f} {bound / (2 * one):11.2f}  (fovea, 2 processes of half "
              f"the batch at once, no communication)")
    r = fovea(a.build, 2, "allreduce", 25, a.budget)[0]
    gbps = 2 * (r["ranks"] - 1) / r["ranks"] * 25 * 1024 * 1024 * 8 / 1e9
    print(f"all-reduce of a 25 MB bucket, 2 ranks: fovea {r['fovea_ms']:.2f} ms ({gbps / r['fovea_ms'] * 1e3:.1f} "
          f"Gb/s), bare MPI_Allreduce {r['mpi_ms']:.2f} ms: {r['mpi_ms'] / r['fovea_ms']:.2f} of MPI's speed")


if __name__ == "__main__":
    main()
