//! Forged and guessed ids (issue 9, point 7). Object and actor ids are a node number
//! and 128 random bits, so a guest cannot reach what it was not given by counting,
//! by stepping from an id it knows, or by flipping bits: every such id is refused with
//! a typed error, and the canaries — an actor and objects another task made — are
//! untouched and still answer.

use rustyray::{ActorId, Id, RayError, Result};

use crate::common::{self, LONG, SHORT, hostile_runtime, within};
use crate::hostile::Witness;

/// Made-up ids around a known one, as a forger who saw it would try.
fn around(known: Id) -> Vec<Id> {
    let mut ids = vec![
        Id {
            node: 0,
            hi: 0,
            lo: 1,
        },
        Id {
            node: 0,
            hi: 0,
            lo: 2,
        },
        Id {
            lo: known.lo.wrapping_add(1),
            ..known
        },
        Id {
            lo: known.lo.wrapping_sub(1),
            ..known
        },
        Id {
            hi: known.hi.wrapping_add(1),
            ..known
        },
        Id { node: 1, ..known },
    ];
    for bit in [0, 17, 63] {
        ids.push(Id {
            lo: known.lo ^ (1 << bit),
            ..known
        });
        ids.push(Id {
            hi: known.hi ^ (1 << bit),
            ..known
        });
    }
    ids
}

#[tokio::test]
async fn forged_and_guessed_ids_reach_nothing() -> Result<()> {
    let runtime = hostile_runtime(common::builder()).await;
    let witness = Witness::start(&runtime).await;
    // The canaries: an unnamed actor (a name would make it findable by name, which is
    // not a secret) and an object a task computed, neither given to the forgers.
    let canary = runtime.actor("Fragile").create().await?;
    assert_eq!(canary.call::<u32>("ok", ()).get().await?, 1);
    let computed = runtime
        .task("add")
        .arg(20)
        .arg(22)
        .submit_now::<i32>(&runtime)?;
    assert_eq!(within(SHORT, "add", computed.get()).await?, 42);

    // Ids carry no sequence: two made one after the other share no structure.
    let next = runtime.actor("Fragile").create().await?;
    for (a, b) in [
        (canary.id().0, next.id().0),
        (computed.id().0, witness_put_id(&runtime)?),
    ] {
        assert_eq!((a.node, b.node), (0, 0), "a single runtime is node 0");
        assert!(
            (a.bits() ^ b.bits()).count_ones() > 16,
            "ids {a} and {b} look related"
        );
    }
    let shown = canary.id().to_string();
    assert!(
        shown.starts_with("actor#0:") && shown.len() == "actor#0:".len() + 32,
        "{shown}"
    );
    assert_eq!(shown["actor#".len()..].parse::<Id>(), Ok(canary.id().0));

    // Forgers, several at once, each guessing thousands of ids from inside a task.
    let forgers = (0..4)
        .map(|_| {
            runtime
                .task("forge_ids")
                .submit_now::<(u32, u32, u32, String)>(&runtime)
        })
        .collect::<Result<Vec<_>>>()?;
    for forger in forgers {
        let (tried, found, refused, other) = within(LONG, "forge_ids", forger.get()).await?;
        assert!(tried >= 4_000, "only {tried} guesses");
        assert_eq!(found, 0, "a forged id reached an actor");
        assert_eq!(
            refused, tried,
            "every guess refused as ActorDied; other: {other}"
        );
        assert!(other.is_empty(), "{other}");
    }

    // The same from the guest's decoding side: a forged id passed where a handle is
    // expected fails the task's argument decode, naming the id.
    let known = canary.id().0;
    for forged in around(known) {
        let poke = runtime
            .task("poke")
            .arg(forged)
            .submit_now::<u32>(&runtime)?;
        match within(SHORT, "poke", poke.get()).await {
            Err(RayError::BadArguments { message, .. }) => assert!(
                message.contains(&format!("no live actor has id {forged}")),
                "{message}"
            ),
            other => panic!("forged id {forged} gave {other:?}"),
        }
        let why = runtime
            .task("from_id_error")
            .arg(forged)
            .submit_now::<String>(&runtime)?;
        let why = within(SHORT, "from_id_error", why.get()).await?;
        assert!(why.starts_with("ActorDied("), "{forged}: {why}");
        // The host API answers the same way.
        assert!(matches!(
            runtime.get_actor_by_id(ActorId(forged)),
            Err(RayError::ActorNotFound(id)) if id.0 == forged
        ));
    }

    // A killed actor's real id, once its last handle is gone, finds nothing either.
    let dead = next.id();
    next.kill();
    drop(next);
    let poke = runtime.task("poke").arg(dead).submit_now::<u32>(&runtime)?;
    let err = within(SHORT, "poke the dead", poke.get())
        .await
        .unwrap_err();
    assert!(matches!(err, RayError::BadArguments { .. }), "{err:?}");
    assert!(matches!(
        runtime.get_actor_by_id(dead),
        Err(RayError::ActorNotFound(_))
    ));

    // The canaries are untouched: nobody else called the actor (its count goes on from
    // 1), nobody killed it, and the object still holds its value.
    assert_eq!(canary.call::<u32>("ok", ()).get().await?, 2);
    assert_eq!(computed.get().await?, 42);
    // An id that was given does work: passed to a task, it reaches the actor.
    let poke = runtime
        .task("poke")
        .arg(canary.id())
        .submit_now::<u32>(&runtime)?;
    assert_eq!(within(SHORT, "poke the canary", poke.get()).await?, 3);
    assert_eq!(
        runtime.get_actor_by_id(canary.id())?.id(),
        canary.id(),
        "the host finds a live actor by its id"
    );
    witness.check(&runtime).await;
    Ok(())
}

