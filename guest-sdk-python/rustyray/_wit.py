"""The one module that speaks ``wit/runtime.wit``: values in and out of the WIT shapes,
the imports (``objects``, ``tasks``, ``actors``) and the ``task-error`` -> exception map.

Everything else in the package works with Python values and these helpers, so a change
of the contract is a change here only.
"""

from componentize_py_types import Err  # noqa: F401  (re-exported for _exports)

from wit_world.imports import actors as _actors
from wit_world.imports import diagnostics as _diagnostics
from wit_world.imports import objects as _objects
from wit_world.imports import tasks as _tasks
from wit_world.imports import types as _types
from wit_world.exports import guest as _guest

import struct as _struct

from . import _errors, _msgpack

# --- values -------------------------------------------------------------------------

# The contract tags every value with its encoding (`types.value`): bytes cross raw, as
# they are (a Rust `Vec<u8>` on the other side), everything else as MessagePack.


def _pack(value, default):
    try:
        return _msgpack.packb(value, default)
    except _msgpack.EncodeError as err:
        raise _errors.ObjectEncodeError(str(err)) from None


# An object reference inside a value: MessagePack extension 82 holding the object's id
# (node, hi, lo as 24 big-endian bytes). Written after `objects.share`, read back with
# `objects.receive`: the host refuses any other id.
OBJECT_REF_EXT = 82

# Makes an `ObjectRef` of an `object-ref` handle (set by `_api`, which defines the class).
wrap_ref = None


def share(handle):
    """The extension value of a reference about to be written into a value for the host."""
    i = _objects.share(handle)
    return _msgpack.ExtType(OBJECT_REF_EXT, _struct.pack(">QQQ", i.node, i.hi, i.lo))


def _receive(code, data):
    if code != OBJECT_REF_EXT or len(data) != 24:
        raise _msgpack.DecodeError(
            f"expected an object reference (extension {OBJECT_REF_EXT} of 24 bytes), "
            f"got extension {code} of {len(data)} bytes"
        )
    node, hi, lo = _struct.unpack(">QQQ", data)
    return wrap_ref(_call(_objects.receive, _types.Id(node=node, hi=hi, lo=lo)))


def free(handles):
    _objects.free(handles)


def carry(handles):
    """Announces actors whose handles are written into the value handed over next."""
    _actors.carry(handles)


def _unpack(data):
    try:
        return _msgpack.unpackb(data, _receive)
    except _msgpack.DecodeError as err:
        raise _errors.ObjectDecodeError(f"{err} (expected a MessagePack value)") from None


def encode(value, default):
    """The WIT value of a Python value: ``bytes`` raw, anything else MessagePack."""
    if type(value) is bytes or type(value) is bytearray:
        return _types.Value(_types.Encoding.RAW, bytes(value))
    return _types.Value(_types.Encoding.MSGPACK, _pack(value, default))


def decode(value):
    """The Python value of a WIT value (raw bytes arrive as ``bytes``)."""
    if value.encoding == _types.Encoding.RAW:
        return value.data
    return _unpack(value.data)


def encode_state(state, default):
    """An actor's snapshot: MessagePack bytes (untagged in every version of the WIT)."""
    return _pack(state, default)


def decode_state(data):
    return _unpack(data)


def value_arg(value, default):
    """A task argument carrying a value."""
    return _types.TaskArg_Value(encode(value, default))


def object_arg(handle):
    """A task argument the host resolves to the object's value before the task runs."""
    return _types.TaskArg_Object(handle)


def invoke_args(args, wrap_ref):
    """The Python values of ``invoke``'s (or an actor's) arguments; an argument that is
    an object reference (a parameter declared as a reference) becomes ``wrap_ref(handle)``."""
    out = []
    for arg in args:
        if isinstance(arg, _guest.Argument_Value):
            out.append(decode(arg.value))
        else:
            out.append(wrap_ref(arg.value))
    return out


def result(value, default):
    """What ``invoke``/``actor-call`` return for a Python result."""
    return encode(value, default)


# --- errors -------------------------------------------------------------------------


def raise_task_error(err):
    """Raises the Python exception of a WIT ``task-error``."""
    raise to_exception(err) from None


