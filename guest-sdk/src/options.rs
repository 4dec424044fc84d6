//! How work is submitted: [`TaskOptions`] for `name::remote_with(..)` and [`ActorOptions`]
//! for `Actor::remote_with(..)`, mapped onto the WIT `task-options` and `actor-options`
//! records. Anything left unset takes the runtime's default.

use std::time::Duration;

use crate::sys::SysActorOptions;

/// Ray's `-1` for a count of retries or restarts: no bound.
/// [`TaskOptions::max_retries`], [`ActorOptions::max_restarts`] and
/// [`ActorOptions::max_task_retries`] take it (`.max_retries(rustyray::UNLIMITED)` is Ray's
/// `max_retries=-1`). It is `u32::MAX`: the count at which a retry would stop is never
/// reached in practice.
pub const UNLIMITED: u32 = u32::MAX;

/// Options for one task submission. Build with [`TaskOptions::new`] and chain setters.
///
/// ```
/// # extern crate rustyray_sdk as rustyray;
/// use std::time::Duration;
/// let options = rustyray::TaskOptions::new().timeout(Duration::from_millis(50));
/// assert_eq!(options.timeout_ms(), Some(50));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[must_use]
pub struct TaskOptions {
    timeout: Option<Duration>,
    max_retries: Option<u32>,
    retry_exceptions: bool,
    retry_exception_types: Vec<String>,
    resources: Vec<(String, f64)>,
    node_id: Option<String>,
}

