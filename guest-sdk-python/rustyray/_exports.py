"""The component's exports: ``guest`` (describe, invoke, the actor entry points) and
``driver`` (run), implemented over the tables the decorators filled.

componentize-py looks for classes named after the exported interfaces in the program's
entry module; the guest builder's generated entry re-exports ``Guest`` and ``Driver``
from here after importing the program.
"""

import inspect
import sys
import traceback

from . import _api, _errors, _wit

# This instance's actor: (ActorClass, the object), once actor-new or actor-restore ran.
_ACTOR = []


def _flush():
    # An instance is dropped right after the call: what was printed must be out by then.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass


def _arguments(params, raw):
    """The decoded arguments of a call, checked against the function's parameters (worked
    out at build time); an ``InvokeError`` result instead when they do not fit."""
    try:
        values = _wit.invoke_args(raw, _api.ObjectRef)
    except _errors.ObjectDecodeError as err:
        return None, _wit.bad_arguments(f"`{params.name}`: an argument did not decode: {err}")
    why = params.check(len(values))
    if why:
        return None, _wit.bad_arguments(why)
    for index, class_name in params.handles.items():
        if index < len(values) and _wit.is_id(values[index]):
            try:
                values[index] = _api.handle_from_id(values[index], class_name)
            except _errors.RayError as err:
                return None, _wit.bad_arguments(f"`{params.name}` argument {index}: {err}")
    return values, None


def _run(fn, name, values):
    """Calls ``fn``; its encoded result, or the application error of what it raised."""
    try:
        value = fn(*values)
    except Exception as exc:  # the task's error, for its caller
        _flush()
        raise _wit.application_error(
            _errors.format_exception(exc), _errors.type_name(exc)
        ) from None
    try:
        encoded = _wit.result(value, _api._default)
    except _errors.ObjectEncodeError as err:
        _flush()
        raise _wit.application_error(f"the result of `{name}` did not encode: {err}") from None
    _flush()
    return encoded


def _guarded(method):
    """An exception the SDK did not turn into an ``invoke-error`` would trap the instance
    with a bare ``unreachable``: report it as an application error naming it instead."""

    def guarded(self, *args):
        try:
            return method(self, *args)
        except _wit.Err:
            raise
        except Exception as exc:
            _flush()
            raise _wit.application_error(
                "internal error in the rustyray Python SDK: " + _errors.format_exception(exc)
            ) from None

    guarded.__name__ = method.__name__
    return guarded


class Guest:
    def describe(self):
        functions = [_wit.function_info(name, f._params) for name, f in sorted(_api.FUNCTIONS.items())]
        actors = []
        for name, a in sorted(_api.ACTORS.items()):
            init, methods = a._specs
            infos = [_wit.function_info(m, p) for m, p in sorted(methods.items())]
            actors.append(_wit.actor_class_info(name, init, infos, bool(a._snapshot)))
        return _wit.component_info(functions, actors, bool(_api.MAIN))

    @_guarded
    def invoke(self, function, args):
        remote = _api.FUNCTIONS.get(function)
        if remote is None or remote._fn is None:
            raise _wit.function_not_found(function)
        values, error = _arguments(remote._params, args)
        if error is not None:
            raise error
        return _run(remote._fn, function, values)

    @_guarded
    def actor_new(self, class_, args):
        actor_class = _api.ACTORS.get(class_)
        if actor_class is None:
            raise _wit.function_not_found(class_)
        cls = actor_class._cls
        values, error = _arguments(actor_class._specs[0], args)
        if error is not None:
            raise error
        try:
            obj = cls(*values)
        except Exception as exc:
            _flush()
            raise _wit.application_error(
                _errors.format_exception(exc), _errors.type_name(exc)
            ) from None
        _flush()
        _ACTOR[:] = [actor_class, obj]

    @_guarded
    def actor_call(self, method, args):
        if not _ACTOR:
            raise _wit.function_not_found(f"{method} (this instance holds no actor)")
        actor_class, obj = _ACTOR
        params = actor_class._specs[1].get(method)
        if params is None:
            raise _wit.function_not_found(f"{actor_class._name}.{method}")
        values, error = _arguments(params, args)
        if error is not None:
            raise error
        return _run(getattr(obj, method), f"{actor_class._name}.{method}", values)

    def actor_snapshot(self):
        if not _ACTOR or not _ACTOR[0]._snapshot:
            return None
        obj = _ACTOR[1]
        state = obj.__getstate__() if hasattr(obj, "__getstate__") else vars(obj)
        try:
            return _wit.encode_state(state, _api._default)
        except _errors.ObjectEncodeError as err:
            # No snapshot this time: a restart would restore the previous one.
            print(f"rustyray: the state of {_ACTOR[0]._name} did not encode: {err}", file=sys.stderr)
            _flush()
            return None

    @_guarded
    def actor_restore(self, class_, state):
        actor_class = _api.ACTORS.get(class_)
        if actor_class is None:
            raise _wit.function_not_found(class_)
        cls = actor_class._cls
        try:
            value = _wit.decode_state(state)
        except _errors.ObjectDecodeError as err:
            raise _wit.bad_arguments(f"the snapshot of {class_} did not decode: {err}") from None
        obj = cls.__new__(cls)
        try:
            if hasattr(cls, "__setstate__"):
                obj.__setstate__(value)
            else:
                obj.__dict__.update(value)
        except Exception as exc:
            raise _wit.application_error(
                _errors.format_exception(exc), _errors.type_name(exc)
            ) from None
        _ACTOR[:] = [actor_class, obj]

    def actor_stop(self):
        if not _ACTOR:
            return
        on_stop = getattr(_ACTOR[1], "on_stop", None)
        if callable(on_stop):
            try:
                on_stop()
            except Exception as exc:
                print(f"rustyray: on_stop raised {_errors.format_exception(exc)}", file=sys.stderr)
        _flush()


class Driver:
    def run(self, args):
        if not _api.MAIN:
            print("rustyray: this program has no @rustyray.main", file=sys.stderr)
            return 1
        fn = _api.MAIN[0]
        sys.argv = list(args)
        _api.ARGS[:] = list(args[1:])
        try:
            takes_args = bool(inspect.signature(fn).parameters)
        except (TypeError, ValueError):
            takes_args = False
        try:
            status = fn(list(args[1:])) if takes_args else fn()
        except SystemExit as exit:
            status = exit.code
        except BaseException:
            traceback.print_exc()
            _flush()
            return 1
        _flush()
        if status is None:
            return 0
        if isinstance(status, bool) or not isinstance(status, int):
            return 0 if status in (True,) else 1
        return status
