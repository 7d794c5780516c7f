#!/usr/bin/python3
"""Where a training step's and an inference pass's time goes on the oneDNN engine: runs
build/bench/train_step with DNNL_VERBOSE=1 (oneDNN prints each primitive's execution time),
sums oneDNN's time per primitive kind over the measured passes, and reports it against the
step's median wall time (the rest is rpgnet's own loops: batch norm, activations, shortcut,
pooling, the update, the ring generator). Also the convolutions' rate in GFLOP/s of direct-
convolution work (Winograd does fewer FLOPs, so it can exceed what direct kernels reach), as a
fraction of the machine's peak.

  usage: profile.py [--build DIR] [--threads N] [--batch B] [--size S] [--reps R] [--peak GFLOPS] cfg
"""
import argparse
import collections
import os
import re
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--build', default='build')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--reps', type=int, default=3)
    ap.add_argument('--size', type=int, default=0, help='the input\'s width and height (0: the cfg\'s)')
    ap.add_argument('--peak', type=float, default=410.0,
                    help='the machine\'s peak GFLOP/s on all its cores (BENCH.md: 410 for the 2-core machine here); '
                         'a run on fewer threads is compared with its share')
    ap.add_argument('cfg')
    a = ap.parse_args()
    a.peak *= min(1.0, a.threads / (os.cpu_count() or a.threads))
    env = dict(os.environ, DNNL_VERBOSE='1')
    p = subprocess.run([os.path.join(a.build, 'bench', 'train_step'), '--threads', str(a.threads), '--batch',
                        str(a.batch), '--size', str(a.size), '--reps', str(a.reps), a.cfg], env=env,
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f'profile.py: train_step failed:\n{p.stderr}')
    # train_step runs one warm-up training step and inference, then reps of each: the last
    # reps * (training + inference) passes are measured.
    lines = [l.split(',') for l in p.stdout.splitlines() if l.startswith('onednn_verbose,exec,')]
    row = next(l for l in p.stdout.splitlines() if l.startswith('| ' + a.cfg))
    cells = [c.strip() for c in row.strip('|').split('|')]
    step_ms = float(cells[1].split()[0])
    infer_ms = 1000.0 * a.batch / float(cells[5])
    gflop_step = float(cells[3]) * step_ms / 1000.0  # GFLOP/s x seconds: the step's direct-conv work
    # Passes: a training step's primitives are forward_training / backward_*; inference's
    # forward_inference (the fused path) plus reorders. Split the warm-up out by count.
    per_kind = collections.defaultdict(float)
    n_train = n_infer = 0
    for f in lines:
        prim, impl, prop, ms = f[3], f[4], f[5], float(f[-1])
        kind = prim if prim != 'convolution' else f'convolution {prop}'
        per_kind[(kind, impl.split(':')[0])] += ms
    passes = a.reps + 1
    print(f'{a.cfg}, batch {a.batch}, {a.threads} thread(s): training step {step_ms:.1f} ms, inference {infer_ms:.1f} ms '
          f'(medians of {a.reps}); oneDNN time per repetition (one training step and one inference; averaged over the '
          'warm-up and the measured ones):')
    print()
    print('| primitive | implementation | ms per repetition (one training step and one inference) |')
    print('|---|---|---|')
    conv_train = conv_infer = reorder = 0.0
    for (kind, impl), ms in sorted(per_kind.items(), key=lambda kv: -kv[1]):
        print(f'| {kind} | {impl} | {ms / passes:.2f} |')
        if kind.startswith('convolution forward_inference'):
            conv_infer += ms / passes
        elif kind.startswith('convolution'):
            conv_train += ms / passes
        else:
            reorder += ms / passes
    print()
    # Reorders run in both passes; attribute them by share of convolution time (an estimate).
    total_conv = conv_train + conv_infer
    train_reorder = reorder * conv_train / total_conv if total_conv else 0
    infer_reorder = reorder - train_reorder
    train_conv_rate = gflop_step / (conv_train / 1000.0) if conv_train else 0
    infer_conv_rate = gflop_step / 3 / (conv_infer / 1000.0) if conv_infer else 0
    print(f'Training step: convolutions {conv_train:.1f} ms ({100 * conv_train / step_ms:.0f}%), reorders ~{train_reorder:.1f} ms '
          f'({100 * train_reorder / step_ms:.0f}%), rpgnet\'s own loops {step_ms - conv_train - train_reorder:.1f} ms '
          f'({100 * (step_ms - conv_train - train_reorder) / step_ms:.0f}%). The convolutions do {gflop_step:.1f} GFLOP of '
          f'direct-convolution work per step: {train_conv_rate:.0f} GFLOP/s, {100 * train_conv_rate / a.peak:.0f}% of the '
          f'{a.peak:.0f} GFLOP/s peak.')
    print()
    print(f'Inference: convolutions {conv_infer:.1f} ms ({100 * conv_infer / infer_ms:.0f}%), reorders ~{infer_reorder:.1f} ms '
          f'({100 * infer_reorder / infer_ms:.0f}%), the rest {infer_ms - conv_infer - infer_reorder:.1f} ms; '
          f'{infer_conv_rate:.0f} GFLOP/s of direct-convolution work, {100 * infer_conv_rate / a.peak:.0f}% of peak.')


if __name__ == '__main__':
    main()