impl TaskOptions {
    /// The runtime's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// A wall-clock deadline, counted from when the task starts running. The task fails
    /// with [`RayError::Timeout`](crate::RayError::Timeout) if it runs longer. It can
    /// only shorten the operator's deadline (`--task-timeout`): a longer one is cut to it.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Runs the task again up to `retries` times after a system failure — a trap: a panic
    /// or a wasm fault, which loses the instance — and, with
    /// [`retry_exceptions`](Self::retry_exceptions), after an `Err`. Default 3, as in Ray;
    /// [`UNLIMITED`](crate::UNLIMITED) is Ray's `-1`, retries with no bound (a task that
    /// traps every time then runs until it is cancelled). A cancelled or timed-out task
    /// is never retried. Each run is a fresh instance, so what
    /// a task does outside itself happens at least once, possibly more.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = Some(retries);
        self
    }

    /// Whether an application error (`Err`) is retried too (Ray's `retry_exceptions`).
    /// Default `false`. To retry only some error types, see
    /// [`retry_exceptions_of`](Self::retry_exceptions_of).
    pub fn retry_exceptions(mut self, retry: bool) -> Self {
        self.retry_exceptions = retry;
        self
    }

    /// Retries only application errors of type `E` (Ray's `retry_exceptions=[MyError]`),
    /// up to [`max_retries`](Self::max_retries); an `Err` of another type fails the task
    /// at once. Sets [`retry_exceptions`](Self::retry_exceptions). Chain it for several
    /// types. Matched by [`std::any::type_name`], as
    /// [`ApplicationError::is`](crate::ApplicationError::is) does.
    ///
    /// ```
    /// # extern crate rustyray_sdk as rustyray;
    /// #[derive(Debug)]
    /// struct Flaky;
    /// let options = rustyray::TaskOptions::new().retry_exceptions_of::<Flaky>().max_retries(5);
    /// assert!(options.retries_exceptions());
    /// ```
    pub fn retry_exceptions_of<E>(self) -> Self {
        self.retry_exception_type(std::any::type_name::<E>())
    }

    /// [`retry_exceptions_of`](Self::retry_exceptions_of) by name, for errors of another
    /// component: a Python exception's class name (`"ValueError"`), a JavaScript error's
    /// `name` (`"RangeError"`), a Rust error's `std::any::type_name`.
    pub fn retry_exception_type(mut self, type_name: impl Into<String>) -> Self {
        self.retry_exceptions = true;
        self.retry_exception_types.push(type_name.into());
        self
    }

    /// The type names [`retry_exceptions_of`](Self::retry_exceptions_of) listed (empty:
    /// every application error, if [`retries_exceptions`](Self::retries_exceptions)).
    pub fn retry_exception_types(&self) -> &[String] {
        &self.retry_exception_types
    }

    /// The retries asked for (`None`: the runtime's default, 3).
    pub fn max_retries_value(&self) -> Option<u32> {
        self.max_retries
    }

    /// Whether application errors are retried.
    pub fn retries_exceptions(&self) -> bool {
        self.retry_exceptions
    }

    /// The deadline in whole milliseconds, as the host receives it. A non-zero deadline
    /// under a millisecond rounds up to 1 ms rather than to "no time at all".
    pub fn timeout_ms(&self) -> Option<u64> {
        self.timeout.map(whole_millis)
    }

    /// Needs `amount` of the custom resource `name` (Ray's
    /// `.options(resources={"gpu": 1})`): in a cluster, the job's node runs the task on a
    /// live node started with `rustyray start --resources gpu=N` where `N >= amount`
    /// (the least loaded of them). The task holds them there while it runs: past what
    /// the node has, tasks wait there for their turn (as in Ray). No live node with
    /// them fails the task with
    /// [`RayError::InvalidArgument`](crate::RayError::InvalidArgument); so does the
    /// submission outside a job on a cluster's node. Chain it for several resources
    /// (the same name again replaces its amount).
    ///
    /// ```
    /// # extern crate rustyray_sdk as rustyray;
    /// let options = rustyray::TaskOptions::new().resource("gpu", 1.0);
    /// assert_eq!(options.resources(), &[("gpu".to_string(), 1.0)]);
    /// ```
    pub fn resource(mut self, name: impl Into<String>, amount: f64) -> Self {
        let name = name.into();
        self.resources.retain(|(held, _)| *held != name);
        self.resources.push((name, amount));
        self
    }

    /// Runs the task on the node `node` (a node id of `rustyray list nodes`; Ray's
    /// `NodeAffinitySchedulingStrategy(node_id, soft=False)`). A node that is not alive
    /// fails the task with [`RayError::InvalidArgument`](crate::RayError::InvalidArgument).
    pub fn node_id(mut self, node: impl Into<String>) -> Self {
        self.node_id = Some(node.into());
        self
    }

    /// The custom resources asked for.
    pub fn resources(&self) -> &[(String, f64)] {
        &self.resources
    }

    /// The node asked for, if any.
    pub fn node_id_value(&self) -> Option<&str> {
        self.node_id.as_deref()
    }
}

/// How an actor is created. Build with [`ActorOptions::new`] and chain setters.
///
/// ```
/// # extern crate rustyray_sdk as rustyray;
/// let options = rustyray::ActorOptions::new()
///     .name("counter")
///     .namespace("demo")
///     .max_restarts(3)
///     .max_task_retries(1)
///     .get_if_exists(true);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[must_use]
pub struct ActorOptions {
    name: Option<String>,
    namespace: Option<String>,
    max_restarts: u32,
    max_task_retries: u32,
    get_if_exists: bool,
    max_pending_calls: Option<u32>,
    max_concurrency: Option<u32>,
    detached: bool,
    resources: Vec<(String, f64)>,
    node_id: Option<String>,
}

impl ActorOptions {
    /// An unnamed actor that is not restarted.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers the actor under `name`, so [`get_actor`](crate::get_actor) (or the
    /// generated `Actor::get_named`) finds it from anywhere. Unlike an unnamed actor, it is
    /// not reclaimed when its last handle is dropped: it lives until killed.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The namespace of the [`name`](Self::name); without one, the program's namespace
    /// (on a node, its job's: `--namespace NS`, else an anonymous one of its own; with
    /// `rustyray run`, `"default"` unless `--namespace` says otherwise).
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// How many times the actor is restarted after a trap (a panic) before it is dead for
    /// good. A restarted actor runs its constructor again with the same arguments, or, for a
    /// `#[rustyray::actor(snapshot)]` class, comes back from its last snapshot. Default 0;
    /// [`UNLIMITED`](crate::UNLIMITED) is Ray's `-1`, restarts with no bound.
    pub fn max_restarts(mut self, restarts: u32) -> Self {
        self.max_restarts = restarts;
        self
    }

