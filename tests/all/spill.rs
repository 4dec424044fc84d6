//! Spilling (issue 11.5): past the object store's cap, cold objects go to disk and
//! come back transparently; their files go with them.

use std::path::Path;

use bytes::Bytes;
use rustyray::{Capabilities, DirAccess, RayError, Result};

use crate::common::{self, SHORT, eventually, within};

const MIB: usize = 1 << 20;

/// A builder with small pools: each pool slot costs kernel memory mappings, and the
/// tests share one process (`vm.max_map_count`).
fn small() -> rustyray::RuntimeBuilder {
    common::builder().max_instances(32).max_actors(4)
}

/// Object `i`'s contents: distinct per object and per byte.
fn contents(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| (j * 7 + i * 13) as u8).collect()
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

#[tokio::test]
async fn a_working_set_twice_the_cap_round_trips_through_disk() -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let spill = common::fresh_dir("spill-2x");
    let cap = 8 * MIB;
    let runtime = common::runtime_with(small().object_store_capacity(cap).spill_dir(&spill)).await;
    // 16 MiB of objects through an 8 MiB store: half of them must be on disk.
    let objects = (0..16)
        .map(|i| runtime.put_bytes(Bytes::from(contents(i, MIB))))
        .collect::<Result<Vec<_>>>()?;
    let stats = runtime.stats().objects;
    assert!(stats.used_bytes <= cap, "{stats:?}");
    assert!(stats.spilled_bytes >= 8 * MIB, "{stats:?}");
    assert!(stats.spills >= 8, "{stats:?}");
    assert_eq!(stats.capacity, cap);
    let files = files_under(&spill);
    assert!(files.len() >= 8, "{files:?}");
    for file in &files {
        let mode = std::fs::metadata(file).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
        let dir = file.parent().expect("a per-runtime directory");
        assert_ne!(
            dir, spill,
            "files live in a subdirectory of the runtime's own"
        );
        let mode = std::fs::metadata(dir).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }

    // A ranged read from a guest of a spilled object reads the file, not all of it.
    let restores = runtime.stats().objects.restores;
    let part = runtime
        .task("read_range")
        .arg_object(&objects[0])
        .arg(1000u64)
        .arg(5000u64)
        .submit_now::<Vec<u8>>(&runtime)?;
    assert_eq!(
        within(SHORT, "read_range", part.get()).await?,
        contents(0, MIB)[1000..6000]
    );
    assert_eq!(runtime.stats().objects.restores, restores, "no restore");

    // Every object comes back whole and right, twice over (each get may spill another).
    for _ in 0..2 {
        for (i, object) in objects.iter().enumerate() {
            let bytes = within(SHORT, "get_bytes", object.get_bytes()).await?;
            assert!(bytes == contents(i, MIB), "object {i} came back different");
        }
    }
    // And as a task's argument, by value.
    let sum = runtime
        .task("sum_range")
        .arg_object(&objects[3])
        .arg(0u64)
        .arg(MIB as u64)
        .submit_now::<u64>(&runtime)?;
    let expected: u64 = contents(3, MIB).iter().map(|&b| u64::from(b)).sum();
    assert_eq!(within(SHORT, "sum_range", sum.get()).await?, expected);
    let echoed = runtime
        .task("echo")
        .arg_ref(&objects[1])
        .submit_now::<Vec<u8>>(&runtime)?;
    assert!(within(SHORT, "echo", echoed.get()).await? == contents(1, MIB));

    let stats = runtime.stats().objects;
    assert!(stats.restores > 0, "{stats:?}");
    assert!(stats.used_bytes <= cap, "{stats:?}");

    // Freed objects leave no files, and no bytes counted on disk.
    drop(objects);
    drop((part, sum, echoed));
    assert!(
        eventually(SHORT, || files_under(&spill).is_empty()).await,
        "left: {:?}",
        files_under(&spill)
    );
    assert!(eventually(SHORT, || runtime.stats().objects.spilled_bytes == 0).await);
    // The runtime's own directory goes with it.
    runtime.shutdown().await?;
    drop(runtime);
    assert!(
        eventually(SHORT, || std::fs::read_dir(&spill)
            .map(|entries| entries.count() == 0)
            .unwrap_or(true))
        .await,
        "the per-runtime directory is removed"
    );
    Ok(())
}

