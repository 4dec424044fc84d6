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


# 1 MiB of ones in the interpreter's snapshot. py_scattered_pages checks and dirties one
# byte on every other page of it: 128 disjoint dirty regions, more than one PAGEMAP_SCAN
# of wasmtime's in-place reset holds (32), so the next instance in the same pool slot
# sees whether every one of them was reset (vendor/README.md).
SCATTERED = bytearray(b"\x01" * (1 << 20))


@rustyray.remote
def py_scattered_pages():
    """How many of the pages touched were not as in the snapshot: 0 in every task."""
    changed = 0
    for offset in range(0, len(SCATTERED), 8192):
        if SCATTERED[offset] != 1:
            changed += 1
        SCATTERED[offset] = 2
    return changed


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
def py_total_nested(shards):
    """Gets the references nested in ``shards`` (they arrive as ObjectRefs, not values)."""
    if not all(isinstance(s["data"], rustyray.ObjectRef) for s in shards):
        raise TypeError("a nested reference arrived resolved")
    return sum(len(rustyray.get(s["data"])) for s in shards)


@rustyray.remote
def py_load(n):
    """Returns a reference inside a value (Ray's returned object refs)."""
    return {"name": f"s{n}", "data": rustyray.put(list(range(n)))}


@rustyray.remote
def py_basic_nested_ids():
    """Ray's ``test_basic_nested_ids``: references nested in an argument travel as
    references, returned ones too, and stay alive while held."""
    shards = rustyray.get([py_load.remote(n) for n in (3, 4, 5)])
    return rustyray.get(py_total_nested.remote(shards))


@rustyray.remote
def py_internal_free():
    """Ray's ``test_internal_free``: a freed object's ``get`` raises ``ObjectFreedError``;
    another object is untouched (the canary)."""
    freed = rustyray.put([1, 2, 3])
    kept = rustyray.put([4])
    rustyray.free([freed])
    try:
        rustyray.get(freed)
    except rustyray.ObjectFreedError:
        return rustyray.get(kept)[0]
    raise RuntimeError("get of a freed object succeeded")


@rustyray.actor(snapshot=True)
class PyArchive:
    """A snapshot class whose state holds references."""

    def __init__(self):
        self.held = []

    def keep(self, refs):
        self.held.extend(refs)
        return len(self.held)

    def total(self):
        return sum(len(rustyray.get(r)) for r in self.held)

    def crash(self):
        os.abort()


@rustyray.remote
def py_snapshot_holding_object_refs():
    """The snapshot keeps the objects its state refers to; the actor restored after a
    crash reads them."""
    archive = PyArchive.options(max_restarts=1).remote()
    archive.keep.remote([rustyray.put(list(range(10)))]).get()
    try:
        archive.crash.remote().get()
    except rustyray.ActorDiedError:
        pass
    return archive.total.remote().get()


@rustyray.remote
def py_actor_deletion_handles_in_flight():
    """Ray's ``test_actor_deletion_handles_in_flight``: an actor whose only handle is
    inside an object stays alive while the object does (``actors.carry``)."""
    from rustyray import _api

    counter = PyCounter.remote(1)
    counter.incr.remote().get()
    stored = rustyray.put([counter])
    del counter
    back = _api.handle_from_id(rustyray.get(stored)[0])
    return back.incr.remote().get()


@rustyray.actor
class PySleeper:
    """The async actor of Ray's ``test_async_actor_cancel``: its methods wait on a task
    that never ends, and a cancel reaches them in that wait."""

    def __init__(self, started: PyCounter):
        self.started = started
        self.cancelled = 0
        self.after = 0

    def f(self):
        """Ray's ``f``: catches the cancel, works with the runtime again, returns True.
        It says it started without waiting for the answer: a cancel sent the moment the
        caller sees the count change would otherwise land in that wait, outside the
        ``try``."""
        self.started.incr.remote()
        try:
            rustyray.get(py_spin.remote())
        except rustyray.TaskCancelledError:
            self.cancelled += 1
            self.after = rustyray.get(rustyray.put(7))
            return True
        return False

    def g(self):
        """Does not catch the cancel: it propagates."""
        self.started.incr.remote()
        return rustyray.get(py_spin.remote())

    def seen(self):
        return [self.cancelled, self.after]


def _cancel_when_started(sleeper_call, started, before):
    ref = sleeper_call.remote()
    while started.get.remote().get() == before:
        pass
    rustyray.cancel(ref)
    try:
        rustyray.get(ref)
    except rustyray.TaskCancelledError:
        return
    raise RuntimeError("a cancelled call answered a value")


@rustyray.remote
def py_async_actor_cancel():
    """Ray's ``test_async_actor_cancel`` in Python: a running call cancelled at its wait
    raises ``TaskCancelledError`` in the method (which handles it and goes on) and gives
    the caller ``TaskCancelledError``; one that does not catch it propagates it; the actor
    lives on. Returns what ``seen`` says: ``[1, 7]``."""
    started = PyCounter.remote(0)
    sleeper = PySleeper.remote(started)
    _cancel_when_started(sleeper.f, started, 0)
    _cancel_when_started(sleeper.g, started, 1)
    return sleeper.seen.remote().get()


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


def _refused(call):
    """The name of the error ``call`` raised: ``InvalidArgumentError`` (which must also be
    a ``ValueError``, as Ray's), another class's name, or ``"ok"``."""
    try:
        call()
    except rustyray.InvalidArgumentError as err:
        if not isinstance(err, ValueError):
            return "not a ValueError"
        return "InvalidArgumentError"
    except Exception as err:  # noqa: BLE001  (any other class is a failure, named)
        return type(err).__name__
    return "ok"