    /// How many times a call queued behind a crash is retried on the restarted actor.
    /// Default 0: such calls fail; [`UNLIMITED`](crate::UNLIMITED) is Ray's `-1`, retries
    /// with no bound (within `max_restarts`, which must then be set too).
    pub fn max_task_retries(mut self, retries: u32) -> Self {
        self.max_task_retries = retries;
        self
    }

    /// With a [`name`](Self::name): if an actor of that name exists, hand back a handle to
    /// it instead of failing (its constructor does not run again).
    pub fn get_if_exists(mut self, get_if_exists: bool) -> Self {
        self.get_if_exists = get_if_exists;
        self
    }

    /// Ray's own checks, before anything reaches the host: a name is not empty,
    /// `get_if_exists` comes with a name, `max_task_retries` comes with `max_restarts`,
    /// `max_pending_calls` and `max_concurrency` are not 0.
    pub(crate) fn check(&self) -> Result<(), crate::RayError> {
        match &self.name {
            Some(name) if name.is_empty() => Err(crate::RayError::InvalidArgument(
                "an actor name cannot be empty".into(),
            )),
            None if self.get_if_exists => Err(crate::RayError::InvalidArgument(
                "get_if_exists needs a name: it returns the actor of that name".into(),
            )),
            _ if self.max_pending_calls == Some(0) => Err(crate::RayError::InvalidArgument(
                "max_pending_calls must be at least 1 (leave it unset for no bound)".into(),
            )),
            _ if self.max_concurrency == Some(0) => Err(crate::RayError::InvalidArgument(
                "max_concurrency must be at least 1 (1, the default, runs one call at a time)"
                    .into(),
            )),
            _ if self.max_task_retries > 0 && self.max_restarts == 0 => {
                Err(crate::RayError::InvalidArgument(
                    "max_task_retries cannot be set without max_restarts: calls are retried \
                     on a restarted actor"
                        .into(),
                ))
            }
            _ => Ok(()),
        }
    }

    /// Calls sent and not yet answered beyond which a new call fails at once and never
    /// runs (Ray's `max_pending_calls`): its `get` answers
    /// [`RayError::LimitExceeded`](crate::RayError::LimitExceeded) with `limit`
    /// `"max_pending_calls"` (Ray's `PendingCallsLimitExceeded`). Default: unbounded; `0`
    /// is refused at creation with [`RayError::InvalidArgument`](crate::RayError::InvalidArgument).
    pub fn max_pending_calls(mut self, calls: u32) -> Self {
        self.max_pending_calls = Some(calls);
        self
    }

    /// Up to `calls` calls of the actor run at once (Ray's `max_concurrency` of an async
    /// actor), interleaving in its one instance: a method that is an `async fn` taking
    /// `&self` runs as a future, and while it awaits
    /// [`ObjectRef::get_async`](crate::ObjectRef::get_async) the actor's other calls run.
    /// Its other methods run alone, between the interleaving ones. State the calls share
    /// lives behind `Cell`/`RefCell`; borrow it only between awaits. Default 1 (one call
    /// at a time, in order). Both the creating guest and the class's guest are built with
    /// this crate's `concurrent` feature. Refused with `RayError::InvalidArgument` at
    /// creation: 0, more than the host's bound (1000), a creating guest without the
    /// feature, a `snapshot` class, a class with no `async fn` method taking `&self` (or
    /// from a guest without the feature), and a detached or placed actor in a job on a
    /// node.
    pub fn max_concurrency(mut self, calls: u32) -> Self {
        self.max_concurrency = Some(calls);
        self
    }

