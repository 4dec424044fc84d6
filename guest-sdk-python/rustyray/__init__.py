"""rustyray for Python guests: Ray's tasks, actors and objects, each task in a fresh
sandboxed WebAssembly instance.

    import rustyray

    @rustyray.remote
    def add(a, b):
        return a + b

    @rustyray.main
    def main(args):
        ref = add.remote(1, 2)          # ObjectRef, runs in parallel
        print(rustyray.get(add.remote(ref, 10)))   # 13

Build and run with ``rustyray run DIR`` (DIR holds ``main.py`` or ``app.py``). Values
cross as MessagePack: None, bool, int, float, str, bytes, list/tuple, dict (and
dataclasses, sent as dicts); Rust structs arrive as dicts keyed by field name.
"""

from ._errors import (
    ActorDiedError,
    BadArgumentsError,
    DependencyFailedError,
    FunctionNotFoundError,
    GetTimeoutError,
    InvalidArgumentError,
    InvalidModuleError,
    LimitExceededError,
    ObjectFreedError,
    ObjectLostError,
    ObjectDecodeError,
    ObjectEncodeError,
    PendingCallsLimitExceededError,
    RayError,
    RaySystemError,
    RayTaskError,
    TaskCancelledError,
    TaskTimeoutError,
    WorkerCrashedError,
)
from ._api import (
    ActorClass,
    ActorHandle,
    NodeAffinitySchedulingStrategy,
    ObjectRef,
    RemoteFunction,
    actor,
    actor_class,
    args,
    cancel,
    function,
    get,
    get_actor,
    kill,
    main,
    method,
    free,
    put,
    remote,
    wait,
)

__all__ = [
    "ActorClass",
    "ActorDiedError",
    "ActorHandle",
    "BadArgumentsError",
    "DependencyFailedError",
    "FunctionNotFoundError",
    "GetTimeoutError",
    "InvalidArgumentError",
    "InvalidModuleError",
    "LimitExceededError",
    "NodeAffinitySchedulingStrategy",
    "ObjectFreedError",
    "ObjectLostError",
    "ObjectDecodeError",
    "ObjectEncodeError",
    "PendingCallsLimitExceededError",
    "ObjectRef",
    "RayError",
    "RaySystemError",
    "RayTaskError",
    "RemoteFunction",
    "TaskCancelledError",
    "TaskTimeoutError",
    "WorkerCrashedError",
    "actor",
    "actor_class",
    "args",
    "cancel",
    "function",
    "get",
    "get_actor",
    "kill",
    "main",
    "method",
    "free",
    "put",
    "remote",
    "wait",
]
