"""The Python programming model: ``@remote`` functions, ``@actor`` classes, ``@main``,
``ObjectRef`` and ``put``/``get``/``wait``/``cancel``, as in Ray.

Decorators register into this module's tables when the program's module is imported,
which componentize-py does once at build time: every instance of the component starts
from that pre-initialized snapshot, so a task pays for no import.
"""

import inspect

from . import _errors

try:  # Inside a component: the WIT bindings componentize-py generated.
    from . import _wit
except ImportError:  # Plain CPython (unit tests of task bodies): no runtime to talk to.
    _wit = None

# name -> RemoteFunction; name -> ActorClass; the @main function.
FUNCTIONS = {}
ACTORS = {}
MAIN = []
# The driver's arguments (after `--`).
ARGS = []


def _runtime():
    if _wit is None:
        raise _errors.RaySystemError(
            "not inside a rustyray component: build the program with `rustyray run DIR` "
            "(task bodies can still be called as plain functions)"
        )
    return _wit


# --- values -------------------------------------------------------------------------


def _default(value):
    """How values MessagePack has no type for cross (every value encoded here is handed to
    the host): an ``ObjectRef`` as the reference (extension 82; the object stays alive
    while the value does), actor handles as their id, the array ``[node, hi, lo]`` (as
    Rust's do; the actor stays alive while the value does), anything else is refused
    with a clear error."""
    if isinstance(value, ActorHandle):
        _runtime().carry([value._handle])
        return value._id()
    if isinstance(value, ObjectRef):
        return _runtime().share(value._handle)
    if hasattr(value, "__dataclass_fields__"):
        import dataclasses

        return dataclasses.asdict(value)
    raise _errors.ObjectEncodeError(
        f"cannot encode a {type(value).__name__} as MessagePack (use None, bool, int, "
        "float, str, bytes, list, tuple, dict, dataclasses or actor handles)"
    )


def _lower(args):
    """WIT task arguments: ObjectRefs as references (resolved to their values before the
    task runs), everything else as a value."""
    w = _runtime()
    lowered = []
    for arg in args:
        if isinstance(arg, ObjectRef):
            lowered.append(w.object_arg(arg._handle))
        else:
            lowered.append(w.value_arg(arg, _default))
    return lowered


# --- objects ------------------------------------------------------------------------


class ObjectRef:
    """A reference to an object in the store: a task's result, or a value ``put``.

    ``rustyray.get(ref)`` waits for and returns its value; passing it to ``.remote()``
    makes the new task wait for it and receive its value. Dropping the last reference
    frees the object."""

    __slots__ = ("_handle", "__weakref__")

    def __init__(self, handle):
        self._handle = handle

    def id(self):
        """The object's id (for logs and equality): ``(node, hi, lo)``, the node that made
        it and 128 random bits."""
        return _wit_id(self._handle)

    def __eq__(self, other):
        return isinstance(other, ObjectRef) and other.id() == self.id()

    def __hash__(self):
        return hash(self.id())

    def __repr__(self):
        return f"ObjectRef({self.id()})"

    def get(self, timeout=None):
        """``rustyray.get(self, timeout)``."""
        return get(self, timeout=timeout)


if _wit is not None:
    _wit.wrap_ref = ObjectRef


def free(refs):
    """Frees the objects (Ray's ``ray._private.internal_api.free``): every later ``get`` of
    them, by any holder, raises ``ObjectFreedError``, as does a task that takes one as an
    argument; their bytes are given back at once."""
    if isinstance(refs, ObjectRef):
        refs = [refs]
    handles = []
    for ref in refs:
        if not isinstance(ref, ObjectRef):
            raise TypeError(f"free() takes ObjectRefs, got a {type(ref).__name__}")
        handles.append(ref._handle)
    if handles:
        _runtime().free(handles)


def put(value):
    """Stores ``value`` (MessagePack-encoded) and returns an ``ObjectRef`` to it."""
    return ObjectRef(_runtime().put(value, _default))


