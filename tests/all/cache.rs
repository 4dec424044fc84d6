//! The on-disk compile cache: a miss compiles and stores, a hit loads the stored
//! artifact, a damaged artifact is recompiled, and no directory means no cache.

use rustyray::{CacheOutcome, Result, Runtime};

use crate::common::{self, SHORT, within};

fn artifacts(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir.join("artifacts"))
        .expect("reading the cache dir")
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "cwasm"))
        .collect()
}

async fn add_works(runtime: &Runtime) {
    let sum = runtime
        .task("add")
        .arg(19)
        .arg(23)
        .submit_now::<i32>(runtime)
        .expect("submit");
    assert_eq!(within(SHORT, "add", sum.get()).await.expect("add"), 42);
}

#[tokio::test]
async fn first_load_misses_and_a_second_runtime_hits() -> Result<()> {
    let dir = common::fresh_dir("cache");
    let first = Runtime::builder()
        .max_instances(256)
        .max_actors(256)
        .cache_dir(Some(dir.clone()))
        .build()?;
    let info = first.load(rustyray_tests::FIXTURES).await?;
    assert_eq!(info.cache, CacheOutcome::Miss);
    let stored = artifacts(&dir);
    assert_eq!(stored.len(), 1, "one artifact: {stored:?}");
    assert!(
        stored[0]
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(&info.hash)),
        "keyed by the content hash: {stored:?}"
    );
    add_works(&first).await;
    drop(first);

    let second = Runtime::builder()
        .max_instances(256)
        .max_actors(256)
        .cache_dir(Some(dir.clone()))
        .build()?;
    let again = second.load(rustyray_tests::FIXTURES).await?;
    assert_eq!(again.cache, CacheOutcome::Hit);
    assert_eq!(again.functions, info.functions);
    add_works(&second).await;
    assert_eq!(artifacts(&dir).len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_damaged_artifact_is_recompiled() -> Result<()> {
    let dir = common::fresh_dir("cache-damaged");
    let first = Runtime::builder()
        .max_instances(256)
        .max_actors(256)
        .cache_dir(Some(dir.clone()))
        .build()?;
    assert_eq!(
        first.load(rustyray_tests::FIXTURES).await?.cache,
        CacheOutcome::Miss
    );
    drop(first);
    let stored = artifacts(&dir);
    assert_eq!(stored.len(), 1);
    std::fs::write(&stored[0], b"this is not a compiled component").expect("damaging it");

    let second = Runtime::builder()
        .max_instances(256)
        .max_actors(256)
        .cache_dir(Some(dir.clone()))
        .build()?;
    assert_eq!(
        second.load(rustyray_tests::FIXTURES).await?.cache,
        CacheOutcome::Replaced
    );
    add_works(&second).await;
    drop(second);
    let third = Runtime::builder()
        .max_instances(256)
        .max_actors(256)
        .cache_dir(Some(dir.clone()))
        .build()?;
    assert_eq!(
        third.load(rustyray_tests::FIXTURES).await?.cache,
        CacheOutcome::Hit,
        "the damaged artifact was replaced"
    );
    add_works(&third).await;
    Ok(())
}

#[tokio::test]
async fn no_cache_dir_compiles_every_time() -> Result<()> {
    let runtime = Runtime::builder()
        .max_instances(256)
        .max_actors(256)
        .cache_dir(None)
        .build()?;
    assert_eq!(
        runtime.load(rustyray_tests::FIXTURES).await?.cache,
        CacheOutcome::Disabled
    );
    add_works(&runtime).await;
    Ok(())
}
