#!/usr/bin/env python3
"""Run Ray's anchor benchmark and `rustyray bench` in one go, and print the ratio for
every workload they share.

Usage:  python3 bench/compare.py [--quick] [--ray-bench PATH] [--venv DIR] [--rustyray BIN]
                                 [--ray-json FILE] [--markdown]

Ray runs from a virtualenv with ray[default]==2.60.0, numpy and psutil (created on first
use in --venv, default ~/.cache/rustyray/rayenv, from PyPI). Both suites run on this
machine in this run, one after the other, never at the same time. Rows the anchor bench
lacks (large objects) come from bench/ray_extra.py, run in the same venv after it.
--ray-json reuses a Ray result from the same session instead of running Ray again.
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# (rustyray key, Ray key, how to turn Ray's figure into rustyray's unit, unit,
#  higher is better, what)
ROWS = [
    ("tasks_async_per_s", "tasks_async_per_s", lambda v, c: v, "tasks/s", True,
     "trivial tasks, submit all then get all"),
    ("tasks_sync_per_s", "tasks_sync_round_trips_per_s", lambda v, c: v, "tasks/s", True,
     "task submit + get, one at a time"),
    ("actor_calls_async_per_s", "actor_async_calls_per_s", lambda v, c: v, "calls/s", True,
     "actor calls, submit all then get all"),
    ("actor_calls_sync_per_s", "actor_sync_calls_per_s", lambda v, c: v, "calls/s", True,
     "actor call + get, one at a time"),
    ("put_gb_per_s", "put_bytes_gb_per_s", lambda v, c: v, "GB/s", True,
     "put of a 100 MiB buffer"),
    ("get_gb_per_s", "get_bytes_gb_per_s", lambda v, c: v, "GB/s", True,
     "get of a 100 MiB object"),
    ("chain_1000_ms", "chain_total_s", lambda v, c: v * 1e3, "ms", False,
     "chain of 1,000 dependent tasks"),
    ("fan_in_1000_ms", "fanout_fanin_s", lambda v, c: v * 1e3, "ms", False,
     "1,000 tasks of 1 KiB + one reduce"),
    ("error_propagation_ms", "error_propagation_ms", lambda v, c: v, "ms", False,
     "error in a task until get raises"),
    ("cancel_running_ms", "cancel_force_ms", lambda v, c: v, "ms", False,
     "cancel a running task until get raises"),
    ("actors_created_per_s", "actors_start_and_call_s", lambda v, c: c["actors"] / v,
     "actors/s", True, "create actors and call each once"),
    ("actor_idle_rss_kib", "actor_added_rss_mib_per_actor", lambda v, c: v * 1024, "KiB",
     False, "added memory per idle actor"),
    ("cold_start_ms", "init_s", lambda v, c: v * 1e3, "ms", False,
     "start to ready (rustyray: to first result)"),
    ("runtime_idle_rss_mib", "ray_rss_settled_mib", lambda v, c: v, "MiB", False,
     "memory of a started runtime"),
    # Large objects (issue 11), Ray's side from bench/ray_extra.py.
    ("object_fanout_ms", "object_fanout_ms", lambda v, c: v, "ms", False,
     "50 MiB put once, 25 tasks each hash 2 MiB of it"),
    ("guest_roundtrip_gb_per_s", "guest_roundtrip_gb_per_s", lambda v, c: v, "GB/s", True,
     "64 MiB into a task and back"),
    # Python guests (each task a fresh sandboxed instance) beside Ray's Python tasks.
    ("python_tasks_async_per_s", "tasks_async_per_s", lambda v, c: v, "tasks/s", True,
     "Python: trivial tasks, submit all then get all"),
    ("python_actor_calls_async_per_s", "actor_async_calls_per_s", lambda v, c: v, "calls/s",
     True, "Python: actor calls, submit all then get all"),
    ("python_cold_start_ms", "init_s", lambda v, c: v * 1e3, "ms", False,
     "Python: start to ready (rustyray: to first result)"),
    # JavaScript guests: Ray has no JavaScript workers, so beside its Python figures.
    ("js_tasks_async_per_s", "tasks_async_per_s", lambda v, c: v, "tasks/s", True,
     "JavaScript: trivial tasks, submit all then get all (Ray: Python)"),
    ("js_actor_calls_async_per_s", "actor_async_calls_per_s", lambda v, c: v, "calls/s",
     True, "JavaScript: actor calls, submit all then get all (Ray: Python)"),
    ("js_cold_start_ms", "init_s", lambda v, c: v * 1e3, "ms", False,
     "JavaScript: start to ready (rustyray: to first result; Ray: Python)"),
]


# Rows of rustyray's alone (Ray's anchor bench has no counterpart), printed below the
# table: (rustyray key, unit, what).
OWN_ROWS = [
    ("runtime_idle_private_mib", "MiB",
     "started runtime, its own memory (RssAnon + RssShmem: its RSS less the executable's shared code)"),
    ("node_idle_rss_mib", "MiB", "node (`rustyray start`) idle RSS"),
    ("job_first_output_ms", "ms", "node: job submit to its first output"),
    ("object_fanout_peak_rss_mib", "MiB", "peak RSS of the object fan-out"),
    ("object_spill_gb_per_s", "GB/s", "512 MiB through a 256 MiB store (spill + restore)"),
]


def fmt(v):
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def ensure_venv(venv):
    py = os.path.join(venv, "bin", "python")
    if os.path.exists(py):
        return py
    print(f"# creating {venv} with ray[default]==2.60.0 numpy psutil", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    subprocess.run([os.path.join(venv, "bin", "pip"), "install", "-q",
                    "ray[default]==2.60.0", "numpy", "psutil"], check=True)
    return py


def run_ray(args):
    if args.ray_json:
        with open(args.ray_json) as f:
            return json.load(f)
    py = ensure_venv(args.venv)
    out = tempfile.mktemp(suffix=".json", prefix="ray_bench_")
    cmd = [py, args.ray_bench, "--json", out] + (["--quick"] if args.quick else [])
    print("# running Ray:", " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True, stdout=sys.stderr)
    with open(out) as f:
        figures = json.load(f)
    # The rows the anchor bench lacks (large objects), in the same venv.
    cmd = [py, os.path.join(HERE, "ray_extra.py"), "--json", out] + (
        ["--quick"] if args.quick else [])
    print("# running Ray:", " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True, stdout=sys.stderr)
    with open(out) as f:
        extra = json.load(f)
    os.unlink(out)
    extra.pop("meta", None)
    figures.update(extra)
    return figures


def run_rustyray(args):
    cmd = [args.rustyray, "bench", "--json"] + (["--quick"] if args.quick else [])
    print("# running rustyray:", " ".join(cmd), file=sys.stderr)
    done = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(done.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller counts on both sides")
    ap.add_argument("--ray-bench", default=os.path.join(ROOT, "..", "shared", "anchors",
                                                        "ray_bench.py"))
    ap.add_argument("--venv", default=os.path.expanduser("~/.cache/rustyray/rayenv"))
    ap.add_argument("--rustyray", default=os.path.join(ROOT, "target", "release", "rustyray"))
    ap.add_argument("--ray-json", help="reuse this Ray result instead of running Ray")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = ap.parse_args()

    ray = run_ray(args)
    rr = run_rustyray(args)
    counts = ray.get("meta", {}).get("counts", {"actors": 100})

    when = datetime.datetime.now().strftime("%Y-%m-%d")
    cpus = os.cpu_count()
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    title = (f"{when}, {platform.machine()} Linux, {cpus} cores, {mem:.0f} GiB; "
             f"Ray {ray.get('meta', {}).get('ray_version', '?')} vs rustyray "
             f"{rr.get('meta', {}).get('rustyray_version', '?')}; medians"
             f"{' (quick counts)' if args.quick else ''}")
    rows = []
    for key, ray_key, conv, unit, higher, what in ROWS:
        if key not in rr or ray_key not in ray:
            continue
        ours, theirs = rr[key], conv(ray[ray_key], counts)
        if ours <= 0 or theirs <= 0:
            ratio = "n/a"
        else:
            x = ours / theirs if higher else theirs / ours
            ratio = (f"{x:,.0f}x" if x >= 10 else f"{x:.1f}x" if x >= 1
                     else f"{x:.2f}x (Ray better)")
        rows.append((what, unit, fmt(theirs), fmt(ours), ratio))

    own = [(what, unit, fmt(rr[key])) for key, unit, what in OWN_ROWS if key in rr]
    if args.markdown:
        print(f"_{title}_\n")
        print("| workload | unit | Ray | rustyray | rustyray better by |")
        print("|---|---|---:|---:|---:|")
        for r in rows:
            print("| " + " | ".join(r) + " |")
        if own:
            print("\nrustyray alone (no counterpart in Ray's anchor bench): " +
                  "; ".join(f"{what}: {value} {unit}" for what, unit, value in own) + ".")
    else:
        print(title)
        print(f"{'workload':42} {'unit':9} {'Ray':>12} {'rustyray':>14} {'better by':>10}")
        for r in rows:
            print(f"{r[0]:42} {r[1]:9} {r[2]:>12} {r[3]:>14} {r[4]:>10}")
        for what, unit, value in own:
            print(f"{what:42} {unit:9} {'-':>12} {value:>14} {'-':>10}")


if __name__ == "__main__":
    main()