/// The id of a fresh object, made right after another.
fn witness_put_id(runtime: &rustyray::Runtime) -> Result<Id> {
    Ok(runtime.put(&1u8)?.id().0)
}

/// Object references forged inside values (issue 10, point 1): a guest writes the id of
/// an object it was never given into a value as a reference. Ids are unguessable, so the
/// test hands the forger a real id out of band, the strongest case. Only references the
/// guest serialized from a handle it holds are resolved when a value is stored, and only
/// those a guest was handed can be turned back into handles: the forged one is inert bytes
/// where stored alone, refuses the value beside a real one, and fails the task it is
/// passed to; the canary object is untouched.
#[tokio::test]
async fn forged_nested_refs_reach_nothing() -> Result<()> {
    let runtime = hostile_runtime(common::builder()).await;
    let canary = runtime.put(&vec![9u8; 1000])?;
    let forger = runtime
        .task("forge_nested_ref")
        .arg(canary.id().0)
        .submit_now::<Vec<String>>(&runtime)?;
    let errors = within(SHORT, "forge_nested_ref", forger.get()).await?;
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(
        !errors.iter().any(|e| e == "reached" || e == "stored"),
        "{errors:?}"
    );
    let id = canary.id().0.to_string();
    assert!(
        errors[0].starts_with("Decode(") && errors[0].contains("no reference to"),
        "stored alone: {}",
        errors[0]
    );
    assert!(
        errors[1].starts_with("BadArguments(") && errors[1].contains("did not share"),
        "beside a real one: {}",
        errors[1]
    );
    assert!(
        errors[2].starts_with("BadArguments(") && errors[2].contains(&id),
        "in a task argument: {}",
        errors[2]
    );
    // The canary still holds its value, and nothing else holds it.
    assert_eq!(canary.get().await?, vec![9u8; 1000]);
    let live = runtime.stats().objects.live_objects;
    drop(canary);
    assert_eq!(runtime.stats().objects.live_objects, live - 1);
    Ok(())
}
