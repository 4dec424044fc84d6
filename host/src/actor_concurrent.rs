//! Actors whose calls interleave: `max_concurrency` > 1 (Ray's async actors).
//!
//! Such an actor is still one instance, one store. Its calls go through the guest's
//! `concurrent-actor.actor-call` export, lifted async, with `call_concurrent` inside
//! `run_concurrent` on the actor's store: a call that awaits `concurrent-objects.get` (a
//! concurrent host function, which does not hold the store while it waits) lets the
//! others run, up to `max_concurrency` at once. A method the guest does not mark as
//! interleaving (Rust: anything but an `async fn` taking `&self`) runs alone: it starts
//! once nothing else is in flight, and nothing starts while it runs.
//!
//! Each call has its own id, which its waits name: a cancel reaches that call only (at
//! its next wait, as for any actor call, see `call_cancel`), and its deadline is its own
//! (counted from its start). The instance is shared, so whatever loses it — a trap in
//! one call, a call past its deadline, `exit_actor`, a kill — ends every call in flight
//! (`ActorDied`, or `Timeout` for the call past its deadline); the actor then restarts
//! from its constructor while restarts are left. Calls in flight when the instance is
//! lost are not retried (`max_task_retries` applies to one-at-a-time actors). What the
//! calls print is attached to the call that ends next; fuel is refilled when a call
//! starts; the tasks a call submits are not children of that call (they are not
//! cancelled with it).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};
use wasmtime::component::{Accessor, ComponentType, Linker, Lower, Resource, TypedFunc};
use wasmtime::{AsContextMut, StoreContextMut};

use super::{ActorCell, ActorClass, CallOutput, End, Incarnation, Interrupt, Mailbox, Message};
use crate::bindings::{GuestObjectRef, InvokeError, TaskCtx, TaskError, WitValue};
use crate::call_cancel::CallCancel;
use crate::codec::Value;
use crate::error::{RayError, Result, TrapContext};
use crate::object_store::Slot;
use crate::task_impl::{Resolved, TaskArg, TaskControl, resolve};

/// `guest.argument`, owned: what `concurrent-actor.actor-call` is passed (a call
/// outlives the borrow `guest.actor-call`'s arguments are lowered from).
#[derive(ComponentType, Lower)]
#[component(variant)]
enum CallArgument {
    #[component(name = "value")]
    Value(WitValue),
    #[component(name = "reference")]
    Reference(Resource<GuestObjectRef>),
}

/// `concurrent-actor.actor-call`.
type CallFunc =
    TypedFunc<(u64, String, Vec<CallArgument>), (std::result::Result<WitValue, InvokeError>,)>;

/// Refuses `max_concurrency` > 1 for a class that cannot have it.
pub(crate) fn check_class(class: &ActorClass, max_concurrency: u32) -> Result<()> {
    if max_concurrency <= 1 {
        return Ok(());
    }
    if class.snapshot {
        return Err(RayError::InvalidOptions(format!(
            "max_concurrency {max_concurrency} is refused for {}: it is a snapshot class, and a \
             snapshot taken while calls are half-run is not a state any call left",
            class.name
        )));
    }
    if class.concurrent_methods.is_empty() || class.component.concurrent().is_none() {
        return Err(RayError::InvalidOptions(format!(
            "max_concurrency {max_concurrency} is refused for {}: it has no method that can \
             interleave (Rust: an `async fn` taking `&self`, in a guest built with rustyray-sdk's \
             `concurrent` feature; Python and JavaScript actors run one call at a time)",
            class.name
        )));
    }
    Ok(())
}

/// Defines `concurrent-objects` and `concurrent-actors` (in the concurrent engine's
/// linker: only a `concurrent-module` imports them).
pub(crate) fn add_to_linker(linker: &mut Linker<TaskCtx>) -> wasmtime::Result<()> {
    let mut objects = linker.instance("rustyray:runtime/concurrent-objects@0.1.0")?;
    objects.func_wrap_concurrent(
        "get",
        |accessor: &Accessor<TaskCtx>, (call, handle): (u64, Resource<GuestObjectRef>)| {
            Box::pin(concurrent_get(accessor, call, handle))
        },
    )?;
    let mut actors = linker.instance("rustyray:runtime/concurrent-actors@0.1.0")?;
    actors.func_wrap(
        "next-max-concurrency",
        |mut store: StoreContextMut<'_, TaskCtx>, (calls,): (u32,)| {
            store.data_mut().next_max_concurrency = Some(calls);
            Ok(())
        },
    )?;
    Ok(())
}

