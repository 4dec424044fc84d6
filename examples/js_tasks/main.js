// Tasks in JavaScript: a parallel map, a chain of dependent tasks, a fan-in tree, an
// actor, and an error that keeps its type and stack.
//
//     rustyray run examples/js_tasks -- 20

import * as rustyray from "rustyray";

const square = rustyray.remote(function square(x) {
  return x * x;
});

const add = rustyray.remote(function add(a, b) {
  return a + b;
});

const total = rustyray.remote(function total(...values) {
  return values.reduce((sum, v) => sum + v, 0);
});

// Structured values cross as MessagePack: objects, arrays, strings, numbers, bytes.
const norm = rustyray.remote("norm", (point) => ({
  name: point.name,
  norm: Math.hypot(point.x, point.y),
}));

const parse = rustyray.remote(function parse(text) {
  const n = Number.parseInt(text, 10);
  if (Number.isNaN(n)) throw new RangeError(`not a number: ${JSON.stringify(text)}`);
  return n;
});

// An actor: its own sandboxed instance, whose state lives between calls.
class Counter {
  constructor(start) {
    this.value = start;
  }
  incr(by = 1) {
    this.value += by;
    return this.value;
  }
  get() {
    return this.value;
  }
}
const CounterActor = rustyray.actor(Counter);

rustyray.main((args) => {
  const n = args.length ? Number(args[0]) : 10;

  // Map: n tasks at once, each in a fresh sandboxed instance.
  const squares = [...Array(n).keys()].map((i) => square.remote(i));
  console.log(`squares: ${JSON.stringify(rustyray.get(squares))}`);

  // Chain: each task waits for the previous one's result.
  let ref = rustyray.put(0);
  for (let i = 0; i < n; i++) ref = add.remote(ref, i);
  console.log(`chain sum: ${rustyray.get(ref)}`);

  // Fan-in: a tree of adds over the squares, then one total.
  let level = squares;
  while (level.length > 1) {
    const next = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(add.remote(level[i], level[i + 1]));
    if (level.length % 2) next.push(level[level.length - 1]);
    level = next;
  }
  console.log(`tree sum: ${rustyray.get(level[0])} = ${rustyray.get(total.remote(...squares))}`);

  console.log(`structured: ${JSON.stringify(rustyray.get(norm.remote({ name: "p", x: 3, y: 4 })))}`);

  // An actor: calls run one at a time, in order.
  const counter = CounterActor.remote(10);
  const calls = [1, 2, 3].map((by) => counter.incr.remote(by));
  console.log(`counter: ${JSON.stringify(rustyray.get(calls))} -> ${rustyray.get(counter.get.remote())}`);

  // Errors carry the JavaScript error's name, message and stack.
  try {
    rustyray.get(parse.remote("forty-two"));
  } catch (err) {
    console.log(`error: ${err.name} - ${err.causeName}: ${err.causeMessage}`);
    console.log(`  thrown at: ${err.causeStack.split("\n")[1].trim()}`);
  }

  const [ready, notReady] = rustyray.wait(squares, { numReturns: squares.length, timeout: 5 });
  console.log(`wait: ${ready.length} ready, ${notReady.length} pending`);
  return 0;
});
