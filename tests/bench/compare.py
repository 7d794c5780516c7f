#!/usr/bin/python3
"""rpgnet against PyTorch, side by side (issue 9): for each network, thread count and environment
mode, runs build/bench/measure (rpgnet), tests/bench/torch_bench.py (PyTorch as installed) and the
same with jemalloc preloaded (PyTorch tuned: BENCH.md's configuration to beat; skipped with a note
when Debian's libjemalloc2 is missing) alternately in fresh processes, several times, and prints
markdown tables of the medians and the ratios: training and batch-B inference images/s, batch-1
latency and peak RSS. Targets are judged against the strongest PyTorch configuration measured.

  usage: compare.py [--build DIR] [--reps R] [--threads 1,2] [--envs as-is,unset] cfg[,batch=B][,size=S][,reps=R]...

A cfg may carry its own batch, input size and repetitions (e.g. resnet18.cfg,batch=16,size=224,reps=1);
otherwise --batch, the cfg's size and --reps apply.

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
# Issue 16's aims, as ratios in the direction of the tables (latency: PyTorch's time over
# rpgnet's, so <= 0.7x of PyTorch's time is >= 1/0.7), and its floors (fashion-resnet must not
# fall below them in any configuration).
TARGETS = {'train': 1.2, 'infer': 1.5, 'latency': 1 / 0.7, 'rss': 0.5}
FLOORS = {'train': 1.0, 'infer': 1.2}
FLOOR_CFG = 'fashion-resnet.cfg'  # the network the floors are set for
JEMALLOC = '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2'
# jemalloc's default decay hands freed pages back to the kernel within seconds (at once for
# allocations over 8 MiB), so PyTorch's per-step activations fault in again on every step: with
# the defaults it ran 4-20x slower than with glibc here. Keeping freed pages is the tuned setting.
JEMALLOC_CONF = 'dirty_decay_ms:-1,muzzy_decay_ms:-1'


def run(cmd, env):
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f'compare.py: {" ".join(cmd)} failed ({p.returncode}):\n{p.stderr}')
    fields = dict(kv.split('=') for kv in p.stdout.split())
    return {k: (v if k == 'torch' else float(v)) for k, v in fields.items()}


def measure_args(spec, threads, batch, reps):
    """cfg[,batch=B][,size=S][,reps=R] -> (cfg, measure's arguments, batch, repetitions)."""
    cfg, *opts = spec.split(',')
    opts = dict(o.split('=', 1) for o in opts)
    batch = int(opts.get('batch', batch))
    args = ['--threads', str(threads), '--batch', str(batch)]
    if 'size' in opts:
        args += ['--size', opts['size']]
    return cfg, args + [cfg], batch, int(opts.get('reps', reps))


def cpu_model():
    with open('/proc/cpuinfo') as f:
        for line in f:
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    return platform.processor() or 'unknown'


def instruction_sets():
    """The vector instruction sets the processor reports (oneDNN and OpenBLAS pick kernels by them)."""
    with open('/proc/cpuinfo') as f:
        for line in f:
            if line.startswith('flags'):
                flags = set(line.split(':', 1)[1].split())
                names = [n for n, f in (('AVX-512', 'avx512f'), ('AVX512-VNNI', 'avx512_vnni'),
                                        ('AVX512-BF16', 'avx512_bf16'), ('AVX2', 'avx2'), ('FMA', 'fma'))
                         if f in flags]
                return ', '.join(names) or 'no AVX'
    return 'unknown'


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
    systems = ['rpgnet', 'torch']
    if os.path.exists(JEMALLOC):
        systems.append('torch+jemalloc')
    isa_cap = os.environ.get('ONEDNN_MAX_CPU_ISA')
    print(f'machine: {cpu_model()} ({instruction_sets()}' +
          (f'; oneDNN limited to {isa_cap} by ONEDNN_MAX_CPU_ISA' if isa_cap else '') +
          f'), {os.cpu_count()} cores; batch {a.batch} unless given; {a.reps} alternating repetitions '
          f'({", ".join(systems)}, {systems[0]}, ...), each a fresh process; PyTorch {version[0]} (oneDNN '
          f'{"on" if version[1] == "True" else "off"}), Python {platform.python_version()}.')
    print('Per process: 3 warm-up runs of each kind, then the median of 10 training steps, 10 inferences at '
          'the batch and 50 batch-1 inferences; peak RSS is the process\'s VmHWM (PyTorch\'s includes the interpreter '
          'and its libraries, as a PyTorch user pays them). "PT" is PyTorch as installed (glibc malloc), "PT+je" '
          f'the same with Debian\'s jemalloc preloaded (LD_PRELOAD={JEMALLOC}, MALLOC_CONF={JEMALLOC_CONF}: freed '
          'pages are kept; with jemalloc\'s default decay PyTorch ran 4-20x slower than with glibc here), the '
          'configuration BENCH.md says to beat. Ratios are rpgnet over PyTorch for speed and PyTorch over rpgnet for latency (above 1: rpgnet '
          'better); RSS ratio is rpgnet / PyTorch. Aims (issue 16), judged against the stronger PyTorch: training '
          '>= 1.2x, inference >= 1.5x, batch-1 latency <= 0.7x of PyTorch\'s (ratio >= 1.43), RSS <= 0.5; "(miss)" '
          'marks a missed aim. Floors, for fashion-resnet: training >= 1.0x and inference >= 1.2x; "(BELOW FLOOR)" marks a miss.')
    if 'torch+jemalloc' not in systems:
        print(f'\nNote: {JEMALLOC} is missing (make bench-deps installs libjemalloc2): PyTorch was measured '
              'only as installed, not in its tuned configuration.')
    print()
    base_env = dict(os.environ)
    modes = a.envs.split(',')
    if 'unset' in modes and 'as-is' in modes and not any(v in base_env for v in ('OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE')):
        modes.remove('unset')
        print('Neither OPENBLAS_CORETYPE nor OPENBLAS_L2_SIZE is set here: environment "as-is" is also "unset", '
              'measured once.\n')
    for env_mode in modes:
        env = dict(base_env)
        if env_mode == 'unset':
            env.pop('OPENBLAS_CORETYPE', None)
            env.pop('OPENBLAS_L2_SIZE', None)
        for threads in [int(t) for t in a.threads.split(',')]:
            env['OMP_NUM_THREADS'] = str(threads)
            coretype = env.get('OPENBLAS_CORETYPE', 'unset')
            envs = {'rpgnet': env, 'torch': env,
                    'torch+jemalloc': dict(env, LD_PRELOAD=JEMALLOC, MALLOC_CONF=JEMALLOC_CONF)}
            names = ' / '.join(['rpgnet', 'PT', 'PT+je'][:len(systems)])
            vs = ', '.join(['vs PT', 'vs PT+je'][:len(systems) - 1])
            print(f'### threads {threads}, environment {env_mode} (OPENBLAS_CORETYPE={coretype})')
            print()
            print(f'| network | train img/s {names} | ratio {vs} | infer img/s {names} | ratio {vs} | '
                  f'batch-1 ms {names} | ratio {vs} | peak RSS MiB {names} | ratio {vs} |')
            print('|---|---|---|---|---|---|---|---|---|')
            for spec in a.cfgs:
                cfg, args, batch, reps = measure_args(spec, threads, a.batch, a.reps)
                runs = {s: [] for s in systems}
                for _ in range(reps):
                    for s in systems:
                        cmd = [measure] if s == 'rpgnet' else [sys.executable, os.path.join(HERE, 'torch_bench.py')]
                        runs[s].append(run(cmd + args, envs[s]))
                for s in systems[1:]:
                    if runs['rpgnet'][0]['dof'] != runs[s][0]['dof']:
                        sys.exit(f'compare.py: {cfg}: rpgnet has {runs["rpgnet"][0]["dof"]:.0f} DoF, the PyTorch '
                                 f'model {runs[s][0]["dof"]:.0f}: not the same network')
                med = {s: {k: statistics.median(r[k] for r in rs) for k in rs[0] if k != 'torch'}
                       for s, rs in runs.items()}
                cells = []
                # (metric, value of a system, better is higher, target test on the ratio)
                for key, value, fmt in (('train', lambda m: batch * 1000 / m['train_ms'], '{:.0f}'),
                                        ('infer', lambda m: batch * 1000 / m['infer_ms'], '{:.0f}'),
                                        ('latency', lambda m: m['latency_ms'], '{:.3f}'),
                                        ('rss', lambda m: m['peak_rss_mib'], '{:.0f}')):
                    vals = [value(med[s]) for s in systems]
                    if key in ('train', 'infer'):
                        ratios = [vals[0] / v for v in vals[1:]]
                    elif key == 'latency':
                        ratios = [v / vals[0] for v in vals[1:]]
                    else:
                        ratios = [vals[0] / v for v in vals[1:]]
                    # the strongest PyTorch: the one with the least favourable ratio for rpgnet
                    worst = max(ratios) if key == 'rss' else min(ratios)
                    met = worst <= TARGETS[key] if key == 'rss' else worst >= TARGETS[key]
                    unit = '' if key == 'rss' else 'x'
                    cells.append(' / '.join(fmt.format(v) for v in vals))
                    below = key in FLOORS and worst < FLOORS[key] and os.path.basename(cfg) == FLOOR_CFG
                    cells.append(', '.join(f'{r:.2f}{unit}' for r in ratios) +
                                 (' (BELOW FLOOR)' if below else '' if met else ' (miss)'))
                name = os.path.splitext(os.path.basename(cfg))[0]
                opts = {k: v for k, v in (o.split('=', 1) for o in spec.split(',')[1:]) if k != 'reps'}
                if opts:
                    name += ' (' + ', '.join(f'{k} {v}' for k, v in opts.items()) + ')'
                print(f'| {name} | ' + ' | '.join(cells) + ' |', flush=True)
            print()

if __name__ == '__main__':
    main()
