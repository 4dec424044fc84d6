//! Objects and references (issue 10, points 1-3), in a guest: references nested in
//! values and returned by tasks (Ray's borrowing, `python/ray/tests/test_reference_counting*.py`),
//! `free`, and `num_returns` (`test_basic*.py`).

use std::collections::HashMap;

use rustyray::{ObjectRef, RayError};
use serde::{Deserialize, Serialize};

use crate::{check, ray, spin_forever};

const BIG: usize = 1 << 20;

fn big() -> Vec<u8> {
    vec![7u8; BIG]
}

/// The lengths of the objects a nested list refers to (the references arrive unresolved).
#[rustyray::remote]
fn lengths(refs: Vec<ObjectRef<Vec<u8>>>) -> Result<Vec<usize>, RayError> {
    refs.iter().map(|r| Ok(r.get()?.len())).collect()
}

/// How many references arrived; reads none of them.
#[rustyray::remote]
fn count_refs(refs: Vec<ObjectRef<u64>>) -> usize {
    refs.len()
}

/// A struct and a map of references, as a parameter.
#[derive(Serialize, Deserialize)]
pub struct Bundle {
    pub name: String,
    pub data: ObjectRef<Vec<u8>>,
    pub by_key: HashMap<String, ObjectRef<u64>>,
}

#[rustyray::remote]
fn open_bundle(bundle: Bundle) -> Result<(String, usize, u64), RayError> {
    let mut sum = 0;
    for r in bundle.by_key.values() {
        sum += r.get()?;
    }
    Ok((bundle.name, bundle.data.get()?.len(), sum))
}

/// Ray's `test_basic_nested_ids`: an object holding a reference keeps the inner object
/// alive after its own handle is gone, and a `get` gives the reference back; nested in a
/// task argument (a `Vec`, a struct, a map), references are passed as references, not
/// resolved — a task that never reads them runs even when they will never be ready.
#[rustyray::remote]
fn test_basic_nested_ids() -> Result<(), String> {
    let inner = rustyray::put(&big()).map_err(ray)?;
    let inner_id = inner.id();
    let outer = rustyray::put(&vec![inner]).map_err(ray)?;
    // `inner` moved into the put and was dropped: only `outer` holds the object now.
    let refs: Vec<ObjectRef<Vec<u8>>> = outer.get().map_err(ray)?;
    check(refs.len() == 1 && refs[0].id() == inner_id, || {
        format!("the reference came back as {refs:?}, not {inner_id}")
    })?;
    drop(outer);
    check(refs[0].get().map_err(ray)? == big(), || {
        "the inner value changed".into()
    })?;
    let lens = lengths::remote(&refs).get().map_err(ray)?;
    check(lens == vec![BIG], || format!("the task saw {lens:?}"))?;

    // Never resolved: the task finishes although the object never will.
    let never = spin_forever::remote();
    let n = count_refs::remote(vec![never.clone(), never.clone()])
        .get()
        .map_err(ray)?;
    rustyray::cancel(&never);
    check(n == 2, || format!("{n} references arrived"))?;

    let bundle = Bundle {
        name: "b".into(),
        data: refs[0].clone(),
        by_key: [("one", 1u64), ("two", 2)]
            .into_iter()
            .map(|(k, v)| Ok((k.to_string(), rustyray::put(&v)?)))
            .collect::<Result<_, RayError>>()
            .map_err(ray)?,
    };
    let opened = open_bundle::remote(bundle).get().map_err(ray)?;
    check(opened == ("b".into(), BIG, 3), || format!("{opened:?}"))
}

/// One level of a nest of objects, each holding a reference to the next.
#[derive(Serialize, Deserialize)]
pub struct Nest {
    pub next: Option<ObjectRef<Nest>>,
    pub data: Option<ObjectRef<Vec<u8>>>,
}

/// Unwraps one level and passes the rest on to a new task, down to the data.
#[rustyray::remote]
fn unwrap_nest(nest: Vec<ObjectRef<Nest>>) -> Result<usize, RayError> {
    let level = nest[0].get()?;
    match (level.next, level.data) {
        (Some(next), _) => unwrap_nest::remote(vec![next]).get(),
        (None, Some(data)) => Ok(data.get()?.len()),
        (None, None) => Err(RayError::Application("an empty nest".into())),
    }
}

