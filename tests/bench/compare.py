#!/usr/bin/python3
"""rpgnet against PyTorch, side by side (issue 9): for each network, thread count and environment
mode, runs build/bench/measure (rpgnet) and tests/bench/torch_bench.py (PyTorch) alternately in
fresh processes, several times, and prints markdown tables of the medians and the ratios:
training and batch-B inference images/s, batch-1 latency and peak RSS.

  usage: compare.py [--build DIR] [--reps R] [--threads 1,2] [--envs as-is,unset] cfg...

Environment 'unset' runs both programs with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed (as a
user's machine would autodetect its kernel); 'as-is' leaves the environment alone. Both programs
must report the same DoF for a cfg (the same network), or the run stops.
"""
import argparse
import os
import platform
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TARGETS = {'train': 1.5, 'infer': 2.0, 'latency': 1.0, 'rss': 0.5}


def run(cmd, env):
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f'compare.py: {" ".join(cmd)} failed ({p.returncode}):\n{p.stderr}')
    fields = dict(kv.split('=') for kv in p.stdout.split())
    return {k: (v if k == 'torch' else float(v)) for k, v in fields.items()}


def cpu_model():
    with open('/proc/cpuinfo') as f:
        for line in f:
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    return platform.processor() or 'unknown'


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--build', default='build')
    ap.add_argument('--reps', type=int, default=5)
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--threads', default='1,2')
    ap.add_argument('--envs', default='as-is,unset')
    ap.add_argument('cfgs', nargs='+')
    a = ap.parse_args()
    measure = os.path.join(a.build, 'bench', 'measure')
    if not os.access(measure, os.X_OK):
        sys.exit(f'compare.py: {measure} not built (make bench builds it)')
    version = subprocess.run([sys.executable, '-c', 'import torch; print(torch.__version__, '
                              'torch.backends.mkldnn.is_available())'], capture_output=True, text=True).stdout.split()
    if len(version) != 2:
        sys.exit('compare.py: PyTorch is not installed (make bench-deps installs python3-torch)')
    print(f'machine: {cpu_model()}, {os.cpu_count()} cores; batch {a.batch}; {a.reps} alternating repetitions '
          f'(rpgnet, PyTorch, rpgnet, ...), each a fresh process; PyTorch {version[0]} (oneDNN '
          f'{"on" if version[1] == "True" else "off"}), Python {platform.python_version()}.')
    print('Per process: 3 warm-up runs of each kind, then the median of 10 training steps, 10 inferences at '
          'the batch and 50 batch-1 inferences; peak RSS is the process\'s VmHWM (PyTorch\'s includes the interpreter '
          'and its libraries, as a PyTorch user pays them). Ratios are rpgnet over PyTorch for speed and '
          'PyTorch over rpgnet for latency; RSS ratio is rpgnet / PyTorch. Targets (issue 9): training '
          '>= 1.5x, inference >= 2x, latency ratio >= 1 (rpgnet no slower), RSS <= 0.5.')
    print()
    base_env = dict(os.environ)
    for env_mode in a.envs.split(','):
        env = dict(base_env)
        if env_mode == 'unset':
            env.pop('OPENBLAS_CORETYPE', None)
            env.pop('OPENBLAS_L2_SIZE', None)
        for threads in [int(t) for t in a.threads.split(',')]:
            env['OMP_NUM_THREADS'] = str(threads)
            coretype = env.get('OPENBLAS_CORETYPE', 'unset')
            print(f'### threads {threads}, environment {env_mode} (OPENBLAS_CORETYPE={coretype})')
            print()
            print('| network | train img/s rpgnet / PyTorch | ratio | infer img/s rpgnet / PyTorch | ratio | '
                  'batch-1 ms rpgnet / PyTorch | ratio | peak RSS MiB rpgnet / PyTorch | ratio |')
            print('|---|---|---|---|---|---|---|---|---|')
            for cfg in a.cfgs:
                args = ['--threads', str(threads), '--batch', str(a.batch), cfg]
                runs = {'rpgnet': [], 'torch': []}
                for _ in range(a.reps):
                    runs['rpgnet'].append(run([measure] + args, env))
                    runs['torch'].append(run([sys.executable, os.path.join(HERE, 'torch_bench.py')] + args, env))
                if runs['rpgnet'][0]['dof'] != runs['torch'][0]['dof']:
                    sys.exit(f'compare.py: {cfg}: rpgnet has {runs["rpgnet"][0]["dof"]:.0f} DoF, the PyTorch '
                             f'model {runs["torch"][0]["dof"]:.0f}: not the same network')
                med = {s: {k: statistics.median(r[k] for r in rs) for k in rs[0] if k != 'torch'}
                       for s, rs in runs.items()}
                r, t = med['rpgnet'], med['torch']
                train = (a.batch * 1000 / r['train_ms'], a.batch * 1000 / t['train_ms'])
                infer = (a.batch * 1000 / r['infer_ms'], a.batch * 1000 / t['infer_ms'])
                ratios = {'train': train[0] / train[1], 'infer': infer[0] / infer[1],
                          'latency': t['latency_ms'] / r['latency_ms'], 'rss': r['peak_rss_mib'] / t['peak_rss_mib']}
                mark = {k: ('' if (v >= TARGETS[k] if k != 'rss' else v <= TARGETS[k]) else ' (miss)')
                        for k, v in ratios.items()}
                name = os.path.splitext(os.path.basename(cfg))[0]
                print(f'| {name} | {train[0]:.0f} / {train[1]:.0f} | {ratios["train"]:.2f}x{mark["train"]} '
                      f'| {infer[0]:.0f} / {infer[1]:.0f} | {ratios["infer"]:.2f}x{mark["infer"]} '
                      f'| {r["latency_ms"]:.3f} / {t["latency_ms"]:.3f} | {ratios["latency"]:.2f}x{mark["latency"]} '
                      f'| {r["peak_rss_mib"]:.0f} / {t["peak_rss_mib"]:.0f} | {ratios["rss"]:.2f}{mark["rss"]} |',
                      flush=True)
            print()


if __name__ == '__main__':
    main()
