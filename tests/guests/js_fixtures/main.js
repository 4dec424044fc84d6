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

rustyray.main((args) => {
  console.log(`js main ${args.join(" ")}`);
  return args.length;
});
