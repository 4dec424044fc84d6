"""Placement options of Python actors in a cluster (tests/all/cluster_actors.rs).

One step per run, named by the first argument; each prints what it saw:

- ``place NAME RES``: a detached ``Spot`` named NAME asking ``resources={RES: 1}``,
  called once (``count=1``).
- ``place-on NAME NODE``: a detached ``Spot`` named NAME with
  ``scheduling_strategy=NodeAffinitySchedulingStrategy(NODE)``, called once.
- ``refuse RES``: bad options refused with their reason (``refused=...``), and a
  ``Spot`` asking for RES, which no node has (``error=...``).
"""

import rustyray


@rustyray.actor
class Spot:
    def __init__(self):
        self.count = 0

    def bump(self):
        self.count += 1
        return self.count


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
    else:
        raise ValueError(f"unknown step {step}")
