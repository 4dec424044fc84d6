// rustyray for JavaScript guests: Ray's tasks, actors and objects, each task in a fresh
// sandboxed WebAssembly instance.
//
//     import * as rustyray from "rustyray";
//
//     const add = rustyray.remote(function add(a, b) { return a + b; });
//
//     rustyray.main(() => {
//       const ref = add.remote(1, 2);                      // an ObjectRef, runs in parallel
//       console.log(rustyray.get(add.remote(ref, 10)));     // 13
//     });
//
// Build and run with `rustyray run DIR` (DIR holds main.js). The program's top level runs
// once, at build time (componentize-js pre-initializes the engine): every task starts
// from that snapshot, so registrations cost a task nothing. Values cross as MessagePack:
// null, booleans, numbers, BigInt, strings, Uint8Array (bytes), arrays, Maps and plain
// objects; Rust structs arrive as objects keyed by field name.

import * as wit from "./wit.js";
import * as errors from "./errors.js";

export {
  RayError,
  RayTaskError,
  WorkerCrashedError,
  TaskCancelledError,
  TaskTimeoutError,
  GetTimeoutError,
  DependencyFailedError,
  FunctionNotFoundError,
  BadArgumentsError,
  InvalidModuleError,
  ActorDiedError,
  InvalidArgumentError,
  RaySystemError,
  LimitExceededError,
  PendingCallsLimitExceededError,
  ObjectFreedError,
  ObjectLostError,
  ObjectEncodeError,
  ObjectDecodeError,
} from "./errors.js";

// name -> RemoteFunction; name -> ActorClass; the main function; the driver's arguments.
export const FUNCTIONS = new Map();
export const ACTORS = new Map();
export const MAIN = [];
export const ARGS = [];

// --- values ---------------------------------------------------------------------------

/// How values MessagePack has no type for cross (every value encoded here is handed to
/// the host): an ObjectRef as the reference (extension 82; the object stays alive while
/// the value does), an actor handle as its id `[node, hi, lo]` (as Rust's and Python's
/// do; the actor stays alive while the value does).
export function replace(value) {
  if (value instanceof ActorHandle) {
    wit.carry([value._handle]);
    return value.id();
  }
  if (value instanceof ObjectRef) {
    if (!value._handle) throw new errors.ObjectEncodeError("this ObjectRef was released");
    return wit.share(value._handle);
  }
  return value;
}

/// WIT task arguments: ObjectRefs as references (resolved to their values before the
/// task runs), everything else as a value.
function lower(args) {
  return args.map((arg) => (arg instanceof ObjectRef ? wit.objectArg(arg._handle) : wit.valueArg(arg, replace)));
}

function seconds(value, what) {
  if (value == null) return null;
  if (typeof value !== "number" || !(value >= 0)) {
    throw new RangeError(`${what} must be a number of seconds >= 0, got ${value}`);
  }
  return Math.floor(value * 1000);
}

// --- objects --------------------------------------------------------------------------

/// A reference to an object in the store: a task's result, or a value put there.
/// `rustyray.get(ref)` waits for and returns its value; passing it to `.remote()` makes
/// the new task wait for it and receive its value.
export class ObjectRef {
  constructor(handle) {
    this._handle = handle;
  }

  /// The object's id: `[node, hi, lo]` (BigInts), the node that made it and 128 random bits.
  id() {
    return wit.idOf(this._handle);
  }

  /// `rustyray.get(this, options)`.
  get(options) {
    return get(this, options);
  }

  /// The stored form: `{encoding: "msgpack" | "raw", len}` (len a BigInt), waiting until
  /// the object is ready.
  size() {
    return wit.size(this._handle);
  }

  /// Up to `len` bytes of the object's stored data from `offset` (a Uint8Array): read a
  /// large object in pieces instead of copying all of it in.
  read(offset, len) {
    return wit.read(this._handle, offset, len);
  }

  /// Drops this reference now (the object is freed when no reference is left) instead of
  /// when the instance ends. For long-lived actors that hold many refs.
  release() {
    const dispose = this._handle && this._handle[Symbol.dispose || Symbol.for("dispose")];
    if (dispose) dispose.call(this._handle);
    this._handle = null;
  }

  toString() {
    return `ObjectRef(${this.id().join(":")})`;
  }
}

