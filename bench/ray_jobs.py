#!/usr/bin/env python3
"""Check that Ray's own job clients work against a rustyray node, unchanged.

Usage:  python3 bench/ray_jobs.py [--rustyray BIN] [--venv DIR] [--tasks DIR|WASM]

Starts `rustyray start --port 0` on a fresh data directory, deploys examples/tasks, then
drives the node with Ray's `ray job submit|status|logs|list|stop|delete` CLI and with
`ray.job_submission.JobSubmissionClient`, from a virtualenv with ray[default]==2.60.0
(made on first use in --venv, default ~/.cache/rustyray/rayenv, as bench/compare.py
does). Prints one line per check and exits non-zero if any fails.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RAY = "ray[default]==2.60.0"


def ensure_venv(venv):
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        print(f"making a virtualenv with {RAY} in {venv} (once)", file=sys.stderr)
        subprocess.check_call([sys.executable, "-m", "venv", venv])
        subprocess.check_call([python, "-m", "pip", "install", "-q", RAY])
    return python


CLIENT_SCRIPT = r'''
import sys, time
from ray.job_submission import JobSubmissionClient, JobStatus
address = sys.argv[1]
client = JobSubmissionClient(address)
sid = client.submit_job(entrypoint="rustyray run tasks -- 4", metadata={"by": "sdk"})
deadline = time.time() + 60
while client.get_job_status(sid) not in {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED}:
    assert time.time() < deadline, "the job did not end"
    time.sleep(0.1)
info = client.get_job_info(sid)
assert info.status == JobStatus.SUCCEEDED, info
assert info.metadata == {"by": "sdk"}, info.metadata
logs = client.get_job_logs(sid)
assert logs, "no logs"
jobs = client.list_jobs()
assert any(j.submission_id == sid for j in jobs), jobs
assert client.stop_job(sid) is False
assert client.delete_job(sid) is True
try:
    client.submit_job(entrypoint="python script.py")
    raise AssertionError("a shell entrypoint was accepted")
except RuntimeError as err:
    assert "bad_entrypoint" in str(err), err
print("sdk ok:", sid, info.status, len(logs), "bytes of logs")
'''


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rustyray", default=os.path.join(ROOT, "target", "release", "rustyray"))
    parser.add_argument("--venv", default=os.path.expanduser("~/.cache/rustyray/rayenv"))
    parser.add_argument("--tasks", default=os.path.join(ROOT, "examples", "tasks"),
                        help="the tasks example: its crate directory or a built .wasm")
    args = parser.parse_args()
    python = ensure_venv(args.venv)
    ray = os.path.join(args.venv, "bin", "ray")
    failures = 0

    def check(name, ok, detail=""):
        nonlocal failures
        print(f"{'PASS' if ok else 'FAIL'} {name}" + (f": {detail}" if detail and not ok else ""))
        failures += 0 if ok else 1

    data = tempfile.mkdtemp(prefix="rustyray-ray-jobs-")
    node = subprocess.Popen([args.rustyray, "start", "--port", "0", "--data-dir", data],
                            stdout=subprocess.PIPE, text=True)
    try:
        first = node.stdout.readline()
        address = first.strip().rsplit(" ", 1)[-1]
        check("node starts", address.startswith("http://"), first)
        env = dict(os.environ, RUSTYRAY_ADDRESS=address)
        out = subprocess.run([args.rustyray, "deploy", args.tasks, "--name", "tasks"],
                             env=env, capture_output=True, text=True)
        check("rustyray deploy examples/tasks", out.returncode == 0, out.stderr)

        def ray_job(*words):
            return subprocess.run([ray, "job", *words], capture_output=True, text=True,
                                  env=dict(os.environ, RAY_ADDRESS=address))

        out = ray_job("submit", "--address", address, "--no-wait", "--", "rustyray", "run",
                      "tasks", "--", "6")
        found = re.search(r"Job '([^']+)' submitted successfully", out.stdout + out.stderr)
        check("ray job submit --no-wait", out.returncode == 0 and found, out.stdout + out.stderr)
        sid = found.group(1) if found else "missing"
        out = ray_job("logs", "--address", address, "--follow", sid)
        check("ray job logs --follow (websocket tail)", out.returncode == 0 and "chain:" in out.stdout,
              out.stdout + out.stderr)
        out = ray_job("status", "--address", address, sid)
        check("ray job status", "succeeded" in (out.stdout + out.stderr).lower(), out.stdout + out.stderr)
        out = ray_job("list", "--address", address)
        check("ray job list", sid in out.stdout, out.stdout + out.stderr)
        out = ray_job("submit", "--address", address, "--", "rustyray", "run", "tasks", "--", "3")
        check("ray job submit (waits, tails logs)",
              out.returncode == 0 and "succeeded" in out.stdout + out.stderr,
              out.stdout + out.stderr)
        out = ray_job("delete", "--address", address, sid)
        check("ray job delete", out.returncode == 0, out.stdout + out.stderr)
        out = subprocess.run([python, "-c", CLIENT_SCRIPT, address], capture_output=True,
                             text=True)
        check("JobSubmissionClient: submit, status, info, logs, list, stop, delete",
              out.returncode == 0, out.stdout + out.stderr)
    finally:
        node.terminate()
        node.wait(timeout=30)
    print(f"{failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
