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
