// JavaScript fixtures for the integration tests (tests/all/js.rs).

import * as rustyray from "rustyray";
import { scale } from "./lib/scale.js";

let calls = 0;

rustyray.remote(function js_add(a, b) {
  return a + b;
});

function check(value) {
  throw new TypeError(`${value}`);
}

rustyray.remote(function js_fail(value) {
  return check(value);
});

// 1 on every call: each task runs in a fresh instance, module state starts over.
rustyray.remote(function js_fresh() {
  calls += 1;
  return calls;
});

// An object: a Rust caller reads it as its own struct.
rustyray.remote(function js_point(x, y) {
  return { x: scale(x, 1), y };
});

rustyray.remote(function js_sum(xs) {
  return xs.reduce((sum, x) => sum + x, 0);
});

const jsAdd = rustyray.function("js_add");

// Submits a nested task from inside a task.
rustyray.remote(function js_double_via(x) {
  return rustyray.get(jsAdd.remote(x, x));
});

// Calls the Rust task `rs_stats` (tests/guests/interop) by name; its struct arrives as
// an object and goes back to a Rust caller as the same struct.
rustyray.remote(function js_calls_rust(xs) {
  const stats = rustyray.get(rustyray.function("rs_stats").remote(xs));
  if (Object.keys(stats).sort().join() !== "count,mean") throw new Error(JSON.stringify(stats));
  return stats;
});

// Puts bytes and hands the reference to a Rust task, which reads `Vec<u8>`.
rustyray.remote(function js_passes_ref_to_rust(data) {
  if (!(data instanceof Uint8Array)) throw new TypeError("bytes arrive as a Uint8Array");
  const ref = rustyray.put(data);
  return rustyray.get(rustyray.function("rs_checksum").remote(ref));
});

// Creates the Rust actor `Counter` (tests/guests/actor_fixtures) by class name.
rustyray.remote(function js_drives_rust_counter(start, calls) {
  const counter = rustyray.actorClass("Counter").remote(start);
  for (let i = 1; i < calls; i++) counter.increment.tell();
  return rustyray.get(counter.increment.remote());
});

// What the sandbox leaves a task: no process, no require, no file or network access.
rustyray.remote(function js_globals() {
  return [typeof globalThis.process, typeof globalThis.require, typeof globalThis.Deno];
});

rustyray.remote(async function js_fetch(url) {
  try {
    const response = await fetch(url);
    return `reached: ${response.status} ${await response.text()}`;
  } catch (err) {
    return `refused: ${err.name}: ${err.message}`;
  }
});

rustyray.remote(function js_spin() {
  for (;;) {
    // an endless loop: the task's deadline ends it
  }
});

class JsCounter {
  constructor(start) {
    this.value = start;
  }
  incr() {
    this.value += 1;
    return this.value;
  }
  get() {
    return this.value;
  }
  fail() {
    throw new RangeError(`JsCounter.fail at ${this.value}`);
  }
}
const Counter = rustyray.actor(JsCounter, { snapshot: true });

// A JavaScript actor created and called from a JavaScript task.
rustyray.remote(function js_counter_via(start, n) {
  const counter = Counter.remote(start);
  for (let i = 1; i < n; i++) counter.incr.tell();
  return rustyray.get(counter.incr.remote());
});

// --- references inside values, free, handles in values (Ray's borrowing) ---------------

// Returns a reference inside a value (Ray's returned object refs).
const jsLoad = rustyray.remote(function js_load(n) {
  return { name: `s${n}`, data: rustyray.put([...Array(n).keys()]) };
});

// Gets the references nested in `shards` (they arrive as ObjectRefs, not values).
const jsTotalNested = rustyray.remote(function js_total_nested(shards) {
  if (!shards.every((s) => s.data instanceof rustyray.ObjectRef)) {
    throw new TypeError("a nested reference arrived resolved");
  }
  return shards.reduce((sum, s) => sum + rustyray.get(s.data).length, 0);
});

// Ray's `test_basic_nested_ids`: references nested in an argument travel as references,
// returned ones too, and stay alive while held.
rustyray.remote(function js_basic_nested_ids() {
  const shards = rustyray.get([3, 4, 5].map((n) => jsLoad.remote(n)));
  return rustyray.get(jsTotalNested.remote(shards));
});