wit.refs.wrap = (handle) => new ObjectRef(handle);

/// Frees the objects (Ray's `ray._private.internal_api.free`): every later `get` of them,
/// by any holder, throws ObjectFreedError, as does a task that takes one as an argument;
/// their bytes are given back at once. Takes an ObjectRef or an array of them.
export function free(refs) {
  const list = refs instanceof ObjectRef ? [refs] : Array.from(refs);
  for (const ref of list) {
    if (!(ref instanceof ObjectRef)) throw new TypeError(`free() takes ObjectRefs, got ${describe(ref)}`);
  }
  const handles = list.filter((ref) => ref._handle).map((ref) => ref._handle);
  if (handles.length) wit.free(handles);
}

/// Stores `value` (MessagePack-encoded; a Uint8Array raw) and returns an ObjectRef to it.
export function put(value) {
  return new ObjectRef(wit.put(value, replace));
}

/// The value of an ObjectRef (or an array of them), waiting until it is ready.
/// Throws the task's error (RayTaskError for what it threw, with `causeName`,
/// `causeMessage` and `causeStack`; TaskCancelledError, WorkerCrashedError, ...) and
/// GetTimeoutError when `timeout` seconds pass first.
export function get(refs, { timeout } = {}) {
  if (refs instanceof ObjectRef) {
    if (timeout != null) waitOrThrow([refs], timeout);
    return wit.get(refs._handle);
  }
  if (Array.isArray(refs)) {
    for (const ref of refs) {
      if (!(ref instanceof ObjectRef)) throw new TypeError(`get() takes ObjectRefs, got ${describe(ref)}`);
    }
    if (timeout != null) waitOrThrow(refs, timeout);
    return refs.map((ref) => wit.get(ref._handle));
  }
  throw new TypeError(`get() takes an ObjectRef or an array of them, got ${describe(refs)}`);
}

function describe(value) {
  if (value === null) return "null";
  if (typeof value !== "object") return `a ${typeof value}`;
  return `a ${(value.constructor && value.constructor.name) || "object"}`;
}

function idKey(ref) {
  return ref.id().join(":");
}

function waitOrThrow(refs, timeout) {
  // Every distinct object (a list given to `get` may name one twice, which `wait`
  // refuses as Ray's does).
  const unique = [...new Map(refs.map((ref) => [idKey(ref), ref])).values()];
  if (!unique.length) return;
  const ready = wit.wait(
    unique.map((ref) => ref._handle),
    unique.length,
    seconds(timeout, "timeout"),
  );
  if (ready.length < unique.length) throw new errors.GetTimeoutError(`get timed out after ${timeout} s`);
}

/// Waits until `numReturns` (default 1) of `refs` are ready or `timeout` seconds pass;
/// returns `[ready, notReady]`, each in the order given (as Ray's `wait`). As Ray's: an
/// empty array gives `[[], []]`; the same object twice, or `numReturns` below 1 or above
/// `refs.length`, throws InvalidArgumentError.
export function wait(refs, { numReturns = 1, timeout } = {}) {
  if (refs instanceof ObjectRef) throw new TypeError("wait() takes an array of ObjectRefs, got a single ObjectRef: wait([ref])");
  refs = Array.from(refs);
  for (const ref of refs) {
    if (!(ref instanceof ObjectRef)) throw new TypeError(`wait() takes ObjectRefs, got ${describe(ref)}`);
  }
  if (!refs.length) return [[], []];
  if (new Set(refs.map(idKey)).size !== refs.length) {
    throw new errors.InvalidArgumentError("wait requires an array of unique object references: an object appears twice");
  }
  if (!Number.isInteger(numReturns) || numReturns < 1 || numReturns > refs.length) {
    throw new errors.InvalidArgumentError(
      `numReturns must be between 1 and the number of objects (${refs.length}), not ${String(numReturns)}`,
    );
  }
  const indexes = new Set(
    wit.wait(
      refs.map((ref) => ref._handle),
      numReturns,
      seconds(timeout, "timeout"),
    ),
  );
  return [refs.filter((_, i) => indexes.has(i)), refs.filter((_, i) => !indexes.has(i))];
}

