#!/usr/bin/env python3
"""Predicted epoch time of data-parallel training on many nodes (docs/SCALING.md).

Input: a JSON file (bench/scaling_inputs.json) of measurements made on this
machine (bench/run_mpi_scaling.sh): for each configuration, the epoch time with
one process (t1, seconds, one thread), the parallel fraction p, the steps per
epoch, and the communication per step that `sibp train` prints at R = 2
(allreduce calls and bytes, allgather calls and bytes). Output: a Markdown table of predicted epoch times at R = 4..64 nodes
(one process per node, each as fast as one process here) over two networks.

Model (strong scaling: the global batch stays the same, each node gets m/R):
- compute: Amdahl, t_compute(R) = t1 · ((1 − p) + p/R), with the parallel
  fraction p given per configuration (docs/SCALING.md says how each was
  obtained): the serial part is the work every rank repeats, the gathered
  sample-space solves of SIBP.
- allreduce of b bytes (sibp's: reduce onto rank 0, then broadcast, so every
  rank gets the same bits): 2·(⌈log2 R⌉·α + b/β).
- allgather whose result has B bytes (ring): (R − 1)·α + (R − 1)/R · B/β.
- The gathered bytes of a step grow with nothing but the batch (every rank
  receives the whole batch's F, T, G), the allreduced bytes are parameter-sized,
  and the number of collectives per step is the measured one (it does not
  depend on R; with R > 2 each allreduce is two collectives, counted above).
Networks: 10 Gbit/s Ethernet (TCP): α = 25 µs, β = 1.1 GB/s; 100 Gbit/s
InfiniBand/RoCE: α = 2 µs, β = 11 GB/s (about 90% of the line rate).
"""
import json
import math
import sys

NETS = {"10 Gbit/s": (25e-6, 1.1e9), "100 Gbit/s": (2e-6, 11e9)}
NODES = [4, 8, 16, 32, 64]


def predict(c, R, alpha, beta):
    p = c["p"]
    step = c["t1"] / c["steps"]
    compute = step * ((1 - p) + p / R)
    lg = math.ceil(math.log2(R))
    ar = c["allreduce_calls"] * 2 * lg * alpha + 2 * c["allreduce_bytes"] / beta
    ag = c["gather_calls"] * (R - 1) * alpha + (R - 1) / R * c["gather_bytes"] / beta
    return c["steps"] * compute, c["steps"] * (compute + ar + ag), c["steps"] * (ar + ag), p


def main():
    cases = json.load(open(sys.argv[1]))
    for net, (alpha, beta) in NETS.items():
        print(f"\n**{net}** (α = {alpha * 1e6:.0f} µs, β = {beta / 1e9:.1f} GB/s): predicted epoch time in seconds "
              "(communication share in parentheses)\n")
        print("| configuration | p | R = 1 (measured) | " + " | ".join(f"R = {R}" for R in NODES) + " |")
        print("|---|---|---|" + "---|" * len(NODES))
        for c in cases:
            cells = []
            for R in NODES:
                _, total, comm, p = predict(c, R, alpha, beta)
                cells.append(f"{total:.2f} ({100 * comm / total:.0f}%)")
            p = predict(c, 2, alpha, beta)[3]
            print(f"| {c['name']} | {p:.2f} | {c['t1']:.2f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
