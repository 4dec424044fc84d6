//! The one module that calls the host's imports (`objects`, `tasks`, `actors`,
//! `diagnostics`).
//!
//! Everything above it works with [`Handle`], [`Actor`] and [`RayError`](crate::RayError)
//! and never sees wit-bindgen. On `wasm32` a `Handle` is the WIT `object-ref` resource and
//! an `Actor` the `actor-handle` resource: dropping either drops the resource, which
//! releases the reference on the host. On native targets there is no host: neither type can
//! be constructed, so no code path can hold one, and the calls that would create one fail
//! with [`RayError::Runtime`](crate::RayError::Runtime) (or find nothing, for lookups that
//! answer with an `Option`). That keeps native builds (users' unit tests) compiling without
//! a line of wit-bindgen.

/// One task argument on its way to `tasks.submit`.
#[cfg_attr(
    not(target_arch = "wasm32"),
    allow(dead_code, reason = "native builds never submit")
)]
pub(crate) enum SysArg<'a> {
    /// The value, encoded.
    Value(Encoded),
    /// An object the host resolves to its value before the task runs.
    Object(&'a Handle),
    /// An object passed as a reference (for an `ObjectRef<T>` parameter).
    Reference(&'a Handle),
}

use crate::codec::{Encoded, Encoding};

/// How an actor is created: [`ActorOptions`](crate::ActorOptions), borrowed for one
/// `actors.create` call.
#[cfg_attr(
    not(target_arch = "wasm32"),
    allow(dead_code, reason = "native builds never create actors")
)]
pub(crate) struct SysActorOptions<'a> {
    pub name: Option<&'a str>,
    pub namespace: Option<&'a str>,
    pub max_restarts: u32,
    pub max_task_retries: u32,
    pub get_if_exists: bool,
    pub max_pending_calls: Option<u32>,
    pub max_concurrency: Option<u32>,
    pub detached: bool,
    pub resources: &'a [(String, f64)],
    pub node_id: Option<&'a str>,
}

