"""Python fixtures for the integration tests (tests/all/python.rs)."""

import os

import rustyray

CALLS = [0]


@rustyray.remote
def py_add(a, b):
    return a + b


@rustyray.remote
def py_fail(message):
    raise ValueError(message)


@rustyray.remote
def py_fresh():
    """1 on every call: each task runs in a fresh instance, module state starts over."""
    CALLS[0] += 1
    return CALLS[0]


@rustyray.remote
def py_read_hostname():
    with open("/etc/hostname", "rb") as f:
        return len(f.read())


@rustyray.remote
def py_has_home():
    return 1 if os.environ.get("HOME") is not None else 0


@rustyray.remote
def py_abort():
    os.abort()


@rustyray.remote
def py_spin():
    while True:
        pass


@rustyray.remote
def py_double_via(x):
    """Submits a nested task from inside a task."""
    return rustyray.get(py_add.remote(x, x))


@rustyray.remote
def py_point(x, y):
    """A dict: a Rust caller reads it as its own struct."""
    return {"x": x, "y": y}


@rustyray.remote
def py_sum(xs):
    return float(sum(xs))


@rustyray.remote
def py_calls_rust(xs):
    """Calls the Rust task ``rs_stats`` (tests/guests/interop) by name; its struct arrives
    as a dict and goes back to a Rust caller as the same struct."""
    stats = rustyray.get(rustyray.function("rs_stats").remote(xs))
    assert set(stats) == {"count", "mean"}, stats
    return stats


@rustyray.remote
def py_passes_ref_to_rust(data):
    """Puts ``bytes`` and hands the reference to a Rust task, which reads ``Vec<u8>``."""
    ref = rustyray.put(data)
    return rustyray.get(rustyray.function("rs_checksum").remote(ref))


@rustyray.actor(snapshot=True)
class PyCounter:
    def __init__(self, start):
        self.value = start

    def incr(self):
        self.value += 1
        return self.value

    def get(self):
        return self.value

    def crash(self):
        os.abort()


@rustyray.remote
def py_forge_ids():
    """Makes up actor ids — small numbers, neighbours and bit flips of its own actor's —
    and tries to turn each into a handle. Returns how many were refused with
    ``ActorDiedError`` (over a thousand) in thousands, a small number every encoding reads
    alike; raises if any reached an actor (which it would then kill)."""
    from rustyray import _api

    mine = PyCounter.remote(0)
    node, hi, lo = mine._id()
    mask = (1 << 64) - 1
    guesses = [(0, 0, k) for k in range(512)] + [(0, k, 0) for k in range(1, 256)]
    for k in range(1, 128):
        guesses += [(node, hi, (lo + k) & mask), (node, hi, (lo - k) & mask),
                    (node, (hi + k) & mask, lo), (node + k, hi, lo)]
    for bit in range(64):
        guesses += [(node, hi, lo ^ (1 << bit)), (node, hi ^ (1 << bit), lo)]
    guesses += [(node, lo, hi), "not an id", (0, 0), (0, 0, 1 << 64), (-1, 0, 0)]
    refused = 0
    for guess in guesses:
        try:
            other = _api.handle_from_id(guess)
        except rustyray.ActorDiedError:
            refused += 1
            continue
        rustyray.kill(other)
        raise RuntimeError(f"forged id {guess!r} reached an actor")
    # Its own id, which it was given, still works.
    _api.handle_from_id((node, hi, lo)).incr.remote().get()
    if refused != len(guesses):
        raise RuntimeError(f"only {refused} of {len(guesses)} guesses refused")
    return refused // 1000


@rustyray.main
def main(args):
    """`--lifetimes`: a named actor that ends with this program, and a detached one
    (Ray's ``lifetime="detached"``) that outlives it."""
    if args and args[0] == "--lifetimes":
        attached = PyCounter.options(name="py-attached").remote(0)
        kept = PyCounter.options(name="py-kept", lifetime="detached").remote(10)
        print(rustyray.get([attached.incr.remote(), kept.incr.remote()]))
    return 0