/// What `concurrent-objects.get` finds before it waits.
enum Before {
    /// The call was cancelled: told now.
    Cancelled,
    /// The object to wait for, and the call's cancel to race (none: not a call in flight,
    /// or told already).
    Wait(Arc<Slot>, Option<Arc<TaskControl>>),
}

/// `concurrent-objects.get`: waits without the store, so the instance's other calls run.
async fn concurrent_get(
    accessor: &Accessor<TaskCtx>,
    call: u64,
    handle: Resource<GuestObjectRef>,
) -> wasmtime::Result<(std::result::Result<WitValue, TaskError>,)> {
    let before = accessor.with(|mut access| -> wasmtime::Result<Before> {
        let data = access.data_mut();
        let slot = data.table.get(&handle)?.slot.clone();
        Ok(match data.calls.get_mut(&call) {
            Some(cancel) => {
                if cancel.tell() {
                    Before::Cancelled
                } else {
                    Before::Wait(slot, cancel.pending())
                }
            }
            None => Before::Wait(slot, None),
        })
    })?;
    let (slot, pending) = match before {
        Before::Cancelled => return Ok((Err(TaskError::Cancelled),)),
        Before::Wait(slot, pending) => (slot, pending),
    };
    if !slot.is_ready()
        && let Some(control) = pending
    {
        let cancelled = tokio::select! {
            biased;
            () = control.cancelled() => true,
            _ = slot.ready() => false,
        };
        if cancelled {
            accessor.with(|mut access| {
                if let Some(cancel) = access.data_mut().calls.get_mut(&call) {
                    cancel.tell();
                }
            });
            return Ok((Err(TaskError::Cancelled),));
        }
    }
    let value = slot.get_value().await;
    Ok((accessor.with(|mut access| match value {
        Ok(value) => Ok(access.data_mut().value_to_guest(&value)),
        Err(err) => Err(TaskError::from(&err)),
    }),))
}

/// What one call came to.
enum Outcome {
    /// Its answer, and the actors whose handles its result holds.
    Answer(Result<Value>, Vec<Arc<ActorCell>>),
    /// The instance trapped in it.
    Trap(wasmtime::Error),
    /// It ran past its deadline.
    Timeout(Duration),
    /// It called WASI `exit` (`exit_actor`): the status.
    Exited(i32),
}

/// How serving one instance ended.
enum Served {
    End(End),
    /// The instance is lost: why; `killed` for a kill to be restarted (with no restart
    /// left, the actor ends as after a kill).
    Lost {
        cause: String,
        killed: bool,
    },
    /// The actor is dead for good: why.
    Dead(String),
}

/// How the loop inside `run_concurrent` ended.
enum Inside {
    Served(Served),
    /// A call trapped: its id and the trap (rendered with the store, once out).
    Trapped(u64, wasmtime::Error),
}

/// What one call needs besides the instance.
struct CallPlan {
    call: u64,
    what: String,
    method: String,
    args: Vec<TaskArg>,
    control: Arc<TaskControl>,
    deadline: Option<Duration>,
    fuel: bool,
}

