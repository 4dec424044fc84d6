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

rustyray.main((args) => {
  console.log(`js main ${args.join(" ")}`);
  return args.length;
});