/// Ray's `test_recursively_nest_ids`: a chain of objects each holding a reference to the
/// next pins the innermost one, through a chain of tasks, after every handle the driver
/// had is gone.
#[rustyray::remote]
fn test_recursively_nest_ids() -> Result<(), String> {
    let mut nest = rustyray::put(&Nest {
        next: None,
        data: Some(rustyray::put(&big()).map_err(ray)?),
    })
    .map_err(ray)?;
    for _ in 0..5 {
        nest = rustyray::put(&Nest {
            next: Some(nest),
            data: None,
        })
        .map_err(ray)?;
    }
    let head = unwrap_nest::remote(vec![nest]);
    check(head.get().map_err(ray)? == BIG, || {
        "the data was lost".into()
    })
}

#[rustyray::remote]
fn return_an_id() -> Result<Vec<ObjectRef<Vec<u8>>>, RayError> {
    Ok(vec![rustyray::put(&big())?])
}

/// Ray's `test_return_object_ref`: a reference a task returns (to an object it put)
/// outlives the task, and the inner object outlives the outer one while held.
#[rustyray::remote]
fn test_return_object_ref() -> Result<(), String> {
    let outer = return_an_id::remote();
    let mut inner = outer.get().map_err(ray)?;
    drop(outer);
    let inner = inner.pop().ok_or("no reference came back")?;
    check(inner.get().map_err(ray)?.len() == BIG, || {
        "the returned reference lost its object".into()
    })
}

/// Waits for `gate` (which only ends by being cancelled), then reads through the
/// references it was passed.
#[rustyray::remote]
fn pending(
    outer: Vec<ObjectRef<Vec<ObjectRef<Vec<u8>>>>>,
    gate: ObjectRef<u64>,
) -> Result<usize, RayError> {
    let _ = gate.get();
    Ok(outer[0].get()?[0].get()?.len())
}

/// Ray's `test_pass_returned_object_ref`: a returned reference passed (nested) to a
/// task stays pinned by that task after the caller drops its own.
#[rustyray::remote]
fn test_pass_returned_object_ref() -> Result<(), String> {
    let gate = spin_forever::remote();
    let outer = return_an_id::remote();
    let task = pending::remote(vec![outer], &gate);
    // `outer` moved into the argument: the caller holds nothing of it now. Let the task go.
    rustyray::cancel(&gate);
    check(task.get().map_err(ray)? == BIG, || {
        "the object was lost".into()
    })
}

/// Returns a reference that a chain of `left` tasks passed back up.
#[rustyray::remote]
fn recursive_return(left: u32) -> Result<ObjectRef<Vec<u8>>, RayError> {
    if left == 0 {
        return rustyray::put(&big());
    }
    recursive_return::remote(left - 1).get()
}

/// Ray's `test_recursively_return_borrowed_object_ref`: a reference returned through a
/// chain of tasks, each of which borrowed it from the one it called.
#[rustyray::remote]
fn test_recursively_return_borrowed_object_ref() -> Result<(), String> {
    let head = recursive_return::remote(5);
    let last = head.get().map_err(ray)?;
    drop(head);
    check(last.get().map_err(ray)?.len() == BIG, || {
        "the object was lost".into()
    })
}

/// Holds references in its state.
#[rustyray::actor]
pub struct Holder {
    held: Vec<ObjectRef<Vec<u8>>>,
}

#[rustyray::actor]
impl Holder {
    pub fn new(initial: Vec<ObjectRef<Vec<u8>>>) -> Self {
        Holder { held: initial }
    }

    pub fn hold(&mut self, refs: Vec<ObjectRef<Vec<u8>>>) -> usize {
        self.held.extend(refs);
        self.held.len()
    }

    /// Waits for `gate` (cancelled by the caller), then reads everything held.
    pub fn total(&self, gate: ObjectRef<u64>) -> Result<usize, RayError> {
        let _ = gate.get();
        let mut total = 0;
        for r in &self.held {
            total += r.get()?.len();
        }
        Ok(total)
    }

    /// Keeps `refs` and hands them on to `to` (Ray's borrower of a borrower).
    pub fn pass_on(
        &mut self,
        refs: Vec<ObjectRef<Vec<u8>>>,
        to: HolderHandle,
    ) -> Result<usize, RayError> {
        self.held.extend(refs.iter().cloned());
        to.hold(refs).get()
    }

    pub fn drop_all(&mut self) -> usize {
        self.held.clear();
        0
    }
}

