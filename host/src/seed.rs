//! The seed's API, kept so its programs run as written: `ActorSystem`, `TaskSystem`,
//! `TaskBuilder::new(..).submit(&task_system)`, `register_function` with
//! [`task_function!`](crate::task_function).
//!
//! Both systems are views of one [`Runtime`]: the `ActorSystem` owns it, the
//! `TaskSystem` shares it. Shutting either down shuts the runtime down (once).

use std::sync::Arc;

use crate::error::Result;
use crate::registry::NativeFunction;
use crate::runtime::{AsRuntime, Runtime};

/// The seed's actor system: owns the runtime.
#[derive(Debug)]
pub struct ActorSystem {
    runtime: Runtime,
}

impl ActorSystem {
    /// Starts a runtime with default settings.
    ///
    /// # Panics
    /// If the runtime cannot start (no worker threads, or the engine cannot reserve
    /// its memory); [`ActorSystem::try_new`] returns that error instead.
    pub fn new() -> Self {
        match Self::try_new() {
            Ok(system) => system,
            Err(err) => panic!("rustyray runtime failed to start: {err}"),
        }
    }

    /// Starts a runtime with default settings, or says why it cannot.
    pub fn try_new() -> Result<Self> {
        Ok(ActorSystem {
            runtime: Runtime::new()?,
        })
    }

    /// An actor system over a runtime you configured.
    pub fn with_runtime(runtime: Runtime) -> Self {
        ActorSystem { runtime }
    }

    /// The runtime behind it.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Shuts the runtime down gracefully.
    pub async fn shutdown(&self) -> Result<()> {
        self.runtime.shutdown().await
    }
}

impl Default for ActorSystem {
    fn default() -> Self {
        Self::new()
    }
}

impl AsRuntime for ActorSystem {
    fn as_runtime(&self) -> &Runtime {
        &self.runtime
    }
}

/// The seed's task system: submits tasks to the actor system's runtime.
#[derive(Debug)]
pub struct TaskSystem {
    actors: Arc<ActorSystem>,
}

impl TaskSystem {
    /// A task system sharing `actors`' runtime.
    pub fn new(actors: Arc<ActorSystem>) -> Self {
        TaskSystem { actors }
    }

    /// Registers a native function under `name`.
    pub fn register_function(
        &self,
        name: impl Into<String>,
        function: NativeFunction,
    ) -> Result<()> {
        self.actors.runtime.register_function(name, function)
    }

    /// Shuts the runtime down gracefully.
    pub async fn shutdown(&self) -> Result<()> {
        self.actors.runtime.shutdown().await
    }
}

impl AsRuntime for TaskSystem {
    fn as_runtime(&self) -> &Runtime {
        &self.actors.runtime
    }
}