def to_exception(err):
    """The Python exception of a WIT ``task-error``."""
    t = _types
    if isinstance(err, t.TaskError_Application):
        exc = _errors.task_error(err.value.message)
        exc.type_name = err.value.type_name
        return exc
    if isinstance(err, t.TaskError_Trap):
        return _errors.WorkerCrashedError(err.value.message, err.value.backtrace)
    if isinstance(err, t.TaskError_Cancelled):
        return _errors.TaskCancelledError("the task was cancelled")
    if isinstance(err, t.TaskError_Timeout):
        return _errors.TaskTimeoutError(f"the task ran past its deadline of {err.value} ms", err.value)
    if isinstance(err, t.TaskError_DependencyFailed):
        return _errors.DependencyFailedError(err.value)
    if isinstance(err, t.TaskError_FunctionNotFound):
        return _errors.FunctionNotFoundError(err.value)
    if isinstance(err, t.TaskError_BadArguments):
        return _errors.BadArgumentsError(err.value)
    if isinstance(err, t.TaskError_InvalidModule):
        return _errors.InvalidModuleError(err.value)
    if isinstance(err, t.TaskError_ActorDied):
        return _errors.ActorDiedError(err.value)
    if isinstance(err, t.TaskError_LimitExceeded):
        info = err.value
        if info.limit == "max_pending_calls":
            return _errors.PendingCallsLimitExceededError(info.message, info.limit, info.value)
        return _errors.LimitExceededError(info.message, info.limit, info.value)
    if isinstance(err, t.TaskError_InvalidArgument):
        return _errors.InvalidArgumentError(err.value)
    if isinstance(err, t.TaskError_Runtime):
        return _errors.RaySystemError(err.value)
    if isinstance(err, t.TaskError_ObjectFreed):
        i = err.value
        return _errors.ObjectFreedError(f"object {i.node:x}:{i.hi:016x}{i.lo:016x} was freed", (i.node, i.hi, i.lo))
    if isinstance(err, t.TaskError_ObjectLost):
        i = err.value
        return _errors.ObjectLostError(
            f"{i.object} was lost: it was held on node {i.node}, {i.reason}", i.object, i.node, i.reason
        )
    return _errors.RayError(repr(err))


def application_error(message, type_name=None):
    """An ``invoke-error``: what a function raised, its message and its class's name."""
    error = _types.ApplicationError(message=message, type_name=type_name, value=None)
    return Err(_guest.InvokeError_Application(error))


def bad_arguments(message):
    return Err(_guest.InvokeError_BadArguments(message))


def function_not_found(message):
    return Err(_guest.InvokeError_FunctionNotFound(message))


# --- imports ------------------------------------------------------------------------


def _call(fn, *args):
    try:
        return fn(*args)
    except Err as err:
        raise to_exception(err.value) from None


def put(value, default):
    return _call(_objects.put, encode(value, default))


def get(handle):
    return decode(_call(_objects.get, handle))


def wait(handles, num_ready, timeout_ms):
    return _objects.wait(handles, num_ready, timeout_ms)


# Ray's ``-1`` for ``max_retries``, ``max_restarts`` and ``max_task_retries``: no bound
# (the WIT's u32 maximum, a count never reached).
UNLIMITED = (1 << 32) - 1


def count(value, what, default):
    """A retry or restart count as the host takes it: ``default`` for ``None``,
    ``UNLIMITED`` for Ray's ``-1``; anything but -1 or an integer >= 0 is refused,
    naming it (``InvalidArgumentError``, a ``ValueError`` as Ray's)."""
    if value is None:
        return default
    if value == -1 and not isinstance(value, bool):
        return UNLIMITED
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < UNLIMITED:
        raise _errors.InvalidArgumentError(
            f"{what} must be -1 (no bound) or an integer >= 0, not {value!r}"
        )
    return value


def _task_options(timeout_ms, max_retries, retry_exceptions, retry_exception_types):
    return _types.TaskOptions(
        timeout_ms=timeout_ms,
        max_retries=count(max_retries, "max_retries", None),
        retry_exceptions=retry_exceptions,
        retry_exception_types=list(retry_exception_types),
    )


def submit(function, args, timeout_ms, max_retries, retry_exceptions, retry_exception_types=()):
    options = _task_options(timeout_ms, max_retries, retry_exceptions, retry_exception_types)
    return _call(_tasks.submit, function, args, options)


def submit_returns(function, args, num_returns, timeout_ms, max_retries, retry_exceptions, retry_exception_types=()):
    """``submit`` for a function whose result is a tuple of ``num_returns`` values: one
    ``object-ref`` per element."""
    options = _task_options(timeout_ms, max_retries, retry_exceptions, retry_exception_types)
    return _call(_tasks.submit_returns, function, args, options, num_returns)


