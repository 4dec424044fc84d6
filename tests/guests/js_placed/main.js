// Placement options of JavaScript actors in a cluster (tests/all/cluster_actors.rs).
//
// One step per run, named by the first argument; each prints what it saw:
//
// - `place NAME RES`: a detached `Spot` named NAME asking `resources: {RES: 1}`, called
//   once (`count=1`).
// - `place-on NAME NODE`: a detached `Spot` named NAME with `schedulingStrategy: new
//   NodeAffinitySchedulingStrategy(NODE)`, called once.
// - `refuse RES`: bad options refused with their reason (`refused=...`), and a `Spot`
//   asking for RES, which no node has (`error=...`).

import * as rustyray from "rustyray";

class JsSpot {
  constructor() {
    this.count = 0;
  }
  bump() {
    this.count += 1;
    return this.count;
  }
}
const Spot = rustyray.actor(JsSpot, { name: "Spot" });

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
  } else {
    throw new RangeError(`unknown step ${step}`);
  }
  return 0;
});