/// Cancels the task that produces `ref`: a pending task never runs, a running one is
/// interrupted; its `get` throws TaskCancelledError. A finished task stays.
export function cancel(ref) {
  if (!(ref instanceof ObjectRef)) throw new TypeError(`cancel() takes an ObjectRef, got ${describe(ref)}`);
  wit.cancel(ref._handle);
}

/// The program's command-line arguments (`rustyray run DIR -- ARGS`); empty in a task.
export function args() {
  return [...ARGS];
}

// --- parameters -----------------------------------------------------------------------

/// The parameter list of a function's source text: `(a, b = 1)`, or `(...)` when it
/// cannot be told.
function parameterList(fn) {
  let text;
  try {
    text = Function.prototype.toString.call(fn);
  } catch {
    return "(...)";
  }
  const arrow = /^(?:async\s+)?([A-Za-z_$][\w$]*)\s*=>/.exec(text);
  if (arrow) return `(${arrow[1]})`;
  let open = text.indexOf("(");
  if (/^class\b/.test(text)) {
    // A class: its constructor's parameters (none written: none, or its base's).
    const ctor = /\bconstructor\s*\(/.exec(text);
    if (!ctor) return /^class\s+[\w$]*\s*extends\b/.test(text) ? "(...)" : "()";
    open = ctor.index + ctor[0].length - 1;
  }
  if (open < 0) return "(...)";
  let depth = 0;
  let quote = null;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'" || c === "`") {
      quote = c;
    } else if (c === "(" || c === "[" || c === "{") {
      depth++;
    } else if (c === ")" || c === "]" || c === "}") {
      depth--;
      if (depth === 0) return text.slice(open, i + 1).replace(/\s+/g, " ");
    }
  }
  return "(...)";
}

/// What a call needs to know of a function's parameters, worked out once when it is
/// registered (at build time, so it is in the snapshot every instance starts from).
class Params {
  constructor(name, fn) {
    this.name = name;
    this.min = fn ? fn.length : 0;
    this.signature = fn ? `${name}${parameterList(fn)}` : `${name}(...)`;
  }

  /// Why `count` arguments do not fit, or null. JavaScript lets a caller pass more
  /// arguments than a function names; fewer than its required ones is refused.
  check(count) {
    if (count < this.min) return `${this.name}() takes at least ${this.min} argument(s), got ${count}`;
    return null;
  }
}

// --- remote functions -----------------------------------------------------------------

const TASK_OPTIONS = ["timeout", "maxRetries", "retryExceptions", "numReturns", "resources", "schedulingStrategy"];

/// Ray's `num_returns`: an integer >= 0 (Ray's generators, "dynamic"/"streaming", are
/// not there).
function numReturnsOf(value) {
  if (!Number.isInteger(value) || value < 0) {
    throw new errors.InvalidArgumentError(
      `numReturns must be an integer >= 0 (generators, "dynamic"/"streaming", are not supported), not ${String(value)}`,
    );
  }
  return value;
}

/// What `.remote()` gives for `numReturns` objects, as Ray's: the ObjectRef for 1,
/// undefined for 0, else an array of them.
function returned(handles, numReturns) {
  if (numReturns === 0) return undefined;
  return handles.map((handle) => new ObjectRef(handle));
}

function checkOptions(given, allowed, what) {
  const unknown = Object.keys(given || {}).filter((key) => !allowed.includes(key));
  if (unknown.length) {
    throw new TypeError(`unknown ${what} option(s) ${unknown.join(", ")} (supported: ${allowed.join(", ")})`);
  }
}

/// A function made remote by `rustyray.remote`: `f.remote(...args)` submits it as a task
/// and returns an ObjectRef; `f(...args)` still calls it in place.
export function RemoteFunction() {
  throw new TypeError("use rustyray.remote(fn) or rustyray.function(name)");
}
Object.setPrototypeOf(RemoteFunction.prototype, Function.prototype);

function makeRemote(fn, name, options, params) {
  const remoteFunction = function (...callArgs) {
    if (!fn) throw new TypeError(`${name} is a remote function of another component: use .remote()`);
    return fn.apply(this, callArgs);
  };
  Object.setPrototypeOf(remoteFunction, RemoteFunction.prototype);
  Object.defineProperty(remoteFunction, "name", { value: name });
  remoteFunction._fn = fn;
  remoteFunction._name = name;
  remoteFunction._options = options;
  remoteFunction._params = params || new Params(name, fn);
  return remoteFunction;
}