def submit_placed(
    function, args, num_returns, resources, node_id, timeout_ms, max_retries, retry_exceptions, retry_exception_types=()
):
    """``submit`` or ``submit_returns`` for a task that asks where to run (Ray's
    ``resources=`` and node affinity): a list of ``object-ref`` (one for
    ``num_returns`` 1)."""
    options = _task_options(timeout_ms, max_retries, retry_exceptions, retry_exception_types)
    placement = _tasks.TaskPlacement(
        resources=[(name, float(amount)) for name, amount in sorted(resources.items())],
        node_id=node_id,
    )
    returns = None if num_returns == 1 else num_returns
    return _call(_tasks.submit_placed, function, args, options, placement, returns)


def cancel(handle):
    _tasks.cancel(handle)


def create_actor(class_name, args, given):
    options = _types.ActorOptions(
        name=given.get("name"),
        namespace=given.get("namespace"),
        max_restarts=count(given.get("max_restarts"), "max_restarts", 0),
        max_task_retries=count(given.get("max_task_retries"), "max_task_retries", 0),
        get_if_exists=bool(given.get("get_if_exists", False)),
        # Ray's -1 (and None) mean no bound.
        max_pending_calls=_pending_bound(given.get("max_pending_calls")),
        detached=given.get("lifetime") == "detached",
    )
    resources = given.get("resources") or {}
    node_id = given.get("node_id")
    if resources or node_id is not None:
        # Ray's `resources=` and node affinity: the node places it (in a cluster, on a
        # live node that has them, or on that node).
        placement = _actors.Placement(
            resources=[(name, float(amount)) for name, amount in sorted(resources.items())],
            node_id=node_id,
        )
        return _call(_actors.create_placed, class_name, args, options, placement)
    return _call(_actors.create, class_name, args, options)


def _pending_bound(value):
    """``max_pending_calls`` as the host takes it: ``None`` for Ray's ``-1``/``None``; 0, a
    negative or a non-integer value is refused here, naming it."""
    if value is None or value == -1:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 or value >= 1 << 32:
        raise _errors.InvalidArgumentError(
            f"max_pending_calls must be -1 (no bound) or a positive integer, not {value!r}"
        )
    return value


def get_named(name, namespace):
    return _actors.get_named(name, namespace)


_U64 = 1 << 64


def is_id(value):
    """Whether ``value`` has the shape of an id: ``(node, hi, lo)``, three u64s (a tuple,
    or the list MessagePack decodes it as)."""
    return (
        isinstance(value, (tuple, list))
        and len(value) == 3
        and all(type(part) is int and 0 <= part < _U64 for part in value)
    )


def id_of(handle):
    """The id of an ``object-ref`` or ``actor-handle`` as ``(node, hi, lo)``."""
    wit_id = handle.id()
    return (wit_id.node, wit_id.hi, wit_id.lo)


def actor_from_id(actor_id):
    """The handle of the live actor with this ``(node, hi, lo)`` id; ``ActorDiedError`` for
    an id no live actor has (ids are random: a made-up one finds nothing)."""
    if not is_id(actor_id):
        raise _errors.ActorDiedError(f"no live actor has id {actor_id!r}: not an id (node, hi, lo)")
    node, hi, lo = actor_id
    return _call(_actors.from_id, _types.Id(node=node, hi=hi, lo=lo))


def kill(handle):
    _actors.kill(handle)


def kill_with(handle, no_restart):
    _actors.kill_with(handle, no_restart)


def call(handle, method, args):
    return _call(handle.call, method, args)


def call_returns(handle, method, args, num_returns):
    """``call`` for a method whose result is a tuple of ``num_returns`` values."""
    return _call(handle.call_returns, method, args, num_returns)


def tell(handle, method, args):
    _call(handle.tell, method, args)


def report_panic(message):
    _diagnostics.report_panic(message)


def arity(params):
    """How many arguments a function takes (the host refuses other counts at submit)."""
    return _guest.Arity(min=params.min, max=params.max)


def function_info(name, params):
    return _guest.FunctionInfo(name=name, signature=params.signature, arity=arity(params))


def actor_class_info(name, init, methods, snapshot):
    return _guest.ActorClassInfo(
        name=name,
        constructor=init.signature,
        constructor_arity=arity(init),
        methods=methods,
        snapshot=snapshot,
    )


def component_info(functions, actors, has_main):
    return _guest.ComponentInfo(functions=functions, actors=actors, has_main=has_main)
