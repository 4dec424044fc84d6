#!/usr/bin/env python3
"""Measure a rustyray node: idle memory, and job submit-to-first-output latency.

Usage:  python3 bench/node.py [--rustyray BIN] [--tasks DIR|WASM] [--reps N]

Starts `rustyray start --port 0` on a fresh data directory, reads the node's resident
memory once started (idle, nothing deployed) and again after deploying the tasks
example, then submits `rustyray run tasks -- 5` --reps times and times each from the
POST /api/jobs/ to the first byte of its log stream. Prints medians.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def get(address, path):
    with urllib.request.urlopen(address + path, timeout=30) as response:
        return json.loads(response.read())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rustyray", default=os.path.join(ROOT, "target", "release", "rustyray"))
    parser.add_argument("--tasks", default=os.path.join(ROOT, "examples", "tasks"))
    parser.add_argument("--reps", type=int, default=10)
    args = parser.parse_args()
    data = tempfile.mkdtemp(prefix="rustyray-node-bench-")
    node = subprocess.Popen([args.rustyray, "start", "--port", "0", "--data-dir", data],
                            stdout=subprocess.PIPE, text=True)
    try:
        address = node.stdout.readline().strip().rsplit(" ", 1)[-1]
        idle_kib = get(address, "/api/v0/status")["node_rss_kib"]
        subprocess.run([args.rustyray, "deploy", args.tasks, "--name", "tasks"], check=True,
                       env=dict(os.environ, RUSTYRAY_ADDRESS=address), capture_output=True)
        deployed_kib = get(address, "/api/v0/status")["node_rss_kib"]
        latencies, totals = [], []
        for _ in range(args.reps):
            body = json.dumps({"entrypoint": "rustyray run tasks -- 5"}).encode()
            request = urllib.request.Request(address + "/api/jobs/", data=body,
                                             headers={"Content-Type": "application/json"})
            start = time.perf_counter()
            with urllib.request.urlopen(request, timeout=30) as response:
                sid = json.loads(response.read())["submission_id"]
            with urllib.request.urlopen(f"{address}/api/jobs/{sid}/logs/stream",
                                        timeout=60) as stream:
                stream.read(1)
                latencies.append((time.perf_counter() - start) * 1e3)
                stream.read()
                totals.append((time.perf_counter() - start) * 1e3)
            assert get(address, f"/api/jobs/{sid}")["status"] == "SUCCEEDED"
        after_kib = get(address, "/api/v0/status")["node_rss_kib"]
    finally:
        node.terminate()
        node.wait(timeout=30)
    print(f"node idle RSS:                 {idle_kib / 1024:.1f} MiB")
    print(f"node RSS, tasks deployed:      {deployed_kib / 1024:.1f} MiB")
    print(f"node RSS after {args.reps} jobs:        {after_kib / 1024:.1f} MiB")
    print(f"submit to first output:        {statistics.median(latencies):.1f} ms (median of {args.reps})")
    print(f"submit to job end (tasks -- 5): {statistics.median(totals):.1f} ms (median)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