/// A copy with task options: `timeout` (seconds; the task fails with TaskTimeoutError
/// past it), `maxRetries` (runs after a crash; default 3; -1: no bound),
/// `retryExceptions` (retry thrown errors too; an array of error classes retries those
/// only), `numReturns` (the result, an array of that many values, becomes that many
/// objects: `.remote()` gives an array of ObjectRefs, or undefined for 0), `resources`
/// (Ray's custom resources, `{gpu: 1}`: in a cluster it runs on a live node started with
/// them, the least loaded) and `schedulingStrategy` (`new
/// NodeAffinitySchedulingStrategy(nodeId)`: on that node). A task that asks where to run
/// is placed by the node its job's driver runs on; outside a cluster, or from inside a
/// task, the submission throws InvalidArgumentError, and when no live node fits, `get`
/// throws it naming what was missing.
RemoteFunction.prototype.options = function (options = {}) {
  checkOptions(options, TASK_OPTIONS, "task");
  return makeRemote(this._fn, this._name, { ...this._options, ...placementOptions(options) }, this._params);
};

/// Ray's `retryExceptions`: a boolean, or an array of error classes (or their names, for
/// errors of another component) whose throws alone are retried, matched by exact `name`.
/// `[retry, names]`.
function retryExceptions(value) {
  if (value === undefined || value === null) return [false, []];
  if (typeof value === "boolean") return [value, []];
  if (Array.isArray(value)) {
    const names = value.map((item) => {
      if (typeof item === "string") return item;
      if (typeof item === "function" && (item === Error || item.prototype instanceof Error)) return item.name;
      throw new TypeError("retryExceptions must be either a boolean or an array of error classes");
    });
    return [true, names];
  }
  throw new TypeError("retryExceptions must be either a boolean or an array of error classes");
}

/// Submits the task; its ObjectRef at once.
RemoteFunction.prototype.remote = function (...callArgs) {
  const why = this._params.check(callArgs.length);
  if (why) throw new errors.BadArgumentsError(why);
  const o = this._options;
  const [retry, retryTypes] = retryExceptions(o.retryExceptions);
  const numReturns = numReturnsOf(o.numReturns ?? 1);
  const timeoutMs = seconds(o.timeout, "timeout");
  if (Object.keys(o.resources ?? {}).length || (o.nodeId !== undefined && o.nodeId !== null)) {
    const handles = wit.submitPlaced(
      this._name,
      lower(callArgs),
      numReturns,
      o.resources ?? {},
      o.nodeId,
      timeoutMs,
      o.maxRetries,
      retry,
      retryTypes,
    );
    return numReturns === 1 ? new ObjectRef(handles[0]) : returned(handles, numReturns);
  }
  if (numReturns === 1) {
    return new ObjectRef(wit.submit(this._name, lower(callArgs), timeoutMs, o.maxRetries, retry, retryTypes));
  }
  const handles = wit.submitReturns(this._name, lower(callArgs), numReturns, timeoutMs, o.maxRetries, retry, retryTypes);
  return returned(handles, numReturns);
};

RemoteFunction.prototype.toString = function () {
  return `[rustyray remote function ${this._name}]`;
};