/// Runs one call in the instance: resolves its arguments (unless cancelled first), calls
/// `actor-call`, takes its result.
async fn run_call(accessor: &Accessor<TaskCtx>, func: CallFunc, plan: CallPlan) -> (u64, Outcome) {
    let CallPlan {
        call,
        what,
        method,
        args,
        control,
        deadline,
        fuel,
    } = plan;
    let args = tokio::select! {
        biased;
        () = control.cancelled() => return (call, Outcome::Answer(Err(RayError::Cancelled), Vec::new())),
        args = resolve(args) => args,
    };
    let args = match args {
        Ok(args) => args,
        Err(err) => return (call, Outcome::Answer(Err(err), Vec::new())),
    };
    let params = accessor.with(|mut access| -> wasmtime::Result<Vec<CallArgument>> {
        if fuel {
            let limit = access.data_mut().limiter.limits.fuel.unwrap_or(u64::MAX);
            // Fails only when the engine does not meter fuel.
            let _ = access.as_context_mut().set_fuel(limit);
        }
        let data = access.data_mut();
        data.calls.insert(call, CallCancel::new(control.clone()));
        args.iter()
            .map(|arg| {
                Ok(match arg {
                    Resolved::Value(value) => CallArgument::Value(data.value_to_guest(value)),
                    Resolved::Reference(slot) => CallArgument::Reference(
                        data.table.push(GuestObjectRef { slot: slot.clone() })?,
                    ),
                })
            })
            .collect()
    });
    let params = match params {
        Ok(params) => params,
        Err(err) => {
            let err = RayError::Internal(format!("arguments of {what}: {err:#}"));
            return (call, Outcome::Answer(Err(err), Vec::new()));
        }
    };
    let guest = func.call_concurrent(accessor, (call, method, params));
    let outcome = match deadline {
        Some(limit) => match tokio::time::timeout(limit, guest).await {
            Ok(outcome) => outcome,
            Err(_) => return (call, Outcome::Timeout(limit)),
        },
        None => guest.await,
    };
    let told = accessor.with(|mut access| {
        access
            .data_mut()
            .calls
            .remove(&call)
            .is_some_and(|cancel| cancel.told())
    });
    let outcome = match outcome {
        Ok((Ok(value),)) => accessor.with(|mut access| {
            let data = access.data_mut();
            let checked = data
                .limiter
                .limits
                .check_result(&what, value.data.len())
                .and_then(|()| data.value_from_guest(value));
            Outcome::Answer(checked, data.take_carried())
        }),
        Ok((Err(err),)) => Outcome::Answer(Err(super::invoke_error(&what, err)), Vec::new()),
        Err(err) => match err.downcast_ref::<wasmtime_wasi::I32Exit>() {
            Some(exit) => Outcome::Exited(exit.0),
            None => Outcome::Trap(err),
        },
    };
    // Told it was cancelled, the call answers so, whatever it returned (as a
    // one-at-a-time actor's call does).
    match outcome {
        Outcome::Answer(_, carried) if told => {
            drop(carried);
            (call, Outcome::Answer(Err(RayError::Cancelled), Vec::new()))
        }
        outcome => (call, outcome),
    }
}

impl Mailbox {
    /// Serves an actor whose calls interleave until it ends: its instance, and new ones
    /// after each loss while restarts are left; then, dead, answers every call with
    /// `ActorDied`.
    pub(super) async fn serve_concurrent(
        &mut self,
        actor: &mut Incarnation,
        ctor_args: &[Resolved],
        restarts: &mut u32,
        dead: &mut Option<String>,
    ) -> End {
        loop {
            if let Some(reason) = dead.clone() {
                return self.answer_dead(&reason).await;
            }
            match self.serve_incarnation(actor).await {
                Served::End(end) => return end,
                Served::Dead(reason) => *dead = Some(reason),
                Served::Lost { cause, killed } => {
                    if *restarts >= self.options.max_restarts {
                        if killed {
                            return End::Abrupt(Interrupt::Killed.reason());
                        }
                        *dead = Some(format!("{cause}, with no restarts left"));
                    } else {
                        *restarts += 1;
                        self.record.restarting();
                        match self.restart(ctor_args, None).await {
                            Ok(Ok(restarted)) => *actor = restarted,
                            Ok(Err(err)) => {
                                *dead = Some(format!("{cause}, and it could not restart: {err}"));
                            }
                            Err(interrupt) => return End::Abrupt(interrupt.reason()),
                        }
                    }
                }
            }
            // A dead actor lets go of its name at once (as a one-at-a-time one does).
            if let Some(reason) = dead.as_ref() {
                self.record.dead(reason);
                self.runtime.actors.unpin(self.id, &self.name);
                self.forget();
            }
        }
    }

