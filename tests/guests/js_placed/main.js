// Placement options of JavaScript actors and tasks in a cluster (tests/all/cluster_actors.rs).
//
// One step per run, named by the first argument; each prints what it saw:
//
// - `place NAME RES`: a detached `Spot` named NAME asking `resources: {RES: 1}`, called
//   once (`count=1`).
// - `place-on NAME NODE`: a detached `Spot` named NAME with `schedulingStrategy: new
//   NodeAffinitySchedulingStrategy(NODE)`, called once.
// - `refuse RES`: bad options refused with their reason (`refused=...`), and a `Spot`
//   asking for RES, which no node has (`error=...`).
// - `tasks RES NODE N`: N tasks `square(i)` asking `resources: {RES: 1}`, N with
//   `schedulingStrategy: new NodeAffinitySchedulingStrategy(NODE)` (two results each,
//   `numReturns: 2`), one asking for a resource no node has, a list of N references to
//   objects it put read by a task `sum_refs` on NODE (`tasks refs=S`) and by a `Spot`
//   placed on NODE, which keeps them and returns a list holding a reference to an
//   object it put there (`tasks actor-refs=S actor-returned=V`), and bad task options;
//   prints `tasks resource=S node=S pair=P missing=<class>: <message>` and one
//   `task-refused=...` per bad option.

import * as rustyray from "rustyray";

class JsSpot {
  constructor() {
    this.count = 0;
  }
  bump() {
    this.count += 1;
    return this.count;
  }
  // A list of references, read here and kept.
  total(refs) {
    this.kept = refs;
    return refs.reduce((total, r) => total + rustyray.get(r), 0);
  }
  // A list holding a reference to `value`, put here.
  stash(value) {
    return [rustyray.put(value)];
  }
}
const Spot = rustyray.actor(JsSpot, { name: "Spot" });
const square = rustyray.remote(function square(i) {
  return i * i;
});
const squarePair = rustyray.remote(function square_pair(i) {
  return [i * i, i];
}, { numReturns: 2 });
// A list of references (nested: not resolved before the call), read here.
const sumRefs = rustyray.remote(function sum_refs(refs) {
  return refs.reduce((total, r) => total + rustyray.get(r), 0);
});

rustyray.main((args) => {
  const step = args[0];
  if (step === "place") {
    const spot = Spot.options({ name: args[1], lifetime: "detached", resources: { [args[2]]: 1 } }).remote();
    console.log(`count=${rustyray.get(spot.bump.remote())}`);
  } else if (step === "place-on") {
    const schedulingStrategy = new rustyray.NodeAffinitySchedulingStrategy(args[2], false);
    const spot = Spot.options({ name: args[1], lifetime: "detached", schedulingStrategy }).remote();
    console.log(`count=${rustyray.get(spot.bump.remote())}`);
  } else if (step === "refuse") {
    const bad = [
      () => Spot.options({ resources: { gpu: -1 } }),
      () => Spot.options({ resources: ["gpu"] }),
      () => Spot.options({ schedulingStrategy: "SPREAD" }),
      () => new rustyray.NodeAffinitySchedulingStrategy("node_x", true),
    ];
    for (const attempt of bad) {
      try {
        attempt();
        console.log("refused=no");
      } catch (err) {
        console.log(`refused=${err.name}: ${err.message}`);
      }
    }
    try {
      Spot.options({ resources: { [args[1]]: 1 } }).remote();
      console.log("error=none");
    } catch (err) {
      console.log(`error=${err.message}`);
    }
  } else if (step === "tasks") {
    const [resource, node, n] = [args[1], args[2], Number(args[3])];
    const byResource = [];
    const pairs = [];
    const pinned = squarePair.options({ schedulingStrategy: new rustyray.NodeAffinitySchedulingStrategy(node) });
    for (let i = 0; i < n; i++) {
      byResource.push(square.options({ resources: { [resource]: 1 } }).remote(i));
      pairs.push(pinned.remote(i));
    }
    let missing = "ran";
    try {
      rustyray.get(square.options({ resources: { nosuch: 1 } }).remote(1));
    } catch (err) {
      missing = `${err.name}: ${err.message}`;
    }
    const sum = (refs) => refs.reduce((total, r) => total + rustyray.get(r), 0);
    console.log(
      `tasks resource=${sum(byResource)} node=${sum(pairs.map(([s]) => s))} pair=${sum(pairs.map(([, i]) => i))} missing=${missing}`,
    );
    // References inside a value to a task on NODE: read there, from the driver's node.
    const refs = [];
    for (let i = 0; i < n; i++) refs.push(rustyray.put(i * 10));
    const pinnedSum = sumRefs.options({ schedulingStrategy: new rustyray.NodeAffinitySchedulingStrategy(node) });
    console.log(`tasks refs=${rustyray.get(pinnedSum.remote(refs))}`);
    // And to an actor placed on NODE, which returns a reference to its own object.
    const keeper = Spot.options({ schedulingStrategy: new rustyray.NodeAffinitySchedulingStrategy(node) }).remote();
    const total = rustyray.get(keeper.total.remote(refs));
    const [back] = rustyray.get(keeper.stash.remote(7));
    console.log(`tasks actor-refs=${total} actor-returned=${rustyray.get(back)}`);
    const bad = [
      () => square.options({ resources: { gpu: -1 } }),
      () => square.options({ resources: ["gpu"] }),
      () => square.options({ schedulingStrategy: "SPREAD" }),
    ];
    for (const attempt of bad) {
      try {
        attempt();
        console.log("task-refused=no");
      } catch (err) {
        console.log(`task-refused=${err.name}: ${err.message}`);
      }
    }
  } else {
    throw new RangeError(`unknown step ${step}`);
  }
  return 0;
});