/// Makes `fn` a task: `rustyray.remote(fn)`, `rustyray.remote(fn, {name, timeout,
/// maxRetries, retryExceptions})` or `rustyray.remote("name", fn, options)`. The name is
/// what other components call it by; it defaults to `fn.name`, so an anonymous arrow
/// function needs one. Registrations run at build time, at the program's top level.
export function remote(first, second, third) {
  let fn;
  let options;
  if (typeof first === "string") {
    fn = second;
    options = { ...(third || {}), name: first };
  } else {
    fn = first;
    options = { ...(second || {}) };
  }
  if (typeof fn !== "function") throw new TypeError(`rustyray.remote takes a function, got ${describe(fn)}`);
  if (/^class[\s{]/.test(Function.prototype.toString.call(fn))) return actor(fn, options);
  checkOptions(options, ["name", ...TASK_OPTIONS], "task");
  if (options.numReturns !== undefined) numReturnsOf(options.numReturns);
  const { name = fn.name, ...taskOptions } = placementOptions(options);
  if (!name) {
    throw new TypeError(
      "a remote function needs a name: rustyray.remote(function add(a, b) {...}), " +
        'or rustyray.remote("add", (a, b) => ...)',
    );
  }
  if (FUNCTIONS.has(name)) throw new Error(`two remote functions are named ${JSON.stringify(name)}`);
  const remoteFunction = makeRemote(fn, name, taskOptions);
  FUNCTIONS.set(name, remoteFunction);
  return remoteFunction;
}

/// A remote function of any loaded component (Rust, Python or JavaScript) by name:
/// `rustyray.function("add").remote(1, 2)`.
export function function_(name) {
  return makeRemote(null, name, {});
}
export { function_ as function };

/// Makes `fn` the program's entry point for `rustyray run`. It is called with the
/// arguments after `--`; it returns an exit status (undefined is 0), and a thrown error
/// prints its stack and exits 1. It may be async.
export function main(fn) {
  if (typeof fn !== "function") throw new TypeError(`rustyray.main takes a function, got ${describe(fn)}`);
  if (MAIN.length) throw new Error("a program has one rustyray.main");
  MAIN.push(fn);
  return fn;
}

// --- actors ---------------------------------------------------------------------------

const ACTOR_OPTIONS = [
  "name",
  "namespace",
  "maxRestarts",
  "maxTaskRetries",
  "getIfExists",
  "maxPendingCalls",
  "lifetime",
  "resources",
  "schedulingStrategy",
];

/// Ray's own checks of actor options, before anything reaches the host.
function checkActorOptions(o) {
  if (o.name != null && typeof o.name !== "string") throw new TypeError(`name must be a string, got ${describe(o.name)}`);
  if (o.name === "") throw new errors.InvalidArgumentError("an actor name cannot be empty");
  if (o.name == null && o.getIfExists) {
    throw new errors.InvalidArgumentError("getIfExists needs a name: it returns the actor of that name");
  }
  if (![undefined, null, 0].includes(o.maxTaskRetries) && [undefined, null, 0].includes(o.maxRestarts)) {
    throw new errors.InvalidArgumentError(
      "maxTaskRetries cannot be set without maxRestarts: calls are retried on a restarted actor",
    );
  }
}

/// Ray's `NodeAffinitySchedulingStrategy`: `schedulingStrategy` of an actor or a task that
/// must run on node `nodeId` (`rustyray list nodes` shows the ids). Only hard affinity
/// exists (`soft` false): it runs there, or it fails.
export class NodeAffinitySchedulingStrategy {
  constructor(nodeId, soft = false) {
    if (typeof nodeId !== "string" || !nodeId) {
      throw new TypeError(`nodeId must be a node id string, not ${describe(nodeId)}`);
    }
    if (soft) {
      throw new RangeError(
        "soft node affinity is not supported: an actor or a task runs on the node asked for, or it fails (soft false)",
      );
    }
    this.nodeId = nodeId;
    this.soft = false;
  }
}

/// Checks `resources` and `schedulingStrategy` and turns the strategy into the `nodeId`
/// the host takes; refuses anything else, naming it.
function placementOptions(options) {
  const { schedulingStrategy, ...rest } = options;
  const resources = rest.resources;
  if (resources !== undefined && resources !== null) {
    if (typeof resources !== "object" || Array.isArray(resources)) {
      throw new TypeError(`resources must be an object of name -> amount, not ${describe(resources)}`);
    }
    for (const [name, amount] of Object.entries(resources)) {
      if (!name) throw new TypeError("a resource name must be a non-empty string");
      if (typeof amount !== "number") {
        throw new TypeError(`resource ${JSON.stringify(name)}: the amount must be a number, not ${describe(amount)}`);
      }
      if (!(amount > 0 && Number.isFinite(amount))) {
        throw new RangeError(`resource ${JSON.stringify(name)}: the amount must be positive and finite, not ${amount}`);
      }
    }
  }
  if (schedulingStrategy === undefined || schedulingStrategy === null || schedulingStrategy === "DEFAULT") {
    return rest;
  }
  if (schedulingStrategy instanceof NodeAffinitySchedulingStrategy) {
    return { ...rest, nodeId: schedulingStrategy.nodeId };
  }
  throw new RangeError(
    `schedulingStrategy ${describe(schedulingStrategy)} is not supported: use new rustyray.NodeAffinitySchedulingStrategy(nodeId) or "DEFAULT"`,
  );
}

const NOT_METHODS = new Set(["constructor", "onStop", "getState", "setState"]);

/// The remote methods of a class: its (and its bases') methods, but for `constructor`,
/// names starting with `_`, and the hooks `onStop`, `getState` and `setState`.
function methodsOf(cls) {
  const methods = new Map();
  for (let proto = cls.prototype; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (methods.has(name) || NOT_METHODS.has(name) || name.startsWith("_")) continue;
      const descriptor = Object.getOwnPropertyDescriptor(proto, name);
      if (typeof descriptor.value === "function") methods.set(name, new Params(name, descriptor.value));
    }
  }
  return methods;
}