pub(crate) use imp::*;

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::{Encoded, Encoding, SysActorOptions, SysArg};
    use crate::bindings::rustyray::runtime::{actors, diagnostics, objects, tasks, types};
    use crate::error::RayError;
    use crate::id::Id;

    /// An owned reference to a host object.
    pub type Handle = types::ObjectRef;

    /// An owned handle to a live actor.
    pub type Actor = types::ActorHandle;

    /// A host is always there to call.
    pub(crate) fn available() -> Result<(), RayError> {
        Ok(())
    }

    pub(crate) fn put(value: Encoded) -> Result<Handle, RayError> {
        flush_carried();
        objects::put(&to_value(value)).map_err(from_wit)
    }

    /// Announces the actors whose handles were serialized since the last hand-over, so
    /// the host keeps them alive with the value handed over next (`actors.carry`).
    pub(crate) fn flush_carried() {
        let carried = crate::actor_handle::take_carried();
        if !carried.is_empty() {
            let handles: Vec<&Actor> = carried.iter().collect();
            actors::carry(&handles);
        }
    }

    pub(crate) fn get(handle: &Handle) -> Result<Encoded, RayError> {
        objects::get(handle).map(from_value).map_err(from_wit)
    }

    /// `get` that, inside a call that may interleave, waits with `concurrent-objects.get`
    /// so the actor's other calls run meanwhile; elsewhere the blocking `get`.
    #[cfg(feature = "concurrent")]
    pub(crate) async fn get_async(handle: &Handle) -> Result<Encoded, RayError> {
        match crate::actor_registry::current_call() {
            Some(call) => crate::bindings::rustyray::runtime::concurrent_objects::get(call, handle)
                .await
                .map(from_value)
                .map_err(from_wit),
            None => get(handle),
        }
    }

    /// The `max_concurrency` of the next actor this guest creates.
    #[cfg(feature = "concurrent")]
    #[allow(
        clippy::unnecessary_wraps,
        reason = "the twin without the feature refuses"
    )]
    fn set_max_concurrency(calls: u32) -> Result<(), RayError> {
        crate::bindings::rustyray::runtime::concurrent_actors::next_max_concurrency(calls);
        Ok(())
    }

    /// Without the `concurrent` feature this guest cannot ask for interleaving calls.
    #[cfg(not(feature = "concurrent"))]
    fn set_max_concurrency(calls: u32) -> Result<(), RayError> {
        Err(RayError::InvalidArgument(format!(
            "max_concurrency {calls}: a guest creating an actor whose calls interleave is \
             built with rustyray-sdk's `concurrent` feature"
        )))
    }

    /// Without the `concurrent` feature no call interleaves: the blocking `get`.
    #[cfg(not(feature = "concurrent"))]
    #[allow(clippy::unused_async, reason = "the `concurrent` twin awaits the host")]
    pub(crate) async fn get_async(handle: &Handle) -> Result<Encoded, RayError> {
        get(handle)
    }

    pub(crate) fn size(handle: &Handle) -> Result<(Encoding, u64), RayError> {
        let size = objects::size(handle).map_err(from_wit)?;
        Ok((from_encoding(size.encoding), size.len))
    }

    pub(crate) fn read(handle: &Handle, offset: u64, len: u64) -> Result<Vec<u8>, RayError> {
        objects::read(handle, offset, len).map_err(from_wit)
    }

    /// The WIT value of an encoded one (the buffer moves; the host copies it out).
    pub(crate) fn to_value(value: Encoded) -> types::Value {
        types::Value {
            encoding: match value.encoding {
                Encoding::Msgpack => types::Encoding::Msgpack,
                Encoding::Raw => types::Encoding::Raw,
            },
            data: value.data,
        }
    }

    pub(crate) fn from_value(value: types::Value) -> Encoded {
        Encoded {
            encoding: from_encoding(value.encoding),
            data: value.data,
        }
    }

    fn from_encoding(encoding: types::Encoding) -> Encoding {
        match encoding {
            types::Encoding::Msgpack => Encoding::Msgpack,
            types::Encoding::Raw => Encoding::Raw,
        }
    }

    pub(crate) fn id(handle: &Handle) -> Id {
        from_wit_id(handle.id())
    }

    pub(crate) fn clone_handle(handle: &Handle) -> Handle {
        handle.clone_ref()
    }

    pub(crate) fn wait(handles: &[&Handle], num_ready: u32, timeout_ms: Option<u64>) -> Vec<u32> {
        objects::wait(handles, num_ready, timeout_ms)
    }

    pub(crate) fn free(handles: &[&Handle]) {
        objects::free(handles);
    }

    pub(crate) fn share(handle: &Handle) -> Id {
        from_wit_id(objects::share(handle))
    }

    pub(crate) fn receive(id: Id) -> Result<Handle, RayError> {
        objects::receive(types::Id {
            node: id.node,
            hi: id.hi,
            lo: id.lo,
        })
        .map_err(from_wit)
    }

    pub(crate) fn submit_returns(
        function: &str,
        args: Vec<SysArg<'_>>,
        options: &crate::options::TaskOptions,
        num_returns: u32,
    ) -> Result<Vec<Handle>, RayError> {
        let placed = options;
        let options = types::TaskOptions {
            timeout_ms: options.timeout_ms(),
            max_retries: options.max_retries_value(),
            retry_exceptions: options.retries_exceptions(),
            retry_exception_types: options.retry_exception_types().to_vec(),
        };
        if let Some(placement) = task_placement(placed) {
            return tasks::submit_placed(
                function,
                &to_wit(args),
                &options,
                &placement,
                Some(num_returns),
            )
            .map_err(from_wit);
        }
        tasks::submit_returns(function, &to_wit(args), &options, num_returns).map_err(from_wit)
    }

    pub(crate) fn actor_call_returns(
        actor: &Actor,
        method: &str,
        args: Vec<SysArg<'_>>,
        num_returns: u32,
    ) -> Vec<Handle> {
        actor.call_returns(method, &to_wit(args), num_returns)
    }

    pub(crate) fn submit(
        function: &str,
        args: Vec<SysArg<'_>>,
        options: &crate::options::TaskOptions,
    ) -> Result<Handle, RayError> {
        let placed = options;
        let options = types::TaskOptions {
            timeout_ms: options.timeout_ms(),
            max_retries: options.max_retries_value(),
            retry_exceptions: options.retries_exceptions(),
            retry_exception_types: options.retry_exception_types().to_vec(),
        };
        flush_carried();
        if let Some(placement) = task_placement(placed) {
            let handles = tasks::submit_placed(function, &to_wit(args), &options, &placement, None)
                .map_err(from_wit)?;
            return handles.into_iter().next().ok_or_else(|| {
                RayError::Runtime("submit-placed answered no object for one task".into())
            });
        }
        tasks::submit(function, &to_wit(args), &options).map_err(from_wit)
    }

    /// The WIT placement of a task that asks where to run, if it does.
    fn task_placement(options: &crate::options::TaskOptions) -> Option<tasks::TaskPlacement> {
        if options.resources().is_empty() && options.node_id_value().is_none() {
            return None;
        }
        Some(tasks::TaskPlacement {
            resources: options.resources().to_vec(),
            node_id: options.node_id_value().map(str::to_owned),
        })
    }

    pub(crate) fn actor_create(
        class: &str,
        args: Vec<SysArg<'_>>,
        options: &SysActorOptions<'_>,
    ) -> Result<Actor, RayError> {
        let placement = options;
        let options = types::ActorOptions {
            name: options.name.map(str::to_owned),
            namespace: options.namespace.map(str::to_owned),
            max_restarts: options.max_restarts,
            max_task_retries: options.max_task_retries,
            get_if_exists: options.get_if_exists,
            max_pending_calls: options.max_pending_calls,
            detached: options.detached,
        };
        flush_carried();
        if let Some(calls) = placement.max_concurrency.filter(|&calls| calls != 1) {
            set_max_concurrency(calls)?;
        }
        if placement.resources.is_empty() && placement.node_id.is_none() {
            return actors::create(class, &to_wit(args), &options).map_err(from_wit);
        }
        let placement = actors::Placement {
            resources: placement.resources.to_vec(),
            node_id: placement.node_id.map(str::to_owned),
        };
        actors::create_placed(class, &to_wit(args), &options, &placement).map_err(from_wit)
    }

    pub(crate) fn actor_get_named(name: &str, namespace: Option<&str>) -> Option<Actor> {
        actors::get_named(name, namespace)
    }

    pub(crate) fn actor_from_id(id: Id) -> Result<Actor, RayError> {
        actors::from_id(types::Id {
            node: id.node,
            hi: id.hi,
            lo: id.lo,
        })
        .map_err(from_wit)
    }

    pub(crate) fn actor_id(actor: &Actor) -> Id {
        from_wit_id(actor.id())
    }

    fn from_wit_id(id: types::Id) -> Id {
        Id {
            node: id.node,
            hi: id.hi,
            lo: id.lo,
        }
    }

    pub(crate) fn actor_clone(actor: &Actor) -> Actor {
        actor.clone_handle()
    }

    pub(crate) fn actor_call(actor: &Actor, method: &str, args: Vec<SysArg<'_>>) -> Handle {
        flush_carried();
        actor.call(method, &to_wit(args))
    }

    pub(crate) fn actor_tell(actor: &Actor, method: &str, args: Vec<SysArg<'_>>) {
        flush_carried();
        actor.tell(method, &to_wit(args));
    }

    pub(crate) fn actor_kill(actor: &Actor) {
        actors::kill(actor);
    }

    pub(crate) fn actor_kill_with(actor: &Actor, no_restart: bool) {
        actors::kill_with(actor, no_restart);
    }

    fn to_wit(args: Vec<SysArg<'_>>) -> Vec<types::TaskArg<'_>> {
        args.into_iter()
            .map(|arg| match arg {
                SysArg::Value(value) => types::TaskArg::Value(to_value(value)),
                SysArg::Object(handle) => types::TaskArg::Object(handle),
                SysArg::Reference(handle) => types::TaskArg::Reference(handle),
            })
            .collect()
    }

    pub(crate) fn cancel(handle: &Handle) {
        tasks::cancel(handle);
    }

    pub(crate) fn report_panic(message: &str) {
        diagnostics::report_panic(message);
    }

    fn from_wit(error: types::TaskError) -> RayError {
        use types::TaskError as E;
        match error {
            E::Application(error) => {
                let error = crate::error::ApplicationError::from_parts(
                    error.message,
                    error.type_name,
                    error.value.map(from_value),
                );
                // A `RayError` a task returned (e.g. from a nested `get`) comes back as it
                // was, with its kind: a trap stays a trap.
                match error.as_ray_error() {
                    Some(ray) => ray,
                    None => RayError::Application(error),
                }
            }
            E::Trap(trap) => RayError::Trap {
                message: trap.message,
                backtrace: trap.backtrace,
            },
            E::Cancelled => RayError::Cancelled,
            E::Timeout(ms) => RayError::Timeout { ms },
            E::DependencyFailed(message) => RayError::DependencyFailed(message),
            E::FunctionNotFound(name) => RayError::FunctionNotFound(name),
            E::BadArguments(message) => RayError::BadArguments(message),
            E::InvalidModule(message) => RayError::InvalidModule(message),
            E::Runtime(message) => RayError::Runtime(message),
            E::ActorDied(message) => RayError::ActorDied(message),
            E::LimitExceeded(info) => RayError::LimitExceeded {
                limit: info.limit,
                value: info.value,
                message: info.message,
            },
            E::ObjectFreed(id) => RayError::ObjectFreed(from_wit_id(id)),
            E::InvalidArgument(message) => RayError::InvalidArgument(message),
            E::ObjectLost(info) => RayError::ObjectLost {
                object: info.object,
                node: info.node,
                reason: info.reason,
            },
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::{Encoded, Encoding, SysActorOptions, SysArg};
    use crate::error::RayError;
    use crate::id::Id;

    /// No host, so no object can be referenced: nothing ever constructs this type, and the
    /// functions taking one below are never called.
    #[allow(dead_code, reason = "no handle exists without a host")]
    pub struct Handle(());

    /// No host, so no actor either: like [`Handle`], never constructed.
    #[allow(dead_code, reason = "no actor exists without a host")]
    pub struct Actor(());

    /// There is no host on a native target.
    pub(crate) fn available() -> Result<(), RayError> {
        Err(unavailable())
    }

    /// The error every native call that needs the host returns.
    fn unavailable() -> RayError {
        RayError::Runtime(
            "rustyray guest APIs need the rustyray runtime; on native targets call the \
             function directly"
                .to_owned(),
        )
    }

    pub(crate) fn put(_value: Encoded) -> Result<Handle, RayError> {
        Err(unavailable())
    }

    pub(crate) fn get(_handle: &Handle) -> Result<Encoded, RayError> {
        Err(unavailable())
    }

    #[allow(clippy::unused_async, reason = "the wasm twin awaits the host")]
    pub(crate) async fn get_async(_handle: &Handle) -> Result<Encoded, RayError> {
        Err(unavailable())
    }

    pub(crate) fn size(_handle: &Handle) -> Result<(Encoding, u64), RayError> {
        Err(unavailable())
    }

    pub(crate) fn read(_handle: &Handle, _offset: u64, _len: u64) -> Result<Vec<u8>, RayError> {
        Err(unavailable())
    }

    pub(crate) fn id(_handle: &Handle) -> Id {
        Id::NONE
    }

    pub(crate) fn clone_handle(_handle: &Handle) -> Handle {
        Handle(())
    }

    pub(crate) fn wait(
        _handles: &[&Handle],
        _num_ready: u32,
        _timeout_ms: Option<u64>,
    ) -> Vec<u32> {
        Vec::new()
    }

    pub(crate) fn submit(
        _function: &str,
        _args: Vec<SysArg<'_>>,
        _options: &crate::options::TaskOptions,
    ) -> Result<Handle, RayError> {
        Err(unavailable())
    }

    pub(crate) fn submit_returns(
        _function: &str,
        _args: Vec<SysArg<'_>>,
        _options: &crate::options::TaskOptions,
        _num_returns: u32,
    ) -> Result<Vec<Handle>, RayError> {
        Err(unavailable())
    }

    pub(crate) fn actor_call_returns(
        _actor: &Actor,
        _method: &str,
        _args: Vec<SysArg<'_>>,
        _num_returns: u32,
    ) -> Vec<Handle> {
        Vec::new()
    }

    pub(crate) fn free(_handles: &[&Handle]) {}

    pub(crate) fn share(_handle: &Handle) -> Id {
        Id::NONE
    }

    pub(crate) fn receive(_id: Id) -> Result<Handle, RayError> {
        Err(unavailable())
    }

    pub(crate) fn cancel(_handle: &Handle) {}

    pub(crate) fn actor_create(
        _class: &str,
        _args: Vec<SysArg<'_>>,
        _options: &SysActorOptions<'_>,
    ) -> Result<Actor, RayError> {
        Err(unavailable())
    }

    pub(crate) fn actor_get_named(_name: &str, _namespace: Option<&str>) -> Option<Actor> {
        None
    }

    pub(crate) fn actor_from_id(_id: Id) -> Result<Actor, RayError> {
        Err(unavailable())
    }

    pub(crate) fn actor_id(_actor: &Actor) -> Id {
        Id::NONE
    }

    pub(crate) fn actor_clone(_actor: &Actor) -> Actor {
        Actor(())
    }

    pub(crate) fn actor_call(_actor: &Actor, _method: &str, _args: Vec<SysArg<'_>>) -> Handle {
        Handle(())
    }

    pub(crate) fn actor_tell(_actor: &Actor, _method: &str, _args: Vec<SysArg<'_>>) {}

    pub(crate) fn actor_kill(_actor: &Actor) {}

    pub(crate) fn actor_kill_with(_actor: &Actor, _no_restart: bool) {}
}