/// Ray's `test_actor_holding_serialized_reference`: references in an actor's state (from
/// its constructor and from a method) keep their objects alive after the caller's are gone.
#[rustyray::remote]
fn test_actor_holding_serialized_reference() -> Result<(), String> {
    let first = rustyray::put(&big()).map_err(ray)?;
    let holder = Holder::remote(vec![first]);
    let second = rustyray::put(&vec![1u8; 10]).map_err(ray)?;
    let held = holder.hold(vec![second]).get().map_err(ray)?;
    check(held == 2, || format!("{held} held"))?;
    let gate = spin_forever::remote();
    let total = holder.total(&gate);
    rustyray::cancel(&gate);
    let total = total.get().map_err(ray)?;
    check(total == BIG + 10, || {
        format!("the actor read {total} bytes")
    })
}

/// Ray's `test_borrowed_id_failure` (its success case): an actor that borrowed a
/// reference passes it to another actor; both keep the object alive after the owner
/// drops it.
#[rustyray::remote]
fn test_borrowed_id() -> Result<(), String> {
    let parent = Holder::remote(Vec::new());
    let borrower = Holder::remote(Vec::new());
    let object = rustyray::put(&big()).map_err(ray)?;
    parent
        .pass_on(vec![object], borrower.clone())
        .get()
        .map_err(ray)?;
    parent.drop_all().get().map_err(ray)?;
    let gate = spin_forever::remote();
    let total = borrower.total(&gate);
    rustyray::cancel(&gate);
    let total = total.get().map_err(ray)?;
    check(total == BIG, || format!("the borrower read {total} bytes"))
}

#[rustyray::remote]
fn read_len(data: Vec<u8>) -> usize {
    data.len()
}

/// Ray's `test_internal_free`: after `free`, every `get` of the object fails with
/// `ObjectFreed`, through any handle, and a task that takes it fails with it as the root
/// cause; a `get` waiting on an object that is freed wakes with it.
#[rustyray::remote]
fn test_internal_free() -> Result<(), String> {
    let object = rustyray::put(&big()).map_err(ray)?;
    let copy = object.clone();
    check(object.get().map_err(ray)?.len() == BIG, || {
        "not stored".into()
    })?;
    rustyray::free(std::slice::from_ref(&object));
    let freed = |result: Result<usize, RayError>| matches!(result, Err(RayError::ObjectFreed(id)) if id == copy.id());
    check(freed(copy.get().map(|v| v.len())), || {
        "a get after free".into()
    })?;
    check(freed(read_len::remote(&object).get()), || {
        "a task given a freed object".into()
    })?;
    let never = spin_forever::remote();
    rustyray::free(std::slice::from_ref(&never));
    let waited = never.get();
    rustyray::cancel(&never);
    check(matches!(waited, Err(RayError::ObjectFreed(_))), || {
        format!("a pending object, freed: {waited:?}")
    })
}

#[rustyray::remote(num_returns = 3)]
fn three(x: u64) -> (u64, String, Vec<u64>) {
    (x, format!("n{x}"), vec![x; 3])
}

#[rustyray::remote(num_returns = 2)]
fn two_fallible(fail: bool) -> Result<(u64, u64), String> {
    if fail {
        Err("as asked".into())
    } else {
        Ok((1, 2))
    }
}

#[rustyray::remote(num_returns = 0)]
fn nothing(tally: crate::TallyHandle) {
    let _ = tally.bump().get();
}

/// A reference returned as one of several values keeps its object.
#[rustyray::remote(num_returns = 2)]
fn value_and_ref() -> Result<(u64, ObjectRef<Vec<u8>>), RayError> {
    Ok((5, rustyray::put(&big())?))
}

/// Ray's `test_multiple_return_values` (num_returns for tasks): a tuple becomes one
/// object per element; `num_returns = 0` runs the task and gives nothing; a failed task
/// fails every object.
#[rustyray::remote]
fn test_multiple_return_values() -> Result<(), String> {
    let (a, b, c) = three::remote(4);
    check(a.get().map_err(ray)? == 4, || "first".into())?;
    check(b.get().map_err(ray)? == "n4", || "second".into())?;
    check(c.get().map_err(ray)? == vec![4; 3], || "third".into())?;
    // Each is an object of its own: passed on by itself (resolved at top level).
    let next = crate::one_more::remote(&a).get().map_err(ray)?;
    check(next == 5, || format!("one_more saw {next}"))?;

    let (x, y) = two_fallible::remote(false);
    check((x.get(), y.get()) == (Ok(1), Ok(2)), || {
        "the fallible pair".into()
    })?;
    let (x, y) = two_fallible::remote(true);
    for result in [x.get(), y.get()] {
        check(
            matches!(&result, Err(RayError::Application(m)) if m == "as asked"),
            || format!("a failed task gave {result:?}"),
        )?;
    }

    let tally = crate::Tally::remote();
    let () = nothing::remote(tally.clone());
    // The task ran although it returned nothing to wait on: wait through the actor.
    let mut seen = 0;
    while seen == 0 {
        seen = tally.count().get().map_err(ray)?;
    }

    let (n, data) = value_and_ref::remote();
    check(n.get().map_err(ray)? == 5, || "the value".into())?;
    let data = data.get().map_err(ray)?;
    check(data.get().map_err(ray)?.len() == BIG, || {
        "the returned reference".into()
    })
}