    /// Lets the actor outlive the program that created it (Ray's `lifetime="detached"`).
    /// By default an actor stops (its `on_stop` runs) when the program whose `main`
    /// created it, directly or through its tasks, ends; a detached one lives on until
    /// it is killed or the runtime shuts down, so a named detached actor can serve
    /// later programs on a node: there it lives in the node's own runtime, outlives the
    /// job, and (for a `snapshot` class, with the node's `--data-dir`) a node restart.
    /// Values sent to it cross as values: an `ObjectRef` nested in an argument is refused.
    pub fn detached(mut self, detached: bool) -> Self {
        self.detached = detached;
        self
    }

    /// Needs `amount` of the custom resource `name` (Ray's `resources={"gpu": 1}`): in
    /// a job on a node, the node places the actor on a live node of its cluster started
    /// with `--resources name=N` that has it (calls reach it from anywhere, as for a
    /// detached actor; values cross as values). The actor holds them there for its
    /// lifetime: until they are free, its creation waits. Outside a node, creation
    /// fails with `RayError::InvalidArgument`. Setting a name twice keeps the last
    /// amount.
    pub fn resource(mut self, name: impl Into<String>, amount: f64) -> Self {
        let name = name.into();
        self.resources.retain(|(kept, _)| *kept != name);
        self.resources.push((name, amount));
        self
    }

    /// Runs the actor on the node of that id (`rustyray list nodes`; Ray's
    /// `NodeAffinitySchedulingStrategy`, hard): creation fails if that node is not alive.
    pub fn node_id(mut self, node: impl Into<String>) -> Self {
        self.node_id = Some(node.into());
        self
    }

    /// The options as `actors.create` takes them.
    pub(crate) fn to_sys(&self) -> SysActorOptions<'_> {
        SysActorOptions {
            name: self.name.as_deref(),
            namespace: self.namespace.as_deref(),
            max_restarts: self.max_restarts,
            max_task_retries: self.max_task_retries,
            get_if_exists: self.get_if_exists,
            max_pending_calls: self.max_pending_calls,
            max_concurrency: self.max_concurrency,
            detached: self.detached,
            resources: &self.resources,
            node_id: self.node_id.as_deref(),
        }
    }
}

/// A duration as the host's milliseconds: saturating, and rounding a non-zero duration
/// under a millisecond up to 1.
pub(crate) fn whole_millis(duration: Duration) -> u64 {
    let ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 && !duration.is_zero() {
        1
    } else {
        ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_in_milliseconds() {
        assert_eq!(TaskOptions::new().timeout_ms(), None);
        let at = |d| TaskOptions::new().timeout(d).timeout_ms();
        assert_eq!(at(Duration::from_millis(50)), Some(50));
        assert_eq!(at(Duration::from_micros(10)), Some(1));
        assert_eq!(at(Duration::ZERO), Some(0));
        assert_eq!(at(Duration::MAX), Some(u64::MAX));
    }

    #[test]
    fn actor_options_map_onto_the_wit_record() {
        let defaults = ActorOptions::new();
        let sys = defaults.to_sys();
        assert_eq!(
            (
                sys.name,
                sys.namespace,
                sys.max_restarts,
                sys.max_task_retries
            ),
            (None, None, 0, 0)
        );
        assert!(!sys.get_if_exists);
        let options = ActorOptions::new()
            .name("n")
            .namespace("ns")
            .max_restarts(2)
            .max_task_retries(5)
            .get_if_exists(true);
        let sys = options.to_sys();
        assert_eq!(
            (
                sys.name,
                sys.namespace,
                sys.max_restarts,
                sys.max_task_retries
            ),
            (Some("n"), Some("ns"), 2, 5)
        );
        assert!(sys.get_if_exists);
    }
}
