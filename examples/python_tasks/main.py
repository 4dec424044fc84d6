"""Tasks in Python: a parallel map, a chain of dependent tasks, a fan-in tree.

    rustyray run examples/python_tasks -- 20
"""

import rustyray


@rustyray.remote
def square(x):
    return x * x


@rustyray.remote
def add(a, b):
    return a + b


@rustyray.remote
def total(*values):
    return sum(values)


@rustyray.remote
def describe(point):
    # Structured values cross as MessagePack: dicts, lists, strings, numbers, bytes.
    return {"name": point["name"], "norm": (point["x"] ** 2 + point["y"] ** 2) ** 0.5}


@rustyray.remote
def parse(text):
    return int(text)  # raises ValueError on bad input


@rustyray.main
def main(args):
    n = int(args[0]) if args else 10

    # Map: n tasks at once, each in a fresh sandboxed instance.
    squares = [square.remote(i) for i in range(n)]
    print("squares:", rustyray.get(squares))

    # Chain: each task waits for the previous one's result.
    ref = rustyray.put(0)
    for i in range(n):
        ref = add.remote(ref, i)
    print("chain sum:", rustyray.get(ref))

    # Fan-in: a tree of adds over the squares, then one total.
    level = squares
    while len(level) > 1:
        pairs = [add.remote(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        level = pairs + (level[-1:] if len(level) % 2 else [])
    print("tree sum:", rustyray.get(level[0]), "=", rustyray.get(total.remote(*squares)))

    print("structured:", rustyray.get(describe.remote({"name": "p", "x": 3.0, "y": 4.0})))

    # Errors carry the Python exception type and traceback.
    try:
        rustyray.get(parse.remote("forty-two"))
    except ValueError as err:  # a RayTaskError that is also a ValueError
        print("error:", type(err).__name__, "-", err.cause_message)

    ready, not_ready = rustyray.wait(squares, num_returns=len(squares), timeout=5)
    print(f"wait: {len(ready)} ready, {len(not_ready)} pending")
    return 0
