"""CPU seconds of the demo and of ``skecg reproduce zhu sample`` against stated budgets.

Run from the project root (a fresh clone measures what is committed):

    .venv/bin/python benchmarks/budget.py [--runs 3] [--only demo,reproduce-zhu]

Each command runs as a child process ``--runs`` times, one after the other.  For every
run the table gives the child's CPU seconds (user + system of the whole process tree
that it waited for: ``getrusage(RUSAGE_CHILDREN)`` before and after, as
``/usr/bin/time -v`` reports them), the wall seconds, the peak memory of the largest
process, the longest stretch without a line of output (the demo promises a progress
line at least every 15 s), and the load average before and after.  The verdict
compares the median CPU seconds with the budget.

Why CPU seconds: on a machine that others load, wall time grows with the load, CPU
seconds far less (they still grow somewhat: caches and memory bandwidth are shared).
The budgets are stated for a quiet 2-core machine:

- demo (``python -m skecg.apps.demo``): 180 CPU-s.  It must finish in 3 minutes of
  wall time on 2 quiet cores; its training runs on 2 threads, so 180 CPU-s leave it
  room even if it were not parallel at all.
- reproduce-zhu (``skecg reproduce zhu sample``, the small scale): 600 CPU-s, the
  10 minutes asked of it, by the same reasoning.

A run that exits non-zero is reported as failed, with the end of its output.
"""

from __future__ import annotations

import argparse
import os
import resource
import selectors
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _commands(out: Path) -> dict:
    py = sys.executable
    return {
        "demo": ([py, "-m", "skecg.apps.demo", "--out", str(out / "demo")], 180.0, 15.0),
        "reproduce-zhu": ([py, "-m", "skecg.apps.cli", "reproduce", "zhu", "sample", "-o", str(out / "zhu")],
                          600.0, None),
    }


def run_once(cmd: list[str]) -> dict:
    """Run ``cmd``; CPU seconds of its process tree, wall seconds, peak RSS, longest
    silence between output lines, load average before and after."""
    load0 = os.getloadavg()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    last, gap, tail = t0, 0.0, []
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    buf = b""
    while True:
        if not sel.select(timeout=1.0):
            continue
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            break
        buf += chunk
        *lines, buf = buf.split(b"\n")
        now = time.perf_counter()
        for line in lines:
            gap = max(gap, now - last)
            last = now
            tail = (tail + [line.decode(errors="replace")])[-15:]
    rc = proc.wait()
    wall = time.perf_counter() - t0
    gap = max(gap, wall - (last - t0))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"rc": rc, "cpu": cpu, "wall": wall, "rss_mb": after.ru_maxrss / 1024, "gap": gap,
            "load0": load0[0], "load1": os.getloadavg()[0], "tail": tail}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default=None, help="comma-separated subset of: demo, reproduce-zhu")
    args = ap.parse_args(argv)
    out = Path(tempfile.mkdtemp(prefix="skecg-budget-"))
    cmds = _commands(out)
    if args.only:
        unknown = set(args.only.split(",")) - set(cmds)
        if unknown:
            ap.error(f"unknown target(s) {sorted(unknown)}; choose from {sorted(cmds)}")
        cmds = {k: v for k, v in cmds.items() if k in args.only.split(",")}
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
          f"python {sys.version.split()[0]}", flush=True)
    rows = []
    try:
        for name, (cmd, budget, max_gap) in cmds.items():
            for r in range(args.runs):
                shutil.rmtree(out, ignore_errors=True)  # no cached cells from the previous run
                res = run_once(cmd)
                rows.append((name, budget, max_gap, res))
                print(f"  {name} run {r + 1}: rc {res['rc']}, {res['cpu']:.0f} CPU-s, {res['wall']:.0f} s wall, "
                      f"load {res['load0']:.1f} -> {res['load1']:.1f}", flush=True)
                if res["rc"]:
                    print("    " + "\n    ".join(res["tail"]))
    finally:
        shutil.rmtree(out, ignore_errors=True)
    print(f"\n{'target':<15}{'run':>4}{'CPU-s':>8}{'wall s':>8}{'peak MB':>9}{'max silence s':>15}"
          f"{'load before/after':>19}")
    for i, (name, _, _, res) in enumerate(rows):
        print(f"{name:<15}{i + 1:>4}{res['cpu']:>8.0f}{res['wall']:>8.0f}{res['rss_mb']:>9.0f}{res['gap']:>15.1f}"
              f"{res['load0']:>10.1f}/{res['load1']:.1f}" + ("  FAILED" if res["rc"] else ""))
    print()
    worst = 0
    for name, (cmd, budget, max_gap) in cmds.items():
        ok = [r for n, _, _, r in rows if n == name and not r["rc"]]
        if not ok:
            print(f"{name}: every run failed")
            worst = 1
            continue
        cpu = statistics.median(r["cpu"] for r in ok)
        gap = max(r["gap"] for r in ok)
        verdict = "within" if cpu <= budget else "OVER"
        line = f"{name}: median {cpu:.0f} CPU-s, budget {budget:.0f} CPU-s: {verdict} budget"
        if max_gap:
            line += f"; longest silence {gap:.1f} s (promised <= {max_gap:.0f} s)"
        print(line)
    return worst


if __name__ == "__main__":
    sys.exit(main())