// Ray's `test_internal_free`: a freed object's `get` throws ObjectFreedError, as does a
// task given it; another object is untouched (the canary).
rustyray.remote(function js_internal_free() {
  const freed = rustyray.put([1, 2, 3]);
  const kept = rustyray.put([4]);
  rustyray.free([freed]);
  for (const read of [() => rustyray.get(freed), () => rustyray.get(jsAdd.remote(freed, 1))]) {
    try {
      read();
    } catch (err) {
      if (err instanceof rustyray.ObjectFreedError || err instanceof rustyray.DependencyFailedError) continue;
      throw err;
    }
    throw new Error("a freed object was read");
  }
  return rustyray.get(kept)[0];
});

// An actor whose state holds references given to it inside a value.
class JsArchive {
  constructor() {
    this.held = [];
  }
  keep(refs) {
    this.held.push(...refs);
    return this.held.length;
  }
  total() {
    return this.held.reduce((sum, r) => sum + rustyray.get(r).length, 0);
  }
}
const Archive = rustyray.actor(JsArchive);

// Ray's `test_actor_holding_serialized_reference`: the actor keeps the object after the
// task that put it (and held the only other reference) has ended.
const jsKeepIn = rustyray.remote(function js_keep_in(archive) {
  const handle = rustyray.ActorHandle.fromId(archive);
  return rustyray.get(handle.keep.remote([rustyray.put([...Array(10).keys()])]));
});

rustyray.remote(function js_actor_holding_serialized_reference() {
  const archive = Archive.remote();
  rustyray.get(jsKeepIn.remote(archive));
  return rustyray.get(archive.total.remote());
});

// Creates a counter, bumps it once and returns its handle inside a value: this task's
// own handle dies with its instance, so only the result keeps the actor.
const jsMakeCounter = rustyray.remote(function js_make_counter() {
  const counter = Counter.remote(1);
  rustyray.get(counter.incr.remote());
  return [counter];
});

// Ray's `test_actor_deletion_handles_in_flight`: an actor whose only handle is inside a
// task's result stays alive while that result does (`actors.carry`).
rustyray.remote(function js_actor_deletion_handles_in_flight() {
  const [id] = rustyray.get(jsMakeCounter.remote());
  const back = rustyray.ActorHandle.fromId(id);
  return rustyray.get(back.incr.remote());
});

// --- validation, numReturns, -1 counts (Ray's ValueError, num_returns, max_retries=-1) --

// The name of the error `fn` throws: "InvalidArgumentError", another class's name, or "ok".
function refused(fn) {
  try {
    fn();
  } catch (err) {
    return err instanceof rustyray.InvalidArgumentError ? "InvalidArgumentError" : err.name;
  }
  return "ok";
}

// Ray's `test_wait` checks: the same object twice and numReturns of 0, -1 or past the
// array are refused; an empty array gives [[], []]; `get` of an array naming one object
// twice (with a timeout, which waits underneath) still answers (the canary).
rustyray.remote(function js_wait_validation() {
  const r = jsAdd.remote(1, 2);
  return [
    refused(() => rustyray.wait([r, r])),
    refused(() => rustyray.wait([r], { numReturns: 0 })),
    refused(() => rustyray.wait([r], { numReturns: 2 })),
    refused(() => rustyray.wait([r], { numReturns: -1 })),
    JSON.stringify(rustyray.wait([])) === "[[],[]]",
    rustyray.get([r, r], { timeout: 30 }),
    rustyray.wait([r, jsAdd.remote(2, 2)], { numReturns: 2, timeout: 30 })[0].length,
  ];
});

const jsThree = rustyray.remote(function js_three() {
  return [1, "two", [3]];
}, { numReturns: 3 });

const jsNoneReturned = rustyray.remote(function js_none_returned(counterId) {
  rustyray.get(rustyray.ActorHandle.fromId(counterId).incr.remote());
}, { numReturns: 0 });

class JsPair {
  constructor(v) {
    this.v = v;
  }
  pair() {
    return [this.v, this.v + 1];
  }
  triple() {
    return [this.v, this.v, this.v];
  }
}
const Pair = rustyray.actor(JsPair, { numReturns: { pair: 2 } });