/// A class made an actor class by `rustyray.actor`: `Cls.remote(...args)` creates one
/// (its own sandboxed instance) and returns an ActorHandle; `new Cls.cls(...)` is still a
/// plain local object.
export class ActorClass {
  constructor(cls, name, snapshot, options, specs, numReturns = {}) {
    this.cls = cls;
    this._name = name;
    this._snapshot = snapshot;
    this._options = options;
    // method -> its numReturns (`rustyray.actor(cls, {numReturns: {pair: 2}})`).
    this._numReturns = numReturns;
    // [constructor Params, Map(method -> Params)]; null for a class of another component.
    this._specs = specs !== undefined ? specs : cls ? [new Params(name, cls), methodsOf(cls)] : null;
  }

  get name() {
    return this._name;
  }

  /// A copy with actor options: `name`, `namespace`, `maxRestarts`, `maxTaskRetries`,
  /// `getIfExists`, `maxPendingCalls`, `lifetime` (as Ray's: "detached" lets the actor
  /// outlive the program that created it), `resources` (Ray's custom resources,
  /// `{gpu: 1}`: in a cluster it runs on a node started with them) and
  /// `schedulingStrategy` (`new NodeAffinitySchedulingStrategy(nodeId)`: on that node).
  options(options = {}) {
    checkOptions(options, ACTOR_OPTIONS, "actor");
    if (![undefined, null, "detached", "non_detached"].includes(options.lifetime)) {
      throw new RangeError('lifetime must be "detached", "non_detached" or null (as in Ray)');
    }
    return new ActorClass(
      this.cls,
      this._name,
      this._snapshot,
      { ...this._options, ...placementOptions(options) },
      this._specs,
      this._numReturns,
    );
  }

  /// Creates the actor (its constructor runs before this returns). Options out of range
  /// throw InvalidArgumentError.
  remote(...callArgs) {
    checkActorOptions(this._options);
    if (this._specs) {
      const why = this._specs[0].check(callArgs.length);
      if (why) throw new errors.BadArgumentsError(why);
    }
    return new ActorHandle(wit.createActor(this._name, lower(callArgs), this._options), this._name);
  }

  toString() {
    return `[rustyray actor class ${this._name}]`;
  }
}

/// Makes a class an actor class: `rustyray.actor(Counter)` or `rustyray.actor(Counter,
/// {name, snapshot: true})`, so a restarted actor resumes from its state after the last
/// call instead of re-running the constructor. Methods become remote methods; `onStop()`
/// runs on a graceful stop. The snapshot is `getState()` (default: the object's own
/// enumerable properties), MessagePack-encoded, restored through `setState(state)` when
/// defined (else assigned to a new object of the class, without its constructor).
/// `numReturns: {method: k}` is Ray's `@ray.method(num_returns=k)`: that method's result,
/// an array of k values, becomes k objects.
export function actor(cls, { name, snapshot = false, numReturns = {} } = {}) {
  if (typeof cls !== "function") throw new TypeError(`rustyray.actor takes a class, got ${describe(cls)}`);
  const className = name || cls.name;
  if (!className) throw new TypeError("an actor class needs a name: rustyray.actor(cls, {name})");
  if (ACTORS.has(className)) throw new Error(`two actor classes are named ${JSON.stringify(className)}`);
  const counts = {};
  for (const [method, k] of Object.entries(numReturns || {})) counts[method] = numReturnsOf(k);
  const actorClass = new ActorClass(cls, className, Boolean(snapshot), {}, undefined, counts);
  ACTORS.set(className, actorClass);
  return actorClass;
}