    /// A dead actor: every call answers `ActorDied` with `reason` until it ends.
    async fn answer_dead(&mut self, reason: &str) -> End {
        loop {
            let message = tokio::select! {
                biased;
                _ = self.kill.raised() => return End::Abrupt(Interrupt::Killed.reason()),
                _ = self.runtime.abort.raised() => return End::Abrupt(Interrupt::Aborted.reason()),
                _ = crate::signal::raised_or_never(self.scope.as_deref()) => {
                    return End::Graceful(Interrupt::ProgramEnded.reason());
                }
                _ = self.restart.notified() => continue,
                message = self.receiver.recv() => message,
            };
            match message {
                None | Some(Message::Stop) => return End::Graceful("it stopped"),
                Some(Message::Call { output, .. }) => {
                    let err = output.died(reason);
                    output.complete(Err(err));
                }
            }
        }
    }

    /// Serves calls in `actor`'s instance until the actor ends or the instance is lost.
    async fn serve_incarnation(&mut self, actor: &mut Incarnation) -> Served {
        let Some(exports) = self.class.component.concurrent() else {
            return Served::Dead(format!(
                "{} does not export `{}`",
                self.class.component.source_name(),
                crate::component::CONCURRENT_INTERFACE
            ));
        };
        let func: CallFunc = match actor
            .instance
            .get_typed_func(&mut actor.store, exports.call)
        {
            Ok(func) => func,
            Err(err) => {
                return Served::Dead(format!(
                    "its `concurrent-actor.actor-call` export has the wrong type: {err:#}"
                ));
            }
        };
        let max = self.options.max_concurrency as usize;
        let deadline = self.deadline();
        let fuel = self.runtime.sandbox.fuel;
        let kill = self.kill.clone();
        let restart = self.restart.clone();
        let runtime = self.runtime.clone();
        let scope = self.scope.clone();
        let class = self.class.clone();
        let receiver = &mut self.receiver;
        let Incarnation { store, capture, .. } = actor;
        let capture = &*capture;
        // The calls taken and not answered, by id (answered here if the instance is lost).
        let mut outputs: HashMap<u64, CallOutput> = HashMap::new();
        // A call of a method that runs alone, waiting for the ones in flight to end.
        let mut held: Option<(String, Vec<TaskArg>, CallOutput)> = None;
        let mut next_call = 0u64;
        let inside = store
            .run_concurrent(async |accessor| -> Inside {
                let mut running = FuturesUnordered::new();
                // A taken call's future: it runs until it answers (or the instance is lost).
                let start = |call, method, args, output: &CallOutput| {
                    run_call(accessor, func, plan(&class, call, method, args, output, deadline, fuel))
                };
                // The call that runs alone, while it does.
                let mut alone: Option<u64> = None;
                let mut ending: Option<End> = None;
                loop {
                    if running.is_empty()
                        && let Some((method, args, output)) = held.take()
                    {
                        next_call += 1;
                        if output.start() {
                            alone = Some(next_call);
                            running.push(start(next_call, method, args, &output));
                            outputs.insert(next_call, output);
                        }
                    }
                    if running.is_empty() {
                        if let Some(end) = ending.take() {
                            return Inside::Served(Served::End(end));
                        }
                        // Nothing in flight: what the last calls shared and left is let go.
                        accessor.with(|mut access| access.data_mut().refs.clear());
                    }
                    let room = ending.is_none()
                        && held.is_none()
                        && alone.is_none()
                        && running.len() < max;
                    tokio::select! {
                        biased;
                        _ = kill.raised() => {
                            return Inside::Served(Served::End(End::Abrupt(Interrupt::Killed.reason())));
                        }
                        _ = runtime.abort.raised() => {
                            return Inside::Served(Served::End(End::Abrupt(Interrupt::Aborted.reason())));
                        }
                        _ = crate::signal::raised_or_never(scope.as_deref()), if ending.is_none() => {
                            let end = if running.is_empty() && held.is_none() {
                                End::Graceful(Interrupt::ProgramEnded.reason())
                            } else {
                                End::Abrupt(Interrupt::ProgramEnded.reason())
                            };
                            return Inside::Served(Served::End(end));
                        }
                        _ = restart.notified() => {
                            return Inside::Served(Served::Lost {
                                cause: "it was killed".to_string(),
                                killed: true,
                            });
                        }
                        Some((call, outcome)) = running.next(), if !running.is_empty() => {
                            if alone == Some(call) {
                                alone = None;
                            }
                            let Some(output) = outputs.remove(&call) else { continue };
                            match outcome {
                                Outcome::Answer(answer, carried) => {
                                    output.set_output(capture.take());
                                    if answer.is_ok() {
                                        output.carry(carried);
                                    }
                                    output.complete(answer);
                                }
                                Outcome::Timeout(limit) => {
                                    output.set_output(capture.take());
                                    output.complete(Err(RayError::Timeout(limit)));
                                    return Inside::Served(Served::Lost {
                                        cause: format!(
                                            "a call ran past its deadline of {limit:?}"
                                        ),
                                        killed: false,
                                    });
                                }
                                Outcome::Exited(status) => {
                                    let reason =
                                        format!("it exited (exit_actor, status {status})");
                                    output.set_output(capture.take());
                                    let err = output.died(&reason);
                                    output.complete(Err(err));
                                    return Inside::Served(Served::Dead(reason));
                                }
                                Outcome::Trap(err) => {
                                    outputs.insert(call, output);
                                    return Inside::Trapped(call, err);
                                }
                            }
                        }
                        message = receiver.recv(), if room => match message {
                            None | Some(Message::Stop) => ending = Some(End::Graceful("it stopped")),
                            Some(Message::Call { method, args, output }) => {
                                let interleaves =
                                    class.concurrent_methods.contains(&method);
                                if !interleaves && !running.is_empty() {
                                    held = Some((method, args, output));
                                    continue;
                                }
                                next_call += 1;
                                // Cancelled while queued: answered already, never runs.
                                if !output.start() {
                                    continue;
                                }
                                if !interleaves {
                                    alone = Some(next_call);
                                }
                                running.push(start(next_call, method, args, &output));
                                outputs.insert(next_call, output);
                            }
                        },
                    }
                }
            })
            .await;
        let (served, trapped) = match inside {
            Ok(Inside::Served(served)) => (served, None),
            Ok(Inside::Trapped(call, err)) => (
                Served::Lost {
                    cause: String::new(),
                    killed: false,
                },
                Some((Some(call), err)),
            ),
            Err(err) => (
                Served::Lost {
                    cause: String::new(),
                    killed: false,
                },
                Some((None, err)),
            ),
        };
        // The instance is lost or the actor ends: every call still in flight is answered.
        let (served, trapping, others) = match trapped {
            Some((call, err)) => {
                let what = call
                    .and_then(|call| outputs.get(&call))
                    .map_or_else(|| class.name.clone(), |output| output.class().to_string());
                let context = TrapContext {
                    task: self.id.to_string(),
                    arg_sizes: Vec::new(),
                };
                let trap = crate::component::call_error(&what, err, store, context);
                let cause = format!("it trapped: {trap}");
                let trapping = call
                    .and_then(|call| outputs.remove(&call))
                    .map(|output| (output, format!("it trapped during this call: {trap}")));
                let others = format!("it trapped during another call in flight: {trap}");
                (
                    Served::Lost {
                        cause,
                        killed: false,
                    },
                    trapping,
                    others,
                )
            }
            None => {
                let others = match &served {
                    Served::End(End::Abrupt(reason)) => {
                        format!("it was stopped during this call ({reason})")
                    }
                    Served::Lost { cause, .. } => format!("{cause} during this call"),
                    Served::Dead(reason) => reason.clone(),
                    Served::End(End::Graceful(reason)) => reason.to_string(),
                };
                (served, None, others)
            }
        };
        let printed = capture.take();
        if let Some((output, reason)) = trapping {
            output.set_output(printed);
            let err = output.died(&reason);
            output.complete(Err(err));
        }
        for (_, output) in outputs.drain() {
            let err = output.died(&others);
            output.complete(Err(err));
        }
        if let Some((_, _, output)) = held.take() {
            let err = output.died(&others);
            output.complete(Err(err));
        }
        served
    }
}

/// A call's plan from its message.
fn plan(
    class: &ActorClass,
    call: u64,
    method: String,
    args: Vec<TaskArg>,
    output: &CallOutput,
    deadline: Option<Duration>,
    fuel: bool,
) -> CallPlan {
    CallPlan {
        call,
        what: format!("{}.{method}", class.name),
        method,
        args,
        control: output.control().clone(),
        deadline,
        fuel,
    }
}