def get(refs, timeout=None):
    """The value of an ``ObjectRef`` (or a list of them), waiting until it is ready.

    Raises the task's error (``RayTaskError`` for an exception it raised, of its type
    too when builtin; ``TaskCancelledError``, ``WorkerCrashedError``, ...) and
    ``GetTimeoutError`` when ``timeout`` seconds pass first."""
    w = _runtime()
    if isinstance(refs, ObjectRef):
        if timeout is not None:
            _wait_or_raise([refs], timeout)
        return w.get(refs._handle)
    if isinstance(refs, (list, tuple)):
        for ref in refs:
            if not isinstance(ref, ObjectRef):
                raise TypeError(f"get() takes ObjectRefs, got a {type(ref).__name__}")
        if timeout is not None:
            _wait_or_raise(list(refs), timeout)
        return [w.get(ref._handle) for ref in refs]
    raise TypeError(f"get() takes an ObjectRef or a list of them, got a {type(refs).__name__}")


def _timeout_ms(timeout, what):
    if timeout is None:
        return None
    if not isinstance(timeout, (int, float)) or timeout < 0:
        raise ValueError(f"{what} must be a number of seconds >= 0, got {timeout!r}")
    return int(timeout * 1000)


def _wait_or_raise(refs, timeout):
    # Every distinct object (a list given to ``get`` may name one twice, which ``wait``
    # refuses as Ray's does).
    unique = list({ref.id(): ref for ref in refs}.values())
    if not unique:
        return
    indexes = _runtime().wait([ref._handle for ref in unique], len(unique), _timeout_ms(timeout, "timeout"))
    if len(indexes) < len(unique):
        raise _errors.GetTimeoutError(f"get timed out after {timeout} s")


def wait(refs, num_returns=1, timeout=None):
    """Waits until ``num_returns`` of ``refs`` are ready or ``timeout`` seconds pass;
    returns ``(ready, not_ready)``, each in the order given (as Ray's ``wait``).

    As Ray's: an empty list gives ``([], [])``; the same object twice, or
    ``num_returns`` below 1 or above ``len(refs)``, raises ``InvalidArgumentError`` (a
    ``ValueError``)."""
    if isinstance(refs, ObjectRef):
        raise TypeError("wait() takes a list of ObjectRefs, got a single ObjectRef: wait([ref])")
    refs = list(refs)
    for ref in refs:
        if not isinstance(ref, ObjectRef):
            raise TypeError(f"wait() takes ObjectRefs, got a {type(ref).__name__}")
    if not refs:
        return [], []
    if len({ref.id() for ref in refs}) != len(refs):
        raise _errors.InvalidArgumentError(
            "wait requires a list of unique object references: an object appears twice"
        )
    if isinstance(num_returns, bool) or not isinstance(num_returns, int):
        raise TypeError(f"num_returns must be an int, got a {type(num_returns).__name__}")
    if not 1 <= num_returns <= len(refs):
        raise _errors.InvalidArgumentError(
            f"num_returns must be between 1 and the number of objects ({len(refs)}), not {num_returns}"
        )
    indexes = set(
        _runtime().wait([ref._handle for ref in refs], num_returns, _timeout_ms(timeout, "timeout"))
    )
    ready = [ref for i, ref in enumerate(refs) if i in indexes]
    not_ready = [ref for i, ref in enumerate(refs) if i not in indexes]
    return ready, not_ready


def cancel(ref):
    """Cancels the task that produces ``ref``: a pending task never runs, a running one
    is interrupted; its ``get`` raises ``TaskCancelledError``. A finished task stays."""
    if not isinstance(ref, ObjectRef):
        raise TypeError(f"cancel() takes an ObjectRef, got a {type(ref).__name__}")
    _runtime().cancel(ref._handle)


def args():
    """The program's command-line arguments (``rustyray run DIR -- ARGS``); empty in a task."""
    return list(ARGS)


# --- remote functions ---------------------------------------------------------------

_TASK_OPTIONS = (
    "timeout",
    "max_retries",
    "retry_exceptions",
    "num_returns",
    "name",
    "resources",
    "scheduling_strategy",
)


