#!/usr/bin/python3
"""The effect of one engine change, measured side by side: two builds of bench/measure (before
and after the change, e.g. one from a `git worktree` of the previous commit) run alternately in
fresh processes, and the medians and the ratio of each figure are printed as a markdown table
for the 'Engine changes' record of tests/bench/RESULTS.md.

  usage: ab.py BEFORE_MEASURE AFTER_MEASURE [--reps R] [--threads 1,2] cfg[,batch=B][,size=S][,reps=R]...
"""
import argparse
import os
import statistics

from compare import cpu_model, measure_args, run


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('before')
    ap.add_argument('after')
    ap.add_argument('--reps', type=int, default=5)
    ap.add_argument('--threads', default='1,2')
    ap.add_argument('cfgs', nargs='+')
    a = ap.parse_args()
    print(f'machine: {cpu_model()}, {os.cpu_count()} cores; OPENBLAS_CORETYPE='
          f'{os.environ.get("OPENBLAS_CORETYPE", "unset")}; {a.reps} alternating repetitions (before, after, ...)')
    print()
    print('| cfg | threads | train ms before / after | infer ms before / after | batch-1 ms before / after | '
          'peak RSS MiB before / after |')
    print('|---|---|---|---|---|---|')
    for spec in a.cfgs:
        for threads in [int(t) for t in a.threads.split(',')]:
            env = dict(os.environ, OMP_NUM_THREADS=str(threads))
            cfg, args, batch, reps = measure_args(spec, threads, 128, a.reps)
            runs = {'before': [], 'after': []}
            for _ in range(reps):
                for side, binary in (('before', a.before), ('after', a.after)):
                    runs[side].append(run([binary] + args, env))
            med = {s: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for s, rs in runs.items()}
            b, f = med['before'], med['after']
            cells = [f'{b[k]:.2f} / {f[k]:.2f} ({100 * (f[k] / b[k] - 1):+.1f}%)'
                     for k in ('train_ms', 'infer_ms', 'latency_ms', 'peak_rss_mib')]
            print(f'| {os.path.basename(cfg)}, batch {batch} | {threads} | ' + ' | '.join(cells) + ' |', flush=True)


if __name__ == '__main__':
    main()
