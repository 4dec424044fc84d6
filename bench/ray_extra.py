#!/usr/bin/env python3
"""Ray's side of the rows `rustyray bench` has and Ray's anchor bench does not: large
objects shared with tasks.

Usage:  python ray_extra.py [--quick] [--json out.json] [--reps N]

- object_fanout_ms: 50 MiB put once (a numpy uint8 array, which Ray's workers map from
  its shared-memory object store without a copy), 25 tasks each hashing (SHA-256) a
  2 MiB range of it, all gotten — the workload of rustyray's `object_fanout_ms`.
- guest_roundtrip_gb_per_s: 64 MiB into a task and back (the task returns its
  argument; the driver gets it), in GB/s of the 64 MiB — rustyray's
  `guest_roundtrip_gb_per_s`.

Each figure is the median over --reps repetitions, each timed after one untimed warm-up
round, in one local Ray instance (`ray.init(num_cpus=2)`, as the anchor bench).
"""

import argparse
import hashlib
import json
import os
import statistics
import time

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

import numpy as np  # noqa: E402
import ray  # noqa: E402

MiB = 1 << 20


@ray.remote
def hash_range(data, start, end):
    return hashlib.sha256(memoryview(data[start:end])).hexdigest()


@ray.remote
def echo(data):
    return data


def fanout(obj_mib, tasks, range_mib):
    data = np.random.default_rng(7).integers(0, 256, obj_mib * MiB, dtype=np.uint8)
    t = time.perf_counter()
    ref = ray.put(data)
    step = range_mib * MiB
    digests = ray.get([hash_range.remote(ref, i * step, (i + 1) * step) for i in range(tasks)])
    ms = (time.perf_counter() - t) * 1e3
    expected = hashlib.sha256(memoryview(data[:step])).hexdigest()
    assert digests[0] == expected, "hash of the first range differs"
    return ms


def roundtrip(mib):
    data = np.full(mib * MiB, 7, dtype=np.uint8)
    ref = ray.put(data)
    t = time.perf_counter()
    out = ray.get(echo.remote(ref))
    gb_per_s = mib * MiB / (time.perf_counter() - t) / 1e9
    assert len(out) == mib * MiB, "echo returned too little"
    return gb_per_s


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one repetition")
    ap.add_argument("--json", metavar="OUT", help="write figures as JSON")
    ap.add_argument("--reps", type=int, help="override the repetition count")
    args = ap.parse_args()
    reps = args.reps or (1 if args.quick else 3)
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        fanout(50, 25, 2)
        roundtrip(64)
        out = {
            "object_fanout_ms": statistics.median(fanout(50, 25, 2) for _ in range(reps)),
            "guest_roundtrip_gb_per_s": statistics.median(roundtrip(64) for _ in range(reps)),
            "meta": {"ray_version": ray.__version__, "reps": reps},
        }
    finally:
        ray.shutdown()
    print(json.dumps(out))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
