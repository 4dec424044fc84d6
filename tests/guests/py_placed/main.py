"""Placement options of Python actors and tasks in a cluster (tests/all/cluster_actors.rs).

One step per run, named by the first argument; each prints what it saw:

- ``place NAME RES``: a detached ``Spot`` named NAME asking ``resources={RES: 1}``,
  called once (``count=1``).
- ``place-on NAME NODE``: a detached ``Spot`` named NAME with
  ``scheduling_strategy=NodeAffinitySchedulingStrategy(NODE)``, called once.
- ``refuse RES``: bad options refused with their reason (``refused=...``), and a
  ``Spot`` asking for RES, which no node has (``error=...``).
- ``tasks RES NODE N``: N tasks ``square(i)`` asking ``resources={RES: 1}``, N with
  ``scheduling_strategy=NodeAffinitySchedulingStrategy(NODE)`` (two results each,
  ``num_returns=2``), one asking for a resource no node has, a list of N references
  to objects it put read by a task ``sum_refs`` on NODE (``tasks refs=S``) and by a
  ``Spot`` placed on NODE, which keeps them and returns a list holding a reference to
  an object it put there (``tasks actor-refs=S actor-returned=V``), and bad task
  options;
  prints ``tasks resource=S node=S pair=P missing=<class>: <message>`` and one
  ``task-refused=...`` per bad option.
"""

import rustyray


@rustyray.actor
class Spot:
    def __init__(self):
        self.count = 0

    def bump(self):
        self.count += 1
        return self.count

    def total(self, refs):
        # A list of references, read here and kept.
        self.kept = refs
        return sum(rustyray.get(r) for r in refs)

    def stash(self, value):
        # A list holding a reference to `value`, put here.
        return [rustyray.put(value)]


@rustyray.remote
def square(i):
    return i * i


@rustyray.remote(num_returns=2)
def square_pair(i):
    return i * i, i


@rustyray.remote
def sum_refs(refs):
    # A list of references (nested: not resolved before the call), read here.
    return sum(rustyray.get(r) for r in refs)


@rustyray.main
def main(args):
    step = args[0]
    if step == "place":
        spot = Spot.options(name=args[1], lifetime="detached", resources={args[2]: 1}).remote()
        print(f"count={rustyray.get(spot.bump.remote())}")
    elif step == "place-on":
        strategy = rustyray.NodeAffinitySchedulingStrategy(args[2], soft=False)
        spot = Spot.options(name=args[1], lifetime="detached", scheduling_strategy=strategy).remote()
        print(f"count={rustyray.get(spot.bump.remote())}")
    elif step == "refuse":
        for bad in (
            lambda: Spot.options(resources={"gpu": -1}),
            lambda: Spot.options(resources=["gpu"]),
            lambda: Spot.options(scheduling_strategy="SPREAD"),
            lambda: rustyray.NodeAffinitySchedulingStrategy("node_x", soft=True),
        ):
            try:
                bad()
                print("refused=no")
            except (TypeError, ValueError) as err:
                print(f"refused={type(err).__name__}: {err}")
        try:
            Spot.options(resources={args[1]: 1}).remote()
            print("error=none")
        except rustyray.RayError as err:
            print(f"error={err}")
    elif step == "tasks":
        resource, node, n = args[1], args[2], int(args[3])
        by_resource = [square.options(resources={resource: 1}).remote(i) for i in range(n)]
        strategy = rustyray.NodeAffinitySchedulingStrategy(node)
        pinned = square_pair.options(scheduling_strategy=strategy)
        pairs = [pinned.remote(i) for i in range(n)]
        missing = square.options(resources={"nosuch": 1}).remote(1)
        try:
            rustyray.get(missing)
            missing = "ran"
        except rustyray.InvalidArgumentError as err:
            missing = f"{type(err).__name__}: {err}"
        squares = sum(rustyray.get(r) for r in by_resource)
        pinned_squares = sum(rustyray.get(s) for s, _ in pairs)
        pinned_is = sum(rustyray.get(i) for _, i in pairs)
        print(f"tasks resource={squares} node={pinned_squares} pair={pinned_is} missing={missing}")
        # References inside a value to a task on NODE: read there, from the driver's node.
        refs = [rustyray.put(i * 10) for i in range(n)]
        print(f"tasks refs={rustyray.get(sum_refs.options(scheduling_strategy=strategy).remote(refs))}")
        # And to an actor placed on NODE, which returns a reference to its own object.
        keeper = Spot.options(scheduling_strategy=strategy).remote()
        total = rustyray.get(keeper.total.remote(refs))
        (back,) = rustyray.get(keeper.stash.remote(7))
        print(f"tasks actor-refs={total} actor-returned={rustyray.get(back)}")
        for bad in (
            lambda: square.options(resources={"gpu": -1}),
            lambda: square.options(resources=["gpu"]),
            lambda: square.options(scheduling_strategy="SPREAD"),
        ):
            try:
                bad()
                print("task-refused=no")
            except (TypeError, ValueError) as err:
                print(f"task-refused={type(err).__name__}: {err}")
    else:
        raise ValueError(f"unknown step {step}")
