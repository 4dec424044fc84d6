"""The errors a rustyray call raises in Python, one class per WIT ``task-error`` case.

Names follow Ray's (``RayTaskError``, ``TaskCancelledError``, ``ActorDiedError``, ...).
An exception raised by a Python task crosses the boundary as the WIT ``application``
error, written ``Type: message`` then a blank line and the Python traceback; a Python
caller gets it back as a ``RayTaskError`` that is *also* an instance of the original type
when that type is a builtin exception (so ``except ValueError`` works, as in Ray), and a
Rust caller gets the same text in ``RayError::Application``.
"""

import builtins
import re
import traceback


class RayError(Exception):
    """Base of every error rustyray raises."""


class RayTaskError(RayError):
    """A task or actor method raised (or, for a Rust task, returned ``Err``).

    ``cause_type`` is the name of the exception type the task raised (``None`` when the
    task was not Python), ``cause_message`` its message, ``traceback_str`` the task's
    traceback (empty when not Python)."""

    def __init__(self, message, cause_type=None, cause_message=None, traceback_str=""):
        super().__init__(message)
        self.cause_type = cause_type
        self.cause_message = message if cause_message is None else cause_message
        self.traceback_str = traceback_str

    def __str__(self):
        if self.traceback_str:
            return f"{self.args[0]}\n\n{self.traceback_str}"
        return self.args[0] if self.args else ""


class WorkerCrashedError(RayError):
    """The task's instance trapped (a wasm trap, or the interpreter aborted)."""

    def __init__(self, message, backtrace=""):
        super().__init__(message)
        self.backtrace = backtrace


class TaskCancelledError(RayError):
    """The task was cancelled before it produced a value."""


class TaskTimeoutError(RayError):
    """The task ran past its deadline (``timeout_ms``)."""

    def __init__(self, message, timeout_ms=0):
        super().__init__(message)
        self.timeout_ms = timeout_ms


class GetTimeoutError(RayError, TimeoutError):
    """``get(..., timeout=...)`` passed its timeout before the object was ready."""


class DependencyFailedError(RayError):
    """An argument's task failed, so this task never ran: the upstream error rendered."""


class FunctionNotFoundError(RayError):
    """No loaded component exports a function, actor class or method of that name."""


class BadArgumentsError(RayError, TypeError):
    """The arguments did not fit the function (count, or a value that did not decode)."""


class InvalidModuleError(RayError):
    """A component could not be loaded or instantiated."""


class ActorDiedError(RayError):
    """The actor is gone (trapped with no restarts left, killed, stopped): why."""


class InvalidArgumentError(RayError, ValueError):
    """An option or argument out of range, refused before anything ran: Ray raises
    ``ValueError`` for these (so ``except ValueError`` works here too): ``wait`` with
    duplicate references or ``num_returns`` out of range, an empty actor name,
    ``get_if_exists`` without a name, ``max_task_retries`` without ``max_restarts``, ..."""


class RaySystemError(RayError):
    """The runtime refused the work (shutting down, object store full, ...)."""


class LimitExceededError(RayError):
    """The task ran into one of its limits: ``limit`` (memory, fuel, ...) of ``value``."""

    def __init__(self, message, limit="", value=0):
        super().__init__(message)
        self.limit = limit
        self.value = value


class PendingCallsLimitExceededError(LimitExceededError):
    """The actor already has ``max_pending_calls`` calls sent and not answered (Ray's
    ``PendingCallsLimitExceeded``); the call was not sent."""


class ObjectFreedError(RayError):
    """The object was freed and can no longer be read (Ray's ``ObjectFreedError``);
    ``object_id`` is its ``(node, hi, lo)``."""

    def __init__(self, message, object_id=None):
        super().__init__(message)
        self.object_id = object_id


class ObjectLostError(RayError):
    """An object kept on another node of a cluster could not be read there (the node
    died, or no longer holds it) nor made again from its lineage within its task's
    ``max_retries`` (Ray's ``ObjectLostError``): ``object_id`` is the object as the host
    renders it, ``node`` the node that held it, ``reason`` why."""

    def __init__(self, message, object_id=None, node=None, reason=None):
        super().__init__(message)
        self.object_id = object_id
        self.node = node
        self.reason = reason


class ObjectEncodeError(RayError, TypeError):
    """A value could not be encoded as MessagePack."""


class ObjectDecodeError(RayError, ValueError):
    """An object's bytes did not decode as MessagePack."""


_HEAD = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*)(?:: (.*))?$", re.S)
_TRACEBACK = "\n\nTraceback (most recent call last):"


def type_name(exc):
    """The name an exception's class travels under: ``ValueError``, ``module.Class``."""
    return class_name(type(exc))


def class_name(cls):
    """The name exceptions of class ``cls`` travel under (see ``type_name``)."""
    kind = cls.__qualname__
    if cls.__module__ not in ("builtins", "__main__"):
        kind = f"{cls.__module__}.{kind}"
    return kind


def format_exception(exc):
    """The WIT ``application`` text of an exception a task raised: ``Type: message``,
    a blank line, the traceback."""
    kind = type(exc).__qualname__
    if type(exc).__module__ not in ("builtins", "__main__"):
        kind = f"{type(exc).__module__}.{kind}"
    head = f"{kind}: {exc}" if str(exc) else kind
    frames = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip()
    return f"{head}\n\n{frames}"


def task_error(message):
    """A ``RayTaskError`` from an ``application`` text, of the original builtin type too
    when the text came from a Python task."""
    head, sep, rest = message.partition(_TRACEBACK)
    if not sep:
        return RayTaskError(message)
    traceback_str = "Traceback (most recent call last):" + rest
    match = _HEAD.match(head)
    if not match:
        return RayTaskError(head, None, head, traceback_str)
    kind, cause = match.group(1), match.group(2) or ""
    base = getattr(builtins, kind, None)
    if isinstance(base, type) and issubclass(base, Exception) and not issubclass(base, RayError):
        try:
            cls = type(f"RayTaskError({kind})", (RayTaskError, base), {})
            return cls(head, kind, cause, traceback_str)
        except TypeError:
            pass
    return RayTaskError(head, kind, cause, traceback_str)
