// The errors a rustyray call throws in JavaScript, one class per WIT `task-error` case.
//
// Names follow Ray's (RayTaskError, TaskCancelledError, ActorDiedError, ...). An error a
// JavaScript task throws crosses the boundary as the WIT `application` error, written
// `Name: message`, a blank line, then `JavaScript stack (most recent call first):` and
// the stack; a JavaScript caller gets it back as a RayTaskError whose `causeName`,
// `causeMessage` and `causeStack` are the original's, and a Rust caller gets the same
// text in `RayError::Application`. Python tasks' errors (a traceback) read the same way.

export class RayError extends Error {
  constructor(message) {
    super(message);
    this.name = new.target.name;
  }
}

/// A task or actor method threw (or, for a Rust task, returned `Err`).
/// `causeName`: the type of what it threw (`TypeError`, `ValueError`, ...; null when the
/// task did not say), `causeMessage` its message, `causeStack` its stack or traceback.
export class RayTaskError extends RayError {
  constructor(message, causeName = null, causeMessage = message, causeStack = "") {
    super(message);
    this.causeName = causeName;
    this.causeMessage = causeMessage;
    this.causeStack = causeStack;
  }
}

/// The task's instance trapped (a wasm trap, or the engine aborted).
export class WorkerCrashedError extends RayError {
  constructor(message, backtrace = "") {
    super(message);
    this.backtrace = backtrace;
  }
}

export class TaskCancelledError extends RayError {}

export class TaskTimeoutError extends RayError {
  constructor(message, timeoutMs = 0) {
    super(message);
    this.timeoutMs = timeoutMs;
  }
}

/// `get(ref, {timeout})` passed its timeout before the object was ready.
export class GetTimeoutError extends RayError {}

/// An argument's task failed, so this task never ran: the upstream error rendered.
export class DependencyFailedError extends RayError {}

/// No loaded component exports a function, actor class or method of that name.
export class FunctionNotFoundError extends RayError {}

/// The arguments did not fit the function (count, or a value that did not decode).
export class BadArgumentsError extends RayError {}

export class InvalidModuleError extends RayError {}

/// The actor is gone (trapped with no restarts left, killed, stopped): why.
export class ActorDiedError extends RayError {}

/// An option or argument out of range, refused before anything ran (Ray's `ValueError`):
/// `wait` with duplicate references or `numReturns` out of range, an empty actor name,
/// `getIfExists` without a name, `maxTaskRetries` without `maxRestarts`, ...
export class InvalidArgumentError extends RayError {}

/// The runtime refused the work (shutting down, object store full, ...).
export class RaySystemError extends RayError {}

/// The task ran into one of its limits: `limit` (memory, fuel, ...) of `value`.
export class LimitExceededError extends RayError {
  constructor(message, limit = "", value = 0n) {
    super(message);
    this.limit = limit;
    this.value = value;
  }
}

/// The actor already has `maxPendingCalls` calls sent and not answered (Ray's
/// `PendingCallsLimitExceeded`); the call was not sent.
export class PendingCallsLimitExceededError extends LimitExceededError {}

/// The object was freed (`rustyray.free`) and can no longer be read (Ray's
/// `ObjectFreedError`); `objectId` is its `[node, hi, lo]` (BigInts).
export class ObjectFreedError extends RayError {
  constructor(message, objectId = null) {
    super(message);
    this.objectId = objectId;
  }
}

/// An object kept on another node of a cluster could not be read there (the node died,
/// or no longer holds it) nor made again from its lineage within its task's `maxRetries`
/// (Ray's `ObjectLostError`): `objectId` is the object as the host renders it, `node` the
/// node that held it, `reason` why.
export class ObjectLostError extends RayError {
  constructor(message, objectId = null, node = null, reason = null) {
    super(message);
    this.objectId = objectId;
    this.node = node;
    this.reason = reason;
  }
}

/// A value could not be encoded as MessagePack.
export class ObjectEncodeError extends RayError {}

/// An object's bytes did not decode as MessagePack.
export class ObjectDecodeError extends RayError {}

export const JS_STACK_HEADER = "JavaScript stack (most recent call first):";
const PY_TRACEBACK_HEADER = "Traceback (most recent call last):";

/// Frames of the SDK and of the generated bindings say nothing about the user's program:
/// left out of a task's stack.
function userFrames(stack) {
  return String(stack || "")
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.includes("__rustyray__/") && !line.includes("initializer.js:"))
    .map((line) => `  ${line.trim()}`)
    .join("\n");
}

/// The WIT `application` text of what a task threw: `Name: message`, a blank line, the
/// stack.
export function formatThrown(thrown) {
  // Not `instanceof Error`: errors of another global (the bindings') are errors too.
  if (Object.prototype.toString.call(thrown) === "[object Error]") {
    const name = thrown.name || (thrown.constructor && thrown.constructor.name) || "Error";
    const head = thrown.message ? `${name}: ${thrown.message}` : name;
    const frames = userFrames(thrown.stack);
    return frames ? `${head}\n\n${JS_STACK_HEADER}\n${frames}` : head;
  }
  // `throw "text"` or `throw {...}`: no name, no stack.
  let text;
  try {
    text = typeof thrown === "string" ? thrown : JSON.stringify(thrown);
  } catch {
    text = String(thrown);
  }
  return `Error: ${text === undefined ? String(thrown) : text}`;
}

const HEAD = /^([A-Za-z_$][A-Za-z0-9_$.]*)(?:: ([\s\S]*))?$/;

/// A RayTaskError from an `application` text: the thrower's name, message and stack when
/// the text came from a JavaScript or Python task.
export function taskError(text) {
  for (const header of [JS_STACK_HEADER, PY_TRACEBACK_HEADER]) {
    const at = text.indexOf(`\n\n${header}`);
    if (at < 0) continue;
    const head = text.slice(0, at);
    const stack = text.slice(at + 2);
    const match = HEAD.exec(head);
    if (!match) return new RayTaskError(head, null, head, stack);
    return new RayTaskError(head, match[1], match[2] || "", stack);
  }
  const match = HEAD.exec(text.split("\n", 1)[0]);
  if (match && match[2] !== undefined && /Error$|Exception$/.test(match[1])) {
    return new RayTaskError(text, match[1], text.slice(match[1].length + 2), "");
  }
  return new RayTaskError(text);
}
