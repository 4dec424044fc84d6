//! The proxy loop: the mailbox of a remote actor's handles in this runtime. It takes
//! the calls in the order they were sent, resolves their top-level `ObjectRef`
//! arguments (references nested in them, or passed as themselves, go as their
//! objects' addresses: `borrow.rs`), sends each through the transport and fills its
//! object with the answer (its references made objects kept where they are).
//! It ends when the last handle here goes, when this runtime shuts down, or on a kill
//! (which it sends on). Ending it never stops the actor itself: that one is detached.

use std::sync::Arc;

use crate::actor_impl::{ActorCell, ActorId, Message, ProxyParts};
use crate::error::{RayError, Result};
use crate::remote::{ActorTransport, RemoteActor, wire_call_args};
use crate::runtime::RuntimeInner;

/// A handle here to `remote`: the live one if this runtime has it already, else a new
/// cell served by a proxy loop.
pub(super) fn attach(
    runtime: &Arc<RuntimeInner>,
    transport: &Arc<dyn ActorTransport>,
    remote: RemoteActor,
) -> Result<Arc<ActorCell>> {
    if let Some(cell) = runtime.actors.get(remote.id) {
        return Ok(cell);
    }
    // The class of the actor's own module when this runtime has it loaded; else the
    // one class of that name here (the calls are checked again where the actor lives).
    let exact = remote.module.as_ref().and_then(|module| {
        runtime
            .registry
            .actor_class(&format!("{module}/{}", remote.class))
            .ok()
    });
    let class = match exact {
        Some(class) => class,
        None => runtime
            .registry
            .actor_class(&remote.class)
            .map_err(|err| match err {
                RayError::ActorClassNotFound(_) => RayError::ActorClassNotFound(format!(
                    "{} (the node hosts an actor of this class, but this job did not load \
                     its module)",
                    remote.class
                )),
                other => other,
            })?,
    };
    let (cell, parts) = crate::actor_impl::proxy_cell(runtime, &remote, class)?;
    runtime.spawn_tracked(serve(runtime.clone(), transport.clone(), remote.id, parts));
    Ok(cell)
}

/// Serves one remote actor's calls from this runtime until its handles here are gone.
async fn serve(
    runtime: Arc<RuntimeInner>,
    transport: Arc<dyn ActorTransport>,
    actor: ActorId,
    mut parts: ProxyParts,
) {
    let reason = loop {
        let message = tokio::select! {
            biased;
            _ = parts.kill.raised() => {
                let _ = transport.kill(actor, true).await;
                break "it was killed";
            }
            _ = runtime.abort.raised() => break "the runtime shut down",
            _ = parts.restart.notified() => {
                let _ = transport.kill(actor, false).await;
                continue;
            }
            message = parts.receiver.recv() => message,
        };
        let (method, args, output) = match message {
            // No handle left here, or this runtime stops: the actor itself goes on.
            None | Some(Message::Stop) => break "its handles here were dropped",
            Some(Message::Call {
                method,
                args,
                output,
            }) => (method, args, output),
        };
        let what = format!("{}.{method}", output.class());
        // Resolved here and kept until answered: the references they hold stay alive
        // until the hosting side has counted them.
        let resolved = tokio::select! {
            biased;
            _ = output.control().cancelled() => continue,
            resolved = crate::task_impl::resolve(args) => resolved,
        };
        let (args, _held) = match resolved {
            Ok(resolved) => (wire_call_args(&runtime, &resolved, &what).await, resolved),
            Err(err) => (Err(err), Vec::new()),
        };
        if !output.start() {
            continue;
        }
        // Handles inside the arguments cross as ids: only those of actors the other
        // side can resolve.
        let args = args.and_then(|args| {
            crate::actor_impl::check_crossable(
                output.carried(),
                &format!("an argument of {what}"),
            )?;
            Ok(args)
        });
        let args = match args {
            Ok(args) => args,
            Err(err) => {
                output.complete(Err(err));
                continue;
            }
        };
        let want_result = output.wants_result();
        let answer = tokio::select! {
            biased;
            _ = parts.kill.raised() => {
                let _ = transport.kill(actor, true).await;
                let err = output.died("it was killed during this call");
                output.complete(Err(err));
                break "it was killed";
            }
            _ = runtime.abort.raised() => {
                let err = output.died("the runtime shut down during this call");
                output.complete(Err(err));
                break "the runtime shut down";
            }
            answer = transport.call(actor, method, args, want_result) => answer,
        };
        // References in the answer: objects kept where they are, counted for this
        // node by the hosting side.
        output.complete(answer.and_then(|value| crate::remote::borrow::import(&runtime, value)));
    };
    parts.receiver.close();
    while let Ok(message) = parts.receiver.try_recv() {
        if let Message::Call { output, .. } = message {
            let err = output.died(reason);
            output.complete(Err(err));
        }
    }
}