// Ray's `test_multiple_return_values` family: numReturns k gives k refs, 1 the whole
// array in one, 0 undefined (the task still runs); a result of another length fails every
// ref; per-method numReturns and `.options({numReturns})` on actor methods; a bad
// numReturns is refused.
rustyray.remote(function js_num_returns() {
  const [a, b, c] = jsThree.remote();
  const out = [rustyray.get(a), rustyray.get(b), rustyray.get(c)];
  out.push(rustyray.get(jsThree.options({ numReturns: 1 }).remote()));
  const counter = Counter.remote(0);
  out.push(jsNoneReturned.remote(counter) === undefined);
  while (rustyray.get(counter.get.remote()) === 0) {
    // the task runs although it returned no reference
  }
  out.push(jsThree.options({ numReturns: 2 }).remote().map((ref) => refused(() => rustyray.get(ref))));
  const pair = Pair.remote(10);
  const [first, second] = pair.pair.remote();
  out.push([rustyray.get(first), rustyray.get(second)]);
  out.push(rustyray.get(pair.triple.options({ numReturns: 3 }).remote()));
  out.push(rustyray.get(pair.pair.options({ numReturns: 1 }).remote()));
  out.push(refused(() => jsThree.options({ numReturns: -1 }).remote()));
  out.push(refused(() => pair.pair.options({ numReturns: "dynamic" }).remote()));
  return out;
});

// Actor options Ray refuses with ValueError are InvalidArgumentError, not RaySystemError.
rustyray.remote(function js_options_refused() {
  const out = [
    refused(() => Counter.options({ name: "" }).remote(0)),
    refused(() => Counter.options({ getIfExists: true }).remote(0)),
    refused(() => Counter.options({ maxTaskRetries: 1 }).remote(0)),
    refused(() => Counter.options({ maxPendingCalls: 0 }).remote(0)),
    refused(() => Counter.options({ maxRestarts: -2 }).remote(0)),
    refused(() => jsAdd.options({ maxRetries: -2 }).remote(1, 2)),
  ];
  out.push(rustyray.get(Counter.options({ name: "js-valid" }).remote(5).incr.remote()));
  return out;
});

// Fails (throws) on its first `times` runs, counted by the counter actor.
const jsFailUntil = rustyray.remote(function js_fail_until(counterId, times) {
  const counter = rustyray.ActorHandle.fromId(counterId);
  const run = rustyray.get(counter.incr.remote());
  if (run <= times) throw new RangeError(`run ${run}`);
  return run;
});

// Ray's max_retries=-1: no bound. A task failing 5 times (past the default 3), retried on
// its errors, succeeds on its 6th run; the same with the default retries fails (the
// canary); an actor takes maxRestarts: -1 with maxTaskRetries: -1.
rustyray.remote(function js_unlimited_retries() {
  const runs = Counter.remote(0);
  const out = [rustyray.get(jsFailUntil.options({ maxRetries: -1, retryExceptions: true }).remote(runs, 5))];
  const bounded = Counter.remote(0);
  out.push(refused(() => rustyray.get(jsFailUntil.options({ retryExceptions: true }).remote(bounded, 5))));
  out.push(rustyray.get(bounded.get.remote()));
  const kept = Counter.options({ maxRestarts: -1, maxTaskRetries: -1 }).remote(1);
  out.push(rustyray.get(kept.incr.remote()));
  return out;
});

// Ray's kill(actor, no_restart=False): the instance dies, the actor restarts from its
// snapshot (2, not its constructor's 1); then kill() ends it for good.
rustyray.remote(function js_kill_restart() {
  const kept = Counter.options({ maxRestarts: 1 }).remote(1);
  rustyray.get(kept.incr.remote());
  rustyray.kill(kept, { noRestart: false });
  const out = [rustyray.get(kept.incr.remote())];
  rustyray.kill(kept);
  out.push(refused(() => rustyray.get(kept.get.remote())));
  return out;
});

rustyray.main((args) => {
  console.log(`js main ${args.join(" ")}`);
  return args.length;
});