@rustyray.remote
def py_wait_validation():
    """Ray's ``test_wait`` checks: the same object twice and ``num_returns`` of 0 or past
    the list are refused with ``ValueError`` (here ``InvalidArgumentError``); an empty list
    gives ``([], [])``; ``get`` of a list naming one object twice still answers (the
    canary)."""
    r = py_add.remote(1, 2)
    return [
        _refused(lambda: rustyray.wait([r, r])),
        _refused(lambda: rustyray.wait([r], num_returns=0)),
        _refused(lambda: rustyray.wait([r], num_returns=2)),
        _refused(lambda: rustyray.wait([r], num_returns=-1)),
        list(rustyray.wait([])) == [[], []],
        rustyray.get([r, r], timeout=30),
        len(rustyray.wait([r, py_add.remote(2, 2)], num_returns=2, timeout=30)[0]),
    ]


@rustyray.remote(num_returns=3)
def py_three():
    return 1, "two", [3]


@rustyray.remote(num_returns=0)
def py_none_returned(counter: PyCounter):
    counter.incr.remote().get()


@rustyray.actor
class PyPair:
    def __init__(self, v):
        self.v = v

    @rustyray.method(num_returns=2)
    def pair(self):
        return self.v, self.v + 1

    def triple(self):
        return [self.v, self.v, self.v]


@rustyray.remote
def py_num_returns():
    """Ray's ``test_multiple_return_values`` family: ``num_returns=k`` gives k refs, 1 the
    whole tuple in one, 0 ``None`` (the task still runs); a result of another length fails
    every ref; ``@rustyray.method(num_returns=2)`` and ``.options(num_returns=k)`` on actor
    methods; a bad ``num_returns`` is refused."""
    a, b, c = py_three.remote()
    out = [rustyray.get(a), rustyray.get(b), rustyray.get(c)]
    out.append(rustyray.get(py_three.options(num_returns=1).remote()))
    counter = PyCounter.remote(0)
    out.append(py_none_returned.remote(counter) is None)
    while counter.get.remote().get() == 0:
        pass
    mismatch = py_three.options(num_returns=2).remote()
    out.append([_refused(lambda ref=ref: rustyray.get(ref)) for ref in mismatch])
    pair = PyPair.remote(10)
    first, second = pair.pair.remote()
    out.append([first.get(), second.get()])
    out.append(rustyray.get(pair.triple.options(num_returns=3).remote()))
    out.append(rustyray.get(pair.pair.options(num_returns=1).remote()))
    out.append(_refused(lambda: py_three.options(num_returns=-1).remote()))
    out.append(_refused(lambda: pair.pair.options(num_returns="dynamic").remote()))
    return out


@rustyray.remote
def py_options_refused():
    """Ray's ``ValueError`` for actor options out of range, as ``InvalidArgumentError``:
    checked by the SDK first, and the host's own refusal (reached by going past the SDK's
    checks) has the same type, not ``RaySystemError``. A valid creation still works."""
    from rustyray import _api

    out = [
        _refused(lambda: PyCounter.options(name="").remote(0)),
        _refused(lambda: PyCounter.options(get_if_exists=True).remote(0)),
        _refused(lambda: PyCounter.options(max_task_retries=1).remote(0)),
        _refused(lambda: PyCounter.options(max_pending_calls=0).remote(0)),
        _refused(lambda: PyCounter.options(max_restarts=-2).remote(0)),
        _refused(lambda: py_add.options(max_retries=-2).remote(1, 2)),
        _refused(lambda: _api._runtime().create_actor("PyCounter", _api._lower([0]), {"name": ""})),
        _refused(
            lambda: _api._runtime().create_actor(
                "PyCounter", _api._lower([0]), {"max_task_retries": 2}
            )
        ),
    ]
    out.append(PyCounter.options(name="py-valid").remote(5).incr.remote().get())
    return out


@rustyray.remote
def py_trap_until(counter: PyCounter, times):
    """Traps (aborts its instance) on its first ``times`` runs, counted by ``counter``."""
    if counter.incr.remote().get() <= times:
        os.abort()
    return counter.get.remote().get()


@rustyray.actor
class PyCrashy:
    """Aborts in ``work`` until ``counter`` has counted ``times`` calls: each abort
    restarts the actor, and the call is retried on it."""

    def __init__(self, counter: PyCounter, times):
        self.counter = counter
        self.times = times

    def work(self):
        if self.counter.incr.remote().get() <= self.times:
            os.abort()
        return self.counter.get.remote().get()


@rustyray.remote
def py_unlimited_retries():
    """Ray's ``max_retries=-1`` and ``max_restarts=-1, max_task_retries=-1``: no bound.
    A task trapping 5 times (past the default 3) succeeds on its 6th run; an actor call
    trapping 5 times is retried on 5 restarts and answers; with the default retries the
    same task fails (the canary)."""
    runs = PyCounter.remote(0)
    task = py_trap_until.options(max_retries=-1).remote(runs, 5)
    calls = PyCounter.remote(0)
    crashy = PyCrashy.options(max_restarts=-1, max_task_retries=-1).remote(calls, 5)
    out = [rustyray.get(task), crashy.work.remote().get()]
    bounded = PyCounter.remote(0)
    out.append(_refused(lambda: rustyray.get(py_trap_until.remote(bounded, 5))))
    return out


@rustyray.main
def main(args):
    """`--lifetimes`: a named actor that ends with this program, and a detached one
    (Ray's ``lifetime="detached"``) that outlives it."""
    if args and args[0] == "--lifetimes":
        attached = PyCounter.options(name="py-attached").remote(0)
        kept = PyCounter.options(name="py-kept", lifetime="detached").remote(10)
        print(rustyray.get([attached.incr.remote(), kept.incr.remote()]))
    return 0
