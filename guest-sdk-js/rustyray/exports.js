// The component's exports: `guest` (describe, invoke, the actor entry points) and
// `driver` (run), over the tables `rustyray.remote`, `rustyray.actor` and
// `rustyray.main` filled at build time. The build's entry module re-exports them after
// importing the program.

import * as api from "./index.js";
import * as wit from "./wit.js";
import { formatThrown } from "./errors.js";

// This instance's actor: [ActorClass, the object], once actorNew or actorRestore ran.
let ACTOR = null;

/// The decoded arguments of a call, checked against the function's parameters; a WIT
/// error result instead when they do not fit.
function argumentsOf(params, raw) {
  let values;
  try {
    values = wit.invokeArgs(raw, (handle) => new api.ObjectRef(handle));
  } catch (err) {
    return [null, wit.badArguments(`\`${params.name}\`: an argument did not decode: ${err.message}`)];
  }
  const why = params.check(values.length);
  if (why) return [null, wit.badArguments(why)];
  return [values, null];
}

/// Runs `call` (which may return a promise); the encoded result, or the application
/// error of what it threw.
async function run(call, name) {
  let value;
  try {
    value = await call();
  } catch (thrown) {
    return wit.applicationError(formatThrown(thrown), thrownName(thrown));
  }
  try {
    return wit.ok(wit.encode(value, api.replace));
  } catch (err) {
    return wit.applicationError(`the result of \`${name}\` did not encode: ${err.message}`);
  }
}

/// An error the SDK did not turn into an invoke-error would trap the instance with a bare
/// `unreachable`: report it as an application error naming it instead.
function guarded(method) {
  return async function (...callArgs) {
    try {
      return await method(...callArgs);
    } catch (err) {
      return wit.applicationError(`internal error in the rustyray JavaScript SDK: ${formatThrown(err)}`);
    }
  };
}

/// The class name of what a task threw (the WIT application error's type name).
function thrownName(thrown) {
  if (Object.prototype.toString.call(thrown) === "[object Error]") {
    return thrown.name || (thrown.constructor && thrown.constructor.name) || "Error";
  }
  return undefined;
}

/// How many arguments a function takes: at least its required ones, and any number
/// more (JavaScript lets a caller pass more than a function names).
const arity = (params) => ({ min: params.min, max: undefined });

export const guest = {
  describe() {
    const functions = [...api.FUNCTIONS.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, f]) => ({ name, signature: f._params.signature, arity: arity(f._params) }));
    const actors = [...api.ACTORS.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, a]) => ({
        name,
        constructor: `constructor${a._specs[0].signature.slice(name.length)}`,
        constructorArity: arity(a._specs[0]),
        methods: [...a._specs[1].entries()]
          .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
          .map(([m, p]) => ({ name: m, signature: p.signature, arity: arity(p) })),
        snapshot: a._snapshot,
      }));
    return { functions, actors, hasMain: api.MAIN.length > 0 };
  },

  invoke: guarded(async (name, rawArgs) => {
    const remoteFunction = api.FUNCTIONS.get(name);
    if (!remoteFunction || !remoteFunction._fn) return wit.functionNotFound(name);
    const [values, error] = argumentsOf(remoteFunction._params, rawArgs);
    if (error) return error;
    return run(() => remoteFunction._fn(...values), name);
  }),

  actorNew: guarded(async (className, rawArgs) => {
    const actorClass = api.ACTORS.get(className);
    if (!actorClass) return wit.functionNotFound(className);
    const [values, error] = argumentsOf(actorClass._specs[0], rawArgs);
    if (error) return error;
    let object;
    try {
      object = new actorClass.cls(...values);
    } catch (thrown) {
      return wit.applicationError(formatThrown(thrown), thrownName(thrown));
    }
    ACTOR = [actorClass, object];
    return wit.ok(undefined);
  }),

  actorCall: guarded(async (method, rawArgs) => {
    if (!ACTOR) return wit.functionNotFound(`${method} (this instance holds no actor)`);
    const [actorClass, object] = ACTOR;
    const params = actorClass._specs[1].get(method);
    if (!params) return wit.functionNotFound(`${actorClass.name}.${method}`);
    const [values, error] = argumentsOf(params, rawArgs);
    if (error) return error;
    return run(() => object[method](...values), `${actorClass.name}.${method}`);
  }),

  actorSnapshot() {
    if (!ACTOR || !ACTOR[0]._snapshot) return undefined;
    const [actorClass, object] = ACTOR;
    try {
      const state = typeof object.getState === "function" ? object.getState() : { ...object };
      return wit.packValue(state, api.replace);
    } catch (err) {
      // No snapshot this time: a restart would restore the previous one.
      console.error(`rustyray: the state of ${actorClass.name} did not encode: ${err.message}`);
      return undefined;
    }
  },

  actorRestore: guarded(async (className, state) => {
    const actorClass = api.ACTORS.get(className);
    if (!actorClass) return wit.functionNotFound(className);
    let value;
    try {
      value = wit.unpackValue(state);
    } catch (err) {
      return wit.badArguments(`the snapshot of ${className} did not decode: ${err.message}`);
    }
    const object = Object.create(actorClass.cls.prototype);
    try {
      if (typeof object.setState === "function") object.setState(value);
      else Object.assign(object, value);
    } catch (thrown) {
      return wit.applicationError(formatThrown(thrown), thrownName(thrown));
    }
    ACTOR = [actorClass, object];
    return wit.ok(undefined);
  }),

  async actorStop() {
    if (!ACTOR || typeof ACTOR[1].onStop !== "function") return;
    try {
      await ACTOR[1].onStop();
    } catch (thrown) {
      console.error(`rustyray: onStop threw ${formatThrown(thrown)}`);
    }
  },
};

export const driver = {
  async run(argv) {
    if (!api.MAIN.length) {
      console.error("rustyray: this program has no rustyray.main");
      return 1;
    }
    api.ARGS.splice(0, api.ARGS.length, ...argv.slice(1));
    let status;
    try {
      status = await api.MAIN[0](argv.slice(1));
    } catch (thrown) {
      const text = formatThrown(thrown);
      console.error(`Uncaught ${text}`);
      return 1;
    }
    if (status === undefined || status === null || status === true) return 0;
    if (typeof status === "number" && Number.isInteger(status)) return status;
    return 1;
  },
};
