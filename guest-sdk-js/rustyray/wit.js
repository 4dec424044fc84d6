// The one module that speaks wit/runtime.wit: values in and out of the WIT shapes, the
// imports (objects, tasks, actors, diagnostics) and the task-error -> Error map.
//
// componentize-js generates the bindings: WIT interfaces are modules named
// `rustyray:runtime/NAME@0.1.0`, records are objects with camelCase fields, variants
// `{tag, val}`, u64 BigInt, an import's `result` error is thrown with `.payload`.

import * as objects from "rustyray:runtime/objects@0.1.0";
import * as tasks from "rustyray:runtime/tasks@0.1.0";
import * as actors from "rustyray:runtime/actors@0.1.0";
import * as diagnostics from "rustyray:runtime/diagnostics@0.1.0";

import * as errors from "./errors.js";
import { pack, unpack, Ext, EncodeError, DecodeError } from "./msgpack.js";

// --- values ---------------------------------------------------------------------------

/// The bindings run in a global of their own: their Uint8Arrays are not this global's
/// (`instanceof Uint8Array` is false). A view of the same bytes, without a copy, that is.
export function bytes(data) {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export function packValue(value, replace) {
  try {
    return pack(value, replace);
  } catch (err) {
    if (err instanceof EncodeError) throw new errors.ObjectEncodeError(err.message);
    throw err;
  }
}

// An object reference inside a value: MessagePack extension 82 holding the object's id
// (node, hi, lo as 24 big-endian bytes). Written after `objects.share`, read back with
// `objects.receive`: the host refuses any other id.
export const OBJECT_REF_EXT = 82;

/// Makes an ObjectRef of an `object-ref` handle (set by index.js, which defines the class).
export const refs = { wrap: null };

/// The extension value of a reference about to be written into a value for the host.
export function share(handle) {
  const id = objects.share(handle);
  const data = new Uint8Array(24);
  const view = new DataView(data.buffer);
  view.setBigUint64(0, id.node);
  view.setBigUint64(8, id.hi);
  view.setBigUint64(16, id.lo);
  return new Ext(OBJECT_REF_EXT, data);
}

function receive(code, data) {
  if (code !== OBJECT_REF_EXT || data.length !== 24) {
    throw new DecodeError(
      `expected an object reference (extension ${OBJECT_REF_EXT} of 24 bytes), ` +
        `got extension ${code} of ${data.length} bytes`,
    );
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const id = { node: view.getBigUint64(0), hi: view.getBigUint64(8), lo: view.getBigUint64(16) };
  return refs.wrap(call(objects.receive, id));
}

/// Frees the objects of these handles: later reads of them fail with `object-freed`.
export const free = (handles) => objects.free(handles);

/// Announces actors whose handles are written into the value handed over next.
export const carry = (handles) => actors.carry(handles);

export function unpackValue(data) {
  try {
    return unpack(data, receive);
  } catch (err) {
    if (err instanceof DecodeError || err instanceof RangeError) {
      throw new errors.ObjectDecodeError(`${err.message} (expected a MessagePack value)`);
    }
    throw err;
  }
}

/// The WIT value of a JavaScript value: a Uint8Array raw, anything else MessagePack.
export function encode(value, replace) {
  if (value instanceof Uint8Array) return { encoding: "raw", data: value };
  return { encoding: "msgpack", data: packValue(value, replace) };
}

/// The JavaScript value of a WIT value (raw bytes arrive as a Uint8Array).
export function decode(value) {
  if (value.encoding === "raw") return bytes(value.data);
  return unpackValue(value.data);
}

export function valueArg(value, replace) {
  return { tag: "value", val: encode(value, replace) };
}

export function objectArg(handle) {
  return { tag: "object", val: handle };
}

/// The JavaScript values of `invoke`'s (or an actor's) arguments; a reference argument
/// becomes `wrapRef(handle)`.
export function invokeArgs(args, wrapRef) {
  return args.map((arg) => (arg.tag === "value" ? decode(arg.val) : wrapRef(arg.val)));
}

// --- errors ---------------------------------------------------------------------------

/// The JavaScript error of a WIT task-error.
export function toError(err) {
  if (!err || typeof err !== "object" || typeof err.tag !== "string") {
    return new errors.RayError(String(err));
  }
  const v = err.val;
  switch (err.tag) {
    case "application": {
      // The thrower's message, and its class's name when known (Ray keeps the class).
      const error = errors.taskError(v.message);
      error.typeName = v.typeName;
      return error;
    }
    case "trap":
      return new errors.WorkerCrashedError(v.message, v.backtrace);
    case "cancelled":
      return new errors.TaskCancelledError("the task was cancelled");
    case "timeout":
      return new errors.TaskTimeoutError(`the task ran past its deadline of ${v} ms`, Number(v));
    case "dependency-failed":
      return new errors.DependencyFailedError(v);
    case "function-not-found":
      return new errors.FunctionNotFoundError(v);
    case "bad-arguments":
      return new errors.BadArgumentsError(v);
    case "invalid-module":
      return new errors.InvalidModuleError(v);
    case "actor-died":
      return new errors.ActorDiedError(v);
    case "limit-exceeded":
      if (v.limit === "max_pending_calls") {
        return new errors.PendingCallsLimitExceededError(v.message, v.limit, v.value);
      }
      return new errors.LimitExceededError(v.message, v.limit, v.value);
    case "invalid-argument":
      return new errors.InvalidArgumentError(v);
    case "runtime":
      return new errors.RaySystemError(v);
    case "object-freed": {
      const hex = (n) => n.toString(16).padStart(16, "0");
      return new errors.ObjectFreedError(
        `object ${v.node.toString(16)}:${hex(v.hi)}${hex(v.lo)} was freed`,
        [v.node, v.hi, v.lo],
      );
    }
    case "object-lost":
      return new errors.ObjectLostError(
        `${v.object} was lost: it was held on node ${v.node}, ${v.reason}`,
        v.object,
        v.node,
        v.reason,
      );
    default:
      return new errors.RayError(`${err.tag}: ${v}`);
  }
}

function call(fn, ...args) {
  try {
    return fn(...args);
  } catch (err) {
    if (err && Object.prototype.hasOwnProperty.call(err, "payload")) throw toError(err.payload);
    throw err;
  }
}

export const ok = (val) => ({ tag: "ok", val });
export const applicationError = (message, typeName = undefined) => ({
  tag: "err",
  val: { tag: "application", val: { message, typeName, value: undefined } },
});
export const badArguments = (message) => ({ tag: "err", val: { tag: "bad-arguments", val: message } });
export const functionNotFound = (message) => ({
  tag: "err",
  val: { tag: "function-not-found", val: message },
});

// --- imports --------------------------------------------------------------------------

export const put = (value, replace) => call(objects.put, encode(value, replace));
export const get = (handle) => decode(call(objects.get, handle));
export const size = (handle) => call(objects.size, handle);
export const read = (handle, offset, len) => bytes(call(objects.read, handle, BigInt(offset), BigInt(len)));
export const wait = (handles, numReady, timeoutMs) =>
  Array.from(objects.wait(handles, numReady, timeoutMs == null ? undefined : BigInt(timeoutMs)));

/// Ray's -1 for `maxRetries`, `maxRestarts` and `maxTaskRetries`: no bound (the WIT's
/// u32 maximum, a count never reached).
export const UNLIMITED = 0xffffffff;

/// A retry or restart count as the host takes it: `fallback` when unset, UNLIMITED for
/// Ray's -1; anything but -1 or an integer >= 0 is refused, naming it.
export function count(value, what, fallback) {
  if (value === undefined || value === null) return fallback;
  if (value === -1) return UNLIMITED;
  if (!Number.isInteger(value) || value < 0 || value >= UNLIMITED) {
    throw new errors.InvalidArgumentError(`${what} must be -1 (no bound) or an integer >= 0, not ${String(value)}`);
  }
  return value;
}

function taskOptions(timeoutMs, maxRetries, retryExceptions, retryExceptionTypes) {
  return {
    timeoutMs: timeoutMs == null ? undefined : BigInt(timeoutMs),
    maxRetries: count(maxRetries, "maxRetries", undefined),
    retryExceptions: Boolean(retryExceptions),
    retryExceptionTypes,
  };
}

export function submit(fn, args, timeoutMs, maxRetries, retryExceptions, retryExceptionTypes = []) {
  return call(tasks.submit, fn, args, taskOptions(timeoutMs, maxRetries, retryExceptions, retryExceptionTypes));
}

/// `submit` for a function whose result is a tuple of `numReturns` values: one
/// object-ref per element.
export function submitReturns(fn, args, numReturns, timeoutMs, maxRetries, retryExceptions, retryExceptionTypes = []) {
  const options = taskOptions(timeoutMs, maxRetries, retryExceptions, retryExceptionTypes);
  return Array.from(call(tasks.submitReturns, fn, args, options, numReturns));
}

/// `submit` or `submitReturns` for a task that asks where to run (Ray's `resources` and
/// node affinity): an array of object-refs (one for `numReturns` 1).
export function submitPlaced(fn, args, numReturns, resources, nodeId, timeoutMs, maxRetries, retryExceptions, retryExceptionTypes = []) {
  const options = taskOptions(timeoutMs, maxRetries, retryExceptions, retryExceptionTypes);
  const sorted = Object.entries(resources).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const placement = {
    resources: sorted.map(([name, amount]) => [name, Number(amount)]),
    nodeId: nodeId ?? undefined,
  };
  const returns = numReturns === 1 ? undefined : numReturns;
  return Array.from(call(tasks.submitPlaced, fn, args, options, placement, returns));
}

export const cancel = (handle) => tasks.cancel(handle);

/// `maxPendingCalls` as the host takes it: undefined for Ray's -1 (and unset); anything
/// but a positive integer is refused here, naming it.
function pendingBound(value) {
  if (value === undefined || value === null || value === -1) return undefined;
  if (!Number.isInteger(value) || value < 1 || value > 0xffffffff) {
    throw new errors.InvalidArgumentError(
      `maxPendingCalls must be -1 (no bound) or a positive integer, not ${String(value)}`,
    );
  }
  return value;
}

export function createActor(className, args, o) {
  const options = {
    name: o.name ?? undefined,
    namespace: o.namespace ?? undefined,
    maxRestarts: count(o.maxRestarts, "maxRestarts", 0),
    maxTaskRetries: count(o.maxTaskRetries, "maxTaskRetries", 0),
    getIfExists: Boolean(o.getIfExists),
    maxPendingCalls: pendingBound(o.maxPendingCalls),
    detached: o.lifetime === "detached",
  };
  const resources = Object.entries(o.resources ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (resources.length || (o.nodeId !== undefined && o.nodeId !== null)) {
    // Ray's `resources` and node affinity: the node places it (in a cluster, on a live
    // node that has them, or on that node).
    const placement = {
      resources: resources.map(([name, amount]) => [name, Number(amount)]),
      nodeId: o.nodeId ?? undefined,
    };
    return call(actors.createPlaced, className, args, options, placement);
  }
  return call(actors.create, className, args, options);
}

export const getNamed = (name, namespace) => actors.getNamed(name, namespace ?? undefined) ?? null;
export const kill = (handle) => actors.kill(handle);
export const killWith = (handle, noRestart) => actors.killWith(handle, noRestart);
export const callMethod = (handle, method, args) => call(() => handle.call(method, args));
export const callMethodReturns = (handle, method, args, numReturns) =>
  Array.from(call(() => handle.callReturns(method, args, numReturns)));
export const tellMethod = (handle, method, args) => call(() => handle.tell(method, args));
export const reportPanic = (message) => diagnostics.reportPanic(message);

const U64 = 1n << 64n;

/// Whether `value` has the shape of an id: `[node, hi, lo]`, three u64s (numbers or
/// BigInts, as MessagePack decodes them).
export function isId(value) {
  return (
    Array.isArray(value) &&
    value.length === 3 &&
    value.every(
      (part) =>
        (typeof part === "bigint" && part >= 0n && part < U64) ||
        (typeof part === "number" && Number.isSafeInteger(part) && part >= 0),
    )
  );
}

/// The id of an object-ref or actor-handle as `[node, hi, lo]` (BigInts).
export function idOf(handle) {
  const id = handle.id();
  return [id.node, id.hi, id.lo];
}

/// The handle of the live actor with this `[node, hi, lo]` id; ActorDiedError for an id no
/// live actor has (ids are random: a made-up one finds nothing).
export function actorFromId(id) {
  if (!isId(id)) {
    throw new errors.ActorDiedError(`no live actor has id ${JSON.stringify(id, (k, v) => (typeof v === "bigint" ? `${v}` : v))}: not an id [node, hi, lo]`);
  }
  const [node, hi, lo] = id.map((part) => BigInt(part));
  return call(actors.fromId, { node, hi, lo });
}