/// An actor class of any loaded component (Rust, Python or JavaScript) by name:
/// `rustyray.actorClass("Counter").remote(0)`.
export function actorClass(name) {
  return new ActorClass(null, name, false, {}, null);
}

/// `handle.method`: `.remote(...args)` calls it (an ObjectRef), `.tell(...args)` sends it
/// and forgets the result.
export class ActorMethod {
  constructor(actorHandle, method, numReturns = null) {
    this._actor = actorHandle;
    this._method = method;
    this._numReturns = numReturns;
  }

  /// A copy with call options: `numReturns` (the result, an array of that many values,
  /// becomes that many objects).
  options(options = {}) {
    checkOptions(options, ["numReturns"], "actor method");
    return new ActorMethod(this._actor, this._method, numReturnsOf(options.numReturns ?? 1));
  }

  _count() {
    if (this._numReturns !== null) return this._numReturns;
    const cls = ACTORS.get(this._actor._class);
    return (cls && cls._numReturns[this._method]) ?? 1;
  }

  _check(callArgs) {
    const cls = ACTORS.get(this._actor._class);
    const params = cls && cls._specs ? cls._specs[1].get(this._method) : null;
    const why = params ? params.check(callArgs.length) : null;
    if (why) throw new errors.BadArgumentsError(why);
    return lower(callArgs);
  }

  remote(...callArgs) {
    const lowered = this._check(callArgs);
    const numReturns = this._count();
    if (numReturns === 1) return new ObjectRef(wit.callMethod(this._actor._handle, this._method, lowered));
    return returned(wit.callMethodReturns(this._actor._handle, this._method, lowered, numReturns), numReturns);
  }

  tell(...callArgs) {
    wit.tellMethod(this._actor._handle, this._method, this._check(callArgs));
  }
}

// Names a handle never turns into a method, so a handle can be awaited, logged and
// serialized like any object.
const NOT_HANDLE_METHODS = new Set(["then", "toJSON", "inspect", "constructor"]);

const HANDLE_PROXY = {
  get(target, prop) {
    if (typeof prop === "symbol" || prop in target || NOT_HANDLE_METHODS.has(prop)) {
      return Reflect.get(target, prop, target);
    }
    return target.method(prop);
  },
};

/// A live actor: `handle.incr.remote(...args)` (or `handle.method("incr").remote(...)`
/// for a method named like one of the handle's own: id, method, call, tell). Handles may
/// be passed to tasks and methods: they travel as the actor's id, and
/// `ActorHandle.fromId(id)` turns one back into a handle.
export class ActorHandle {
  constructor(handle, className = null) {
    this._handle = handle;
    this._class = className;
    return new Proxy(this, HANDLE_PROXY);
  }

  /// The live actor with this `[node, hi, lo]` id (a handle that travelled inside a
  /// value); ActorDiedError when no live actor has it.
  static fromId(id, className = null) {
    return new ActorHandle(wit.actorFromId(id), className);
  }

  /// `[node, hi, lo]`: the node that made it and 128 random bits, so it cannot be
  /// guessed; what the handle travels as inside a value.
  id() {
    return wit.idOf(this._handle);
  }

  method(name) {
    return new ActorMethod(this, name);
  }

  call(name, ...callArgs) {
    return this.method(name).remote(...callArgs);
  }

  tell(name, ...callArgs) {
    this.method(name).tell(...callArgs);
  }

  toString() {
    return `ActorHandle(${this._class || "?"}, ${this.id().join(":")})`;
  }
}

/// The live actor named `name` (in `namespace`); an Error when none is.
export function getActor(name, namespace = null) {
  const handle = wit.getNamed(name, namespace);
  if (handle == null) throw new Error(`no live actor is named ${JSON.stringify(name)}`);
  return new ActorHandle(handle);
}

/// Stops the actor now: pending calls fail with ActorDiedError, no restart.
export function kill(actorHandle, { noRestart = true } = {}) {
  if (!(actorHandle instanceof ActorHandle)) throw new TypeError(`kill() takes an ActorHandle, got ${describe(actorHandle)}`);
  if (typeof noRestart !== "boolean") throw new TypeError(`kill()'s noRestart is a boolean, got ${describe(noRestart)}`);
  if (noRestart) wit.kill(actorHandle._handle);
  else wit.killWith(actorHandle._handle, false);
}
