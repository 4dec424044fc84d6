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


def _handle_params(fn, skip_self):
    """Indexes of parameters annotated as actor handles: they receive a handle again."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return {}
    if skip_self:
        params = params[1:]
    wanted = {}
    for i, param in enumerate(params):
        note = param.annotation
        if note is _api.ActorHandle or note == "ActorHandle":
            wanted[i] = None
        elif isinstance(note, _api.ActorClass):
            wanted[i] = note._name
    return wanted


def _arguments(fn, name, raw, skip_self=False):
    """The decoded arguments of a call, checked against ``fn``'s signature; an
    ``InvokeError`` result instead when they do not fit."""
    try:
        values = _wit.invoke_args(raw)
    except _errors.ObjectDecodeError as err:
        return None, _wit.bad_arguments(f"`{name}`: an argument did not decode: {err}")
    try:
        sig = inspect.signature(fn)
        if skip_self:
            sig = sig.replace(parameters=list(sig.parameters.values())[1:])
        sig.bind(*values)
    except TypeError as err:
        return None, _wit.bad_arguments(f"`{name}`: {err}")
    except ValueError:
        pass
    for index, class_name in _handle_params(fn, skip_self).items():
        if index < len(values) and isinstance(values[index], int):
            try:
                values[index] = _api.handle_from_id(values[index], class_name)
            except _errors.RayError as err:
                return None, _wit.bad_arguments(f"`{name}` argument {index}: {err}")
    return values, None


def _run(fn, name, values):
    """Calls ``fn``; its encoded result, or the application error of what it raised."""
    try:
        value = fn(*values)
    except Exception as exc:  # the task's error, for its caller
        _flush()
        raise _wit.application_error(_errors.format_exception(exc)) from None
    try:
        encoded = _wit.result(value, _api._default)
    except _errors.ObjectEncodeError as err:
        _flush()
        raise _wit.application_error(f"the result of `{name}` did not encode: {err}") from None
    _flush()
    return encoded


def _signature(fn, name, skip_self=False):
    return _api._signature(fn, name, skip_self)


def _actor_methods(cls):
    return _api._methods(cls)


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
        functions = [
            _wit.function_info(name, _signature(f._fn, name))
            for name, f in sorted(_api.FUNCTIONS.items())
        ]
        actors = []
        for name, a in sorted(_api.ACTORS.items()):
            methods = [
                _wit.function_info(m, _signature(fn, m, skip_self=True))
                for m, fn in sorted(_actor_methods(a._cls).items())
            ]
            init = a._cls.__init__
            constructor = (
                _signature(init, name, skip_self=True) if init is not object.__init__ else f"def {name}()"
            )
            actors.append(_wit.actor_class_info(name, constructor, methods, bool(a._snapshot)))
        return _wit.component_info(functions, actors, bool(_api.MAIN))

    @_guarded
    def invoke(self, function, args):
        remote = _api.FUNCTIONS.get(function)
        if remote is None or remote._fn is None:
            raise _wit.function_not_found(function)
        values, error = _arguments(remote._fn, function, args)
        if error is not None:
            raise error
        return _run(remote._fn, function, values)

    @_guarded
    def actor_new(self, class_, args):
        actor_class = _api.ACTORS.get(class_)
        if actor_class is None:
            raise _wit.function_not_found(class_)
        cls = actor_class._cls
        init = cls.__init__
        if init is object.__init__:
            if args:
                raise _wit.bad_arguments(f"`{class_}()` takes no arguments, got {len(args)}")
            values = []
        else:
            values, error = _arguments(init, class_, args, skip_self=True)
            if error is not None:
                raise error
        try:
            obj = cls(*values)
        except Exception as exc:
            _flush()
            raise _wit.application_error(_errors.format_exception(exc)) from None
        _flush()
        _ACTOR[:] = [actor_class, obj]

    @_guarded
    def actor_call(self, method, args):
        if not _ACTOR:
            raise _wit.function_not_found(f"{method} (this instance holds no actor)")
        actor_class, obj = _ACTOR
        fn = _actor_methods(actor_class._cls).get(method)
        if fn is None:
            raise _wit.function_not_found(f"{actor_class._name}.{method}")
        values, error = _arguments(fn, f"{actor_class._name}.{method}", args, skip_self=True)
        if error is not None:
            raise error
        return _run(getattr(obj, method), f"{actor_class._name}.{method}", values)

    def actor_snapshot(self):
        if not _ACTOR or not _ACTOR[0]._snapshot:
            return None
        obj = _ACTOR[1]
        state = obj.__getstate__() if hasattr(obj, "__getstate__") else vars(obj)
        try:
            return _wit.encode(state, _api._default)
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
            value = _wit.decode(state)
        except _errors.ObjectDecodeError as err:
            raise _wit.bad_arguments(f"the snapshot of {class_} did not decode: {err}") from None
        obj = cls.__new__(cls)
        try:
            if hasattr(cls, "__setstate__"):
                obj.__setstate__(value)
            else:
                obj.__dict__.update(value)
        except Exception as exc:
            raise _wit.application_error(_errors.format_exception(exc)) from None
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
