#!/usr/bin/env python3
"""CPU time of every Chromium thread, summed by process type and thread name, in windows of a few seconds.

    python3 scripts/chromium-thread-cpu.py [window seconds (2)] [windows (30)]

Run it beside a benchmark (docs/benchmarks.md, "Slider drag") to see which of the browser's threads share the
cores with the engine worker (a `DedicatedWorker` thread of the renderer). Reads /proc (Linux only); prints one
table a window, in cores (1.00 = one core busy for the whole window).
"""
import collections
import os
import re
import sys
import time

TICKS = os.sysconf('SC_CLK_TCK')


def process_type(pid: str) -> str:
    """'renderer', 'gpu-process', 'utility:network', ... from the command line; 'browser' for the main process.
    Chromium's zygote children rewrite their command line as one space-separated string."""
    with open(f'/proc/{pid}/cmdline', 'rb') as f:
        args = f.read().replace(b'\0', b' ').decode(errors='replace').split()
    if not args or 'chrom' not in os.path.basename(args[0]):
        return ''
    kind = next((a.split('=', 1)[1] for a in args if a.startswith('--type=')), 'browser')
    sub = next((a.split('=', 1)[1].split('.')[-1] for a in args if a.startswith('--utility-sub-type=')), '')
    return f'{kind}:{sub}' if sub else kind


def snapshot() -> dict:
    """{(pid, tid): (process type, thread name, CPU ticks)} of every Chromium thread now."""
    threads = {}
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            kind = process_type(pid)
            if not kind:
                continue
            for tid in os.listdir(f'/proc/{pid}/task'):
                with open(f'/proc/{pid}/task/{tid}/stat') as f:
                    stat = f.read()
                name = stat[stat.index('(') + 1:stat.rindex(')')]
                fields = stat[stat.rindex(')') + 2:].split()
                threads[(pid, tid)] = (kind, name, int(fields[11]) + int(fields[12]))  # utime + stime
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue  # a process or thread that ended while it was read
    return threads


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    windows = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    before, since = snapshot(), time.time()
    for window in range(windows):
        time.sleep(seconds)
        now, at = snapshot(), time.time()
        cores = collections.Counter()
        for key, (kind, name, ticks) in now.items():
            # Numbered pool threads (ThreadPoolForegroundWorker 1, Thread<01>) are summed under one name.
            cores[(kind, re.sub(r'\d+>?$', '#', name))] += (ticks - before.get(key, (kind, name, 0))[2]) / TICKS
        span = at - since
        print(f'--- {time.strftime("%H:%M:%S")} window {window}: {sum(cores.values()) / span:.2f} cores', flush=True)
        for (kind, name), used in cores.most_common(8):
            if used > 0:
                print(f'  {used / span:5.2f}  {kind:20s} {name}', flush=True)
        before, since = now, at


if __name__ == '__main__':
    main()