def _num_returns(value):
    """Ray's ``num_returns``: an int >= 0 (``"dynamic"`` and ``"streaming"``, Ray's
    generators, are not there)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _errors.InvalidArgumentError(
            f"num_returns must be an int >= 0 (generators, \"dynamic\"/\"streaming\", are "
            f"not supported), not {value!r}"
        )
    return value


def _returned(handles, num_returns):
    """What ``.remote()`` gives for ``num_returns`` objects, as Ray's: the ``ObjectRef``
    for 1, ``None`` for 0, else a list of them."""
    refs = [ObjectRef(handle) for handle in handles]
    if num_returns == 0:
        return None
    return refs


def _check_options(given, allowed, what):
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise TypeError(
            f"unknown {what} option(s) {', '.join(unknown)} (supported: {', '.join(allowed)})"
        )


class Params:
    """What a call needs to know of a function's parameters, worked out once when it is
    decorated (at build time, so it is in the snapshot every instance starts from):
    ``inspect.signature`` is far too slow to run per task."""

    __slots__ = ("fn", "name", "min", "max", "handles", "signature")

    def __init__(self, fn, name, skip_self=False):
        self.fn = fn
        self.name = name
        self.min, self.max, self.handles = 0, None, {}
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            self.signature = f"def {name}(...)"
            return
        params = list(sig.parameters.values())[1 if skip_self else 0 :]
        sig = sig.replace(parameters=params)
        self.signature = f"def {name}{sig}"
        kinds = inspect.Parameter
        positional = [p for p in params if p.kind in (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD)]
        self.min = sum(1 for p in positional if p.default is p.empty)
        self.max = None if any(p.kind == kinds.VAR_POSITIONAL for p in params) else len(positional)
        for i, param in enumerate(positional):
            note = param.annotation
            if note is ActorHandle or note == "ActorHandle":
                self.handles[i] = None
            elif isinstance(note, ActorClass):
                self.handles[i] = note._name

    def check(self, count):
        """Why ``count`` positional arguments do not fit, or ``None``."""
        if count < self.min or (self.max is not None and count > self.max):
            if self.max is None:
                wanted = f"at least {self.min}"
            elif self.min == self.max:
                wanted = str(self.min)
            else:
                wanted = f"{self.min} to {self.max}"
            return f"{self.name}() takes {wanted} positional argument(s), got {count}"
        return None

    def positional(self, args, kwargs, skip_self=False):
        """Positional arguments from a call's ``args``/``kwargs`` (the WIT has positional
        arguments only), checked at submit time."""
        if not kwargs:
            why = self.check(len(args))
            if why:
                raise TypeError(why)
            return list(args)
        try:
            sig = inspect.signature(self.fn)
            if skip_self:
                sig = sig.replace(parameters=list(sig.parameters.values())[1:])
            bound = sig.bind(*args, **kwargs)
        except TypeError as err:
            raise TypeError(f"{self.name}: {err}") from None
        if bound.kwargs:
            raise TypeError(f"{self.name}: keyword-only parameters cannot be passed to a remote call")
        bound.apply_defaults()
        return list(bound.args)


def _exact(name, count):
    params = _no_params(name)
    params.min = params.max = count
    params.signature = f"def {name}()"
    return params


def _no_params(name):
    """The parameters of a function of another component: unknown, so unchecked."""
    params = Params.__new__(Params)
    params.fn, params.name, params.min, params.max, params.handles = None, name, 0, None, {}
    params.signature = f"def {name}(...)"
    return params


def _retry_exceptions(value):
    """Ray's ``retry_exceptions``: a bool, or a list of exception classes (or their names,
    for exceptions of another component) whose raises alone are retried, matched by exact
    class name. ``(retry, names)``."""
    if isinstance(value, bool):
        return value, []
    if isinstance(value, (list, tuple)):
        names = []
        for item in value:
            if isinstance(item, type) and issubclass(item, BaseException):
                names.append(_errors.class_name(item))
            elif isinstance(item, str):
                names.append(item)
            else:
                raise ValueError("retry_exceptions must be either a boolean or a list of exceptions")
        return True, names
    raise ValueError("retry_exceptions must be either a boolean or a list of exceptions")


class RemoteFunction:
    """A function made remote by ``@rustyray.remote``: ``f.remote(*args)`` submits it as
    a task and returns an ``ObjectRef``; ``f(*args)`` still calls it in place."""

    def __init__(self, fn, name, options, params=None):
        self._fn = fn
        self._name = name
        self._options = options
        self._params = params or (Params(fn, name) if fn is not None else _no_params(name))
        if fn is not None:
            self.__doc__ = fn.__doc__
            self.__name__ = name
            self.__wrapped__ = fn

    def __call__(self, *args, **kwargs):
        if self._fn is None:
            raise TypeError(f"{self._name} is a remote function of another component: use .remote()")
        return self._fn(*args, **kwargs)

    def options(self, **options):
        """A copy with task options (Ray's): ``timeout`` (seconds; the task fails with
        ``TaskTimeoutError`` past it), ``max_retries`` (runs after a crash; default 3;
        -1: no bound), ``retry_exceptions`` (retry raised exceptions too; a list of
        exception classes retries those only), ``num_returns`` (the result, a tuple of
        that many values, becomes that many objects: ``.remote()`` gives a list of
        ``ObjectRef``s, or ``None`` for 0), ``resources`` (Ray's custom resources,
        ``{"gpu": 1}``: in a cluster it runs on a live node started with them, the least
        loaded) and ``scheduling_strategy``
        (``NodeAffinitySchedulingStrategy(node_id)``: on that node). A task that asks
        where to run is placed by the node its job's driver runs on; outside a cluster, or
        from inside a task, the submission fails with ``InvalidArgumentError``, and when no
        live node fits, ``get`` raises it naming what was missing."""
        _check_options(options, [o for o in _TASK_OPTIONS if o != "name"], "task")
        merged = dict(self._options)
        merged.update(_placement_options(dict(options)))
        return RemoteFunction(self._fn, self._name, merged, self._params)

    def remote(self, *args, **kwargs):
        """Submits the task; its ``ObjectRef`` at once."""
        if kwargs and self._fn is None:
            raise TypeError(f"{self._name}: a function of another component takes positional arguments only")
        positional = self._params.positional(args, kwargs)
        o = self._options
        timeout_ms = _timeout_ms(o.get("timeout"), "timeout")
        retries = o.get("max_retries")
        retry, retry_types = _retry_exceptions(o.get("retry_exceptions", False))
        num_returns = _num_returns(o.get("num_returns", 1))
        w = _runtime()
        if o.get("resources") or o.get("node_id") is not None:
            handles = w.submit_placed(
                self._name,
                _lower(positional),
                num_returns,
                o.get("resources") or {},
                o.get("node_id"),
                timeout_ms,
                retries,
                retry,
                retry_types,
            )
            if num_returns == 1:
                return ObjectRef(handles[0])
            return _returned(handles, num_returns)
        if num_returns == 1:
            return ObjectRef(w.submit(self._name, _lower(positional), timeout_ms, retries, retry, retry_types))
        handles = w.submit_returns(
            self._name, _lower(positional), num_returns, timeout_ms, retries, retry, retry_types
        )
        return _returned(handles, num_returns)

    def __repr__(self):
        return f"<rustyray remote function {self._name}>"


def remote(fn=None, **options):
    """Makes a function a task (``@rustyray.remote``) or, on a class, an actor class
    (as Ray's ``@ray.remote``). Options: ``name`` (the task's name; default the
    function's), ``timeout`` (seconds), ``max_retries`` (-1: no bound),
    ``retry_exceptions``, ``num_returns``, ``resources``, ``scheduling_strategy`` (see
    ``RemoteFunction.options``)."""

    def wrap(target):
        if inspect.isclass(target):
            return actor(target, **options)
        _check_options(options, _TASK_OPTIONS, "task")
        if "num_returns" in options:
            _num_returns(options["num_returns"])
        opts = _placement_options(dict(options))
        name = opts.pop("name", None) or target.__name__
        if name in FUNCTIONS:
            raise ValueError(f"two remote functions are named {name!r}")
        function = RemoteFunction(target, name, opts)
        FUNCTIONS[name] = function
        return function

    if fn is not None:
        return wrap(fn)
    return wrap


def function(name):
    """A remote function of any loaded component (Rust or Python) by name:
    ``rustyray.function("add").remote(1, 2)``."""
    return RemoteFunction(None, name, {})


def main(fn):
    """Makes ``fn`` the program's entry point for ``rustyray run``. It is called with the
    arguments after ``--`` when it takes a parameter; it returns an exit status (``None``
    is 0); an exception prints its traceback and exits 1."""
    if MAIN:
        raise ValueError("a program has one @rustyray.main")
    MAIN.append(fn)
    return fn


# --- actors -------------------------------------------------------------------------

_ACTOR_OPTIONS = (
    "name",
    "namespace",
    "max_restarts",
    "max_task_retries",
    "get_if_exists",
    "max_pending_calls",
    "lifetime",
    "resources",
    "scheduling_strategy",
)


class NodeAffinitySchedulingStrategy:
    """Ray's ``NodeAffinitySchedulingStrategy``: ``scheduling_strategy=`` of an actor or a
    task that must run on node ``node_id`` (``rustyray list nodes`` shows the ids). Only
    hard affinity (``soft=False``) exists: it runs there, or it fails."""

    def __init__(self, node_id, soft=False):
        if not isinstance(node_id, str) or not node_id:
            raise TypeError(f"node_id must be a node id string, not {node_id!r}")
        if soft:
            raise ValueError(
                "soft node affinity is not supported: an actor or a task runs on the node "
                "asked for, or it fails (soft=False)"
            )
        self.node_id = node_id
        self.soft = False

    def __repr__(self):
        return f"NodeAffinitySchedulingStrategy(node_id={self.node_id!r}, soft=False)"


def _placement_options(options):
    """Checks ``resources`` and ``scheduling_strategy`` and turns the strategy into the
    ``node_id`` the host takes; refuses anything else, naming it."""
    resources = options.get("resources")
    if resources is not None:
        if not isinstance(resources, dict):
            raise TypeError(f"resources must be a dict of name -> amount, not {type(resources).__name__}")
        for name, amount in resources.items():
            if not isinstance(name, str) or not name:
                raise TypeError(f"a resource name must be a non-empty string, not {name!r}")
            if isinstance(amount, bool) or not isinstance(amount, (int, float)):
                raise TypeError(f"resource {name!r}: the amount must be a number, not {amount!r}")
            if not (amount > 0 and amount != float("inf")):
                raise ValueError(f"resource {name!r}: the amount must be positive and finite, not {amount!r}")
    strategy = options.pop("scheduling_strategy", None)
    if strategy is None or strategy == "DEFAULT":
        return options
    if isinstance(strategy, NodeAffinitySchedulingStrategy):
        options["node_id"] = strategy.node_id
        return options
    raise ValueError(
        f"scheduling_strategy {strategy!r} is not supported: use "
        "rustyray.NodeAffinitySchedulingStrategy(node_id) or \"DEFAULT\""
    )
_NOT_METHODS = ("on_stop",)


def _methods(cls):
    return {
        name: member
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_") and name not in _NOT_METHODS
    }


def _check_actor_options(options):
    """Ray's own checks of actor options, before anything reaches the host."""
    name = options.get("name")
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name must be a str, got a {type(name).__name__}")
    if name == "":
        raise _errors.InvalidArgumentError("an actor name cannot be empty")
    if name is None and options.get("get_if_exists"):
        raise _errors.InvalidArgumentError("get_if_exists needs a name: it returns the actor of that name")
    retries = options.get("max_task_retries")
    if retries not in (None, 0) and options.get("max_restarts") in (None, 0):
        raise _errors.InvalidArgumentError(
            "max_task_retries cannot be set without max_restarts: calls are retried on a "
            "restarted actor"
        )


class ActorClass:
    """A class made an actor by ``@rustyray.actor``: ``Cls.remote(*args)`` creates one
    (its own sandboxed instance) and returns an ``ActorHandle``; ``Cls(*args)`` is still a
    plain local object."""

    def __init__(self, cls, name, snapshot, options, specs=None):
        self._cls = cls
        self._name = name
        self._snapshot = snapshot
        self._options = options
        if specs is None and cls is not None:
            init = cls.__init__
            specs = (
                Params(init, name, skip_self=True) if init is not object.__init__ else _exact(name, 0),
                {m: Params(fn, m, skip_self=True) for m, fn in _methods(cls).items()},
            )
        # (constructor's Params, {method: Params}); None for a class of another component.
        self._specs = specs
        # The methods themselves (for ``@rustyray.method`` options); none for a class of
        # another component.
        self._methods = _methods(cls) if cls is not None else {}
        if cls is not None:
            self.__doc__ = cls.__doc__
            self.__name__ = name
            self.__wrapped__ = cls

    def __call__(self, *args, **kwargs):
        if self._cls is None:
            raise TypeError(f"{self._name} is an actor class of another component: use .remote()")
        return self._cls(*args, **kwargs)

    def options(self, **options):
        """A copy with actor options: ``name``, ``namespace``, ``max_restarts``,
        ``max_task_retries``, ``get_if_exists``, ``max_pending_calls``, ``lifetime`` (as Ray's:
        ``"detached"`` lets the actor outlive the program that created it), ``resources``
        (Ray's custom resources, ``{"gpu": 1}``: in a cluster it runs on a node started with
        them) and ``scheduling_strategy`` (``NodeAffinitySchedulingStrategy(node_id)``: on
        that node). An actor that asks for resources or a node is placed by the node its
        job runs on, as a detached one is."""
        _check_options(options, _ACTOR_OPTIONS, "actor")
        if options.get("lifetime") not in ("detached", "non_detached", None):
            raise ValueError('lifetime must be "detached", "non_detached" or None (as in Ray)')
        merged = dict(self._options)
        merged.update(_placement_options(dict(options)))
        return ActorClass(self._cls, self._name, self._snapshot, merged, self._specs)

    def remote(self, *args, **kwargs):
        """Creates the actor (its constructor runs before this returns). Options out of
        range raise ``InvalidArgumentError`` (a ``ValueError``, as Ray's)."""
        _check_actor_options(self._options)
        if self._specs is None:
            if kwargs:
                raise TypeError(f"{self._name}: a class of another component takes positional arguments only")
            positional = list(args)
        else:
            positional = self._specs[0].positional(args, kwargs, skip_self=True)
        handle = _runtime().create_actor(self._name, _lower(positional), self._options)
        return ActorHandle(handle, self._name)

    def __repr__(self):
        return f"<rustyray actor class {self._name}>"


def actor(cls=None, *, snapshot=False, name=None):
    """Makes a class an actor class (``@rustyray.actor``, or ``@rustyray.actor(snapshot=True)``
    so a restarted actor resumes from its state after the last call instead of re-running
    ``__init__``). Public methods become remote methods; ``on_stop`` runs on a graceful
    stop. The snapshot is ``__getstate__()`` (default: the instance's ``__dict__``),
    MessagePack-encoded, restored through ``__setstate__`` when defined."""

    def wrap(target):
        if not inspect.isclass(target):
            raise TypeError("@rustyray.actor goes on a class")
        class_name = name or target.__name__
        if class_name in ACTORS:
            raise ValueError(f"two actor classes are named {class_name!r}")
        actor_class = ActorClass(target, class_name, snapshot, {})
        ACTORS[class_name] = actor_class
        return actor_class

    if cls is not None:
        return wrap(cls)
    return wrap


def actor_class(name):
    """An actor class of any loaded component (Rust or Python) by name:
    ``rustyray.actor_class("Counter").remote(0)``."""
    return ActorClass(None, name, False, {})


def method(*, num_returns=1):
    """Ray's ``@ray.method(num_returns=k)`` on an actor's method: its result, a tuple of
    ``k`` values, becomes ``k`` objects (``.remote()`` gives a list of ``ObjectRef``s, or
    ``None`` for 0). ``handle.m.options(num_returns=k)`` says it per call."""
    _num_returns(num_returns)

    def wrap(fn):
        if not callable(fn):
            raise TypeError("@rustyray.method goes on a method")
        fn.__rustyray_num_returns__ = num_returns
        return fn

    return wrap


class ActorMethod:
    """``handle.method``: ``.remote(*args)`` calls it (an ``ObjectRef``), ``.tell(*args)``
    sends it and forgets the result."""

    __slots__ = ("_actor", "_method", "_num_returns")

    def __init__(self, actor_handle, method, num_returns=None):
        self._actor = actor_handle
        self._method = method
        self._num_returns = num_returns

    def options(self, **options):
        """A copy with call options: ``num_returns`` (as ``@rustyray.method``)."""
        _check_options(options, ("num_returns",), "actor method")
        num_returns = _num_returns(options.get("num_returns", 1))
        return ActorMethod(self._actor, self._method, num_returns)

    def _count(self):
        if self._num_returns is not None:
            return self._num_returns
        cls = ACTORS.get(self._actor._class)
        fn = cls._methods.get(self._method) if cls is not None else None
        return getattr(fn, "__rustyray_num_returns__", 1)

    def _args(self, args, kwargs):
        cls = ACTORS.get(self._actor._class)
        params = cls._specs[1].get(self._method) if cls is not None and cls._specs else None
        if params is None:
            if kwargs:
                raise TypeError(f"{self._method}: keyword arguments need the class's definition")
            return list(args)
        return params.positional(args, kwargs, skip_self=True)

    def remote(self, *args, **kwargs):
        lowered = _lower(self._args(args, kwargs))
        num_returns = self._count()
        if num_returns == 1:
            return ObjectRef(_runtime().call(self._actor._handle, self._method, lowered))
        handles = _runtime().call_returns(self._actor._handle, self._method, lowered, num_returns)
        return _returned(handles, num_returns)

    def tell(self, *args, **kwargs):
        _runtime().tell(self._actor._handle, self._method, _lower(self._args(args, kwargs)))


class ActorHandle:
    """A live actor: ``handle.method.remote(*args)``. Handles may be passed to tasks and
    methods (they travel as the actor's id); a parameter annotated ``ActorHandle`` (or
    with the actor class) receives a handle again."""

    __slots__ = ("_handle", "_class", "__weakref__")

    def __init__(self, handle, class_name=None):
        self._handle = handle
        self._class = class_name

    def _id(self):
        # ``(node, hi, lo)``: the node that made it and 128 random bits, so it cannot be
        # guessed; what the handle travels as inside a value. (Not ``id()``: attributes
        # of a handle are the actor's methods.)
        return _wit_id(self._handle)

    def __getattr__(self, method):
        if method.startswith("_"):
            raise AttributeError(method)
        return ActorMethod(self, method)

    def __repr__(self):
        return f"ActorHandle({self._class or '?'}, {self._id()})"


def get_actor(name, namespace=None):
    """The live actor named ``name`` (in ``namespace``); ``ValueError`` when none is."""
    handle = _runtime().get_named(name, namespace)
    if handle is None:
        raise ValueError(f"no live actor is named {name!r}")
    return ActorHandle(handle)


def kill(actor_handle, *, no_restart=True):
    """Ray's ``ray.kill``: stops the actor now, pending calls fail with ``ActorDiedError``.
    With ``no_restart=False`` the running instance is killed and the actor restarts (from
    its constructor, or its last snapshot) if it has restarts left, using one."""
    if not isinstance(actor_handle, ActorHandle):
        raise TypeError(f"kill() takes an ActorHandle, got a {type(actor_handle).__name__}")
    if not isinstance(no_restart, bool):
        raise TypeError(f"kill()'s no_restart is a bool, got a {type(no_restart).__name__}")
    if no_restart:
        _runtime().kill(actor_handle._handle)
    else:
        _runtime().kill_with(actor_handle._handle, False)


def handle_from_id(actor_id, class_name=None):
    """The handle of a live actor from its ``(node, hi, lo)`` id (a handle that travelled
    inside a value); ``ActorDiedError`` when no live actor has that id."""
    return ActorHandle(_runtime().actor_from_id(actor_id), class_name)


def _wit_id(handle):
    return _runtime().id_of(handle)
