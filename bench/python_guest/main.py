"""The Python guest `rustyray bench` measures (python_* rows): the same trivial task and
actor as the Rust bench guest, so the rows read beside Ray's Python figures."""

import rustyray


@rustyray.remote
def noop():
    return None


@rustyray.remote
def add_one(x):
    return x + 1


@rustyray.actor
class Pinger:
    def ping(self):
        return None