#[tokio::test]
async fn an_object_read_by_a_holder_is_not_spilled() -> Result<()> {
    let spill = common::fresh_dir("spill-pinned");
    let runtime =
        common::runtime_with(small().object_store_capacity(3 * MIB).spill_dir(&spill)).await;
    let first = runtime.put_bytes(Bytes::from(contents(0, MIB)))?;
    // Held by this reader: its bytes are shared, so spilling it would free nothing.
    let held = first.get_bytes().await?;
    let others = (1..3)
        .map(|i| runtime.put_bytes(Bytes::from(contents(i, MIB))))
        .collect::<Result<Vec<_>>>()?;
    let fourth = runtime.put_bytes(Bytes::from(contents(3, MIB)))?;
    assert_eq!(runtime.stats().objects.spills, 1);
    // The one spilled is the least recently used that nobody held: the second.
    let restores = runtime.stats().objects.restores;
    assert!(first.get_bytes().await? == contents(0, MIB));
    assert_eq!(runtime.stats().objects.restores, restores);
    assert!(others[0].get_bytes().await? == contents(1, MIB));
    assert_eq!(runtime.stats().objects.restores, restores + 1);
    drop((held, fourth));
    Ok(())
}

#[tokio::test]
async fn a_spill_dir_that_cannot_be_written_is_a_clear_error_and_memory_objects_still_work()
-> Result<()> {
    // Under a regular file: no directory can be made there, whoever runs the test.
    let base = common::fresh_dir("spill-bad");
    let file = base.join("not-a-dir");
    std::fs::write(&file, b"x").expect("write");
    let spill = file.join("spill");
    let runtime = common::runtime_with(
        small()
            .object_store_capacity(2 * MIB + 4096)
            .spill_dir(&spill),
    )
    .await;
    let a = runtime.put_bytes(Bytes::from(contents(0, MIB)))?;
    let b = runtime.put_bytes(Bytes::from(contents(1, MIB)))?;
    match runtime.put_bytes(Bytes::from(contents(2, MIB))) {
        Err(err @ RayError::Spill { .. }) => {
            let text = err.to_string();
            assert!(text.contains(&spill.display().to_string()), "{text}");
            assert!(text.contains("--spill-dir"), "{text}");
        }
        other => panic!("expected a spill error, got {other:?}"),
    }
    // A task whose result cannot be stored fails with it too, and a guest sees it.
    let big = runtime
        .task("put_large")
        .arg(1u32)
        .submit_now::<u64>(&runtime)?;
    let err = within(SHORT, "put_large", big.get())
        .await
        .expect_err("no room");
    assert!(err.to_string().contains("spill"), "{err}");
    // What is in memory still works, and so do small objects and tasks.
    assert!(a.get_bytes().await? == contents(0, MIB));
    assert!(b.get_bytes().await? == contents(1, MIB));
    assert_eq!(runtime.put(&5u8)?.get().await?, 5);
    common::assert_adds(&runtime, 2, 3).await?;
    Ok(())
}

#[tokio::test]
async fn a_grant_covering_the_spill_dir_is_refused() -> Result<()> {
    let spill = common::fresh_dir("spill-grant");
    let refused = small()
        .spill_dir(&spill)
        .capabilities(Capabilities::new().dir(&spill, "/data", DirAccess::ReadOnly))
        .build();
    match refused {
        Err(RayError::InvalidOptions(text)) => assert!(text.contains("spill"), "{text}"),
        other => panic!("expected the grant to be refused, got {other:?}"),
    }
    // Canary: a grant beside it is fine, per task too.
    let beside = common::fresh_dir("spill-grant-beside");
    let runtime = common::runtime_with(small().spill_dir(&spill)).await;
    let task = runtime
        .task("add")
        .arg(1)
        .arg(2)
        .capabilities(Capabilities::new().dir(&beside, "/data", DirAccess::ReadOnly))
        .submit_now::<i32>(&runtime)?;
    assert_eq!(within(SHORT, "add", task.get()).await?, 3);
    std::fs::create_dir_all(spill.join("inside")).expect("mkdir");
    let inside = runtime
        .task("add")
        .arg(1)
        .arg(2)
        .capabilities(Capabilities::new().dir(spill.join("inside"), "/d", DirAccess::ReadOnly))
        .submit_now::<i32>(&runtime);
    match inside {
        Err(RayError::InvalidOptions(text)) => assert!(text.contains("spill"), "{text}"),
        other => panic!("expected the grant to be refused, got {other:?}"),
    }
    Ok(())
}