/// Returns a pair, for the untyped `call_returns`.
#[rustyray::actor]
pub struct Pairs;

#[rustyray::actor]
impl Pairs {
    pub fn new() -> Self {
        Pairs
    }

    pub fn pair(&self, x: u64) -> (u64, u64) {
        (x, x * 10)
    }

    pub fn triple(&self) -> (u8, u8, u8) {
        (1, 2, 3)
    }

    #[rustyray::method(num_returns = 2)]
    pub fn split(&self, x: u64) -> Result<(u64, String), String> {
        if x == 0 {
            return Err("zero".into());
        }
        Ok((x, format!("x{x}")))
    }

    #[rustyray::method(num_returns = 0)]
    pub fn ping(&self) {}
}

/// Ray's `num_returns` for actor methods (`test_actor_method_num_returns`): one object
/// per element; a result of another length fails every one of them.
#[rustyray::remote]
fn test_actor_method_num_returns() -> Result<(), String> {
    let pairs = Pairs::remote();
    let refs = pairs
        .raw()
        .call_returns("pair", vec![rustyray::arg(3u64)], 2);
    let values = refs
        .into_iter()
        .map(|r| r.cast::<u64>().get())
        .collect::<Result<Vec<_>, _>>()
        .map_err(ray)?;
    check(values == vec![3, 30], || format!("{values:?}"))?;
    let wrong = pairs.raw().call_returns("triple", vec![], 2);
    check(wrong.len() == 2, || "two references".into())?;
    for r in wrong {
        let result = r.cast::<u8>().get();
        check(
            matches!(&result, Err(RayError::BadArguments(m)) if m.contains("num_returns")),
            || format!("a length mismatch gave {result:?}"),
        )?;
    }
    let none = pairs
        .raw()
        .call_returns("pair", vec![rustyray::arg(1u64)], 0);
    check(none.is_empty(), || "num_returns = 0".into())
}

/// A snapshot class whose state holds references.
#[derive(Serialize, Deserialize)]
#[rustyray::actor(snapshot)]
pub struct Archive {
    held: Vec<ObjectRef<Vec<u8>>>,
}

#[rustyray::actor]
impl Archive {
    pub fn new() -> Self {
        Archive { held: Vec::new() }
    }

    pub fn keep(&mut self, refs: Vec<ObjectRef<Vec<u8>>>) -> usize {
        self.held.extend(refs);
        self.held.len()
    }

    /// Reads everything held.
    pub fn total(&self) -> Result<usize, RayError> {
        let mut total = 0;
        for r in &self.held {
            total += r.get()?.len();
        }
        Ok(total)
    }

    pub fn crash(&self) -> usize {
        panic!("lost the instance")
    }
}

/// A snapshot of an actor whose state holds `ObjectRef`s keeps their objects (nothing
/// else holds them once the caller drops its own), and the actor restored from it after
/// a crash reads them back.
#[rustyray::remote]
fn test_snapshot_holding_object_refs() -> Result<(), String> {
    let archive = Archive::remote_with(rustyray::ActorOptions::new().max_restarts(1));
    let object = rustyray::put(&big()).map_err(ray)?;
    let kept = archive.keep(vec![object]).get().map_err(ray)?;
    check(kept == 1, || format!("{kept} kept"))?;
    // Crash it: the restart restores the snapshot, and the object is read from it.
    let crashed = archive.crash().get();
    check(matches!(crashed, Err(RayError::ActorDied(_))), || {
        format!("the crash answered {crashed:?}")
    })?;
    let total = archive.total().get().map_err(ray)?;
    check(total == BIG, || {
        format!("the restored actor read {total} bytes")
    })
}
