//! Loading components: what a good one reports, every kind of bad input refused
//! with its own message, reloads, and name clashes.

use rustyray::{RayError, Result, Runtime, task_function};

use crate::common::{self, SHORT, within};

async fn assert_still_loads(runtime: &Runtime) {
    runtime
        .load(rustyray_tests::FIXTURES)
        .await
        .expect("the fixtures load after a refused module");
    let sum = runtime
        .task("add")
        .arg(1)
        .arg(2)
        .submit_now::<i32>(runtime)
        .expect("submit");
    assert_eq!(within(SHORT, "add", sum.get()).await.expect("add"), 3);
}

fn invalid_module(err: RayError) -> (String, String) {
    match err {
        RayError::InvalidModule {
            source_name,
            message,
        } => (source_name, message),
        other => panic!("expected InvalidModule, got {other:?}"),
    }
}

#[tokio::test]
async fn a_component_reports_its_functions() -> Result<()> {
    let runtime = common::builder().build()?;
    let info = runtime.load(rustyray_tests::FIXTURES).await?;
    assert_eq!(info.source_name, rustyray_tests::FIXTURES);
    assert!(info.has_main);
    let size = std::fs::metadata(rustyray_tests::FIXTURES)
        .expect("the fixtures exist")
        .len();
    assert_eq!(info.size as u64, size);
    assert_eq!(info.hash.len(), 64);
    assert!(info.hash.chars().all(|c| c.is_ascii_hexdigit()));
    let signature = |name: &str| {
        info.functions
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.signature.clone())
            .unwrap_or_else(|| panic!("{name} is exported"))
    };
    assert_eq!(signature("add"), "fn add(a: i32, b: i32) -> i32");
    assert_eq!(
        signature("add_points"),
        "fn add_points(a: Point, b: Point) -> Point"
    );
    assert_eq!(
        signature("async_double"),
        "async fn async_double(x: i64) -> i64"
    );
    let mut listed: Vec<String> = runtime.functions().into_iter().map(|f| f.name).collect();
    let mut exported: Vec<String> = info.functions.iter().map(|f| f.name.clone()).collect();
    listed.sort();
    exported.sort();
    assert_eq!(listed, exported);
    Ok(())
}

#[tokio::test]
async fn a_missing_file_is_an_io_error() -> Result<()> {
    let runtime = common::builder().build()?;
    let path = common::fresh_dir("missing").join("nowhere.wasm");
    match runtime.load(&path).await {
        Err(RayError::Io { context, message }) => {
            assert!(
                context.contains("nowhere.wasm"),
                "names the file: {context}"
            );
            assert!(!message.is_empty());
        }
        other => panic!("expected Io, got {other:?}"),
    }
    assert_still_loads(&runtime).await;
    Ok(())
}

#[tokio::test]
async fn bytes_that_are_not_wasm_are_refused() -> Result<()> {
    let runtime = common::builder().build()?;
    // Pseudo-random bytes (a fixed LCG), then a text file.
    let mut state = 0x2545_f491u32;
    let random: Vec<u8> = (0..4096)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 24) as u8
        })
        .collect();
    let (source, message) = invalid_module(
        runtime
            .load_bytes(&random, "random.bin")
            .await
            .expect_err("random bytes are refused"),
    );
    assert_eq!(source, "random.bin");
    assert!(message.contains("not a WebAssembly file"), "{message}");

    let text = common::fresh_dir("text").join("notes.wasm");
    std::fs::write(&text, "just some notes, not a program\n").expect("writing a text file");
    let (source, message) = invalid_module(
        runtime
            .load(&text)
            .await
            .expect_err("a text file is refused"),
    );
    assert!(source.contains("notes.wasm"), "{source}");
    assert!(message.contains("not a WebAssembly file"), "{message}");

    let (_, message) = invalid_module(
        runtime
            .load_bytes(b"", "empty.wasm")
            .await
            .expect_err("an empty file is refused"),
    );
    assert!(message.contains("not a WebAssembly file"), "{message}");
    assert_still_loads(&runtime).await;
    Ok(())
}

#[tokio::test]
async fn a_core_module_is_refused_as_such() -> Result<()> {
    let runtime = common::builder().build()?;
    let (source, message) = invalid_module(
        runtime
            .load_bytes(b"\0asm\x01\0\0\0", "core.wasm")
            .await
            .expect_err("a core module is refused"),
    );
    assert_eq!(source, "core.wasm");
    assert!(message.contains("core WebAssembly module"), "{message}");
    assert!(
        message.contains("wasm32-wasip2"),
        "says what to do: {message}"
    );
    assert_still_loads(&runtime).await;
    Ok(())
}

#[tokio::test]
async fn a_broken_component_does_not_compile() -> Result<()> {
    let runtime = common::builder().build()?;
    // A component header, then garbage.
    let mut bytes = b"\0asm\x0d\0\x01\0".to_vec();
    bytes.extend_from_slice(&[0xff; 32]);
    let (_, message) = invalid_module(
        runtime
            .load_bytes(&bytes, "broken.wasm")
            .await
            .expect_err("a broken component is refused"),
    );
    assert!(message.contains("does not compile"), "{message}");
    assert_still_loads(&runtime).await;
    Ok(())
}

#[tokio::test]
async fn a_component_of_another_world_is_refused() -> Result<()> {
    let runtime = common::builder().build()?;
    let (source, message) = invalid_module(
        runtime
            .load(rustyray_tests::OTHER_WORLD)
            .await
            .expect_err("a plain WASI command is refused"),
    );
    assert_eq!(source, rustyray_tests::OTHER_WORLD);
    assert!(
        message.contains("does not export") && message.contains("rustyray:runtime/guest"),
        "{message}"
    );
    assert_still_loads(&runtime).await;
    Ok(())
}

#[tokio::test]
async fn a_component_with_foreign_imports_names_them() -> Result<()> {
    let runtime = common::builder().build()?;
    let (source, message) = invalid_module(
        runtime
            .load(rustyray_tests::FOREIGN_WORLD)
            .await
            .expect_err("a component importing acme:clock is refused"),
    );
    assert_eq!(source, rustyray_tests::FOREIGN_WORLD);
    assert!(message.contains("acme:clock/time"), "{message}");
    assert_still_loads(&runtime).await;
    Ok(())
}

#[tokio::test]
async fn loading_the_same_component_twice_is_fine() -> Result<()> {
    let runtime = common::builder().build()?;
    let first = runtime.load(rustyray_tests::FIXTURES).await?;
    let functions = runtime.functions();
    let second = runtime.load(rustyray_tests::FIXTURES).await?;
    assert_eq!(first.hash, second.hash);
    assert_eq!(first.functions, second.functions);
    assert_eq!(runtime.functions(), functions);
    // Under another name (the same bytes): still the same component.
    let bytes = std::fs::read(rustyray_tests::FIXTURES).expect("reading the fixtures");
    runtime.load_bytes(&bytes, "fixtures-again.wasm").await?;
    common::assert_adds(&runtime, 2, 2).await?;
    Ok(())
}

#[tokio::test]
async fn a_name_clash_is_refused_whole() -> Result<()> {
    // A native function named like a wasm one, after the component.
    let runtime = common::runtime().await;
    match runtime.register_function(
        "add",
        task_function!(|a: i32, b: i32| async move { Ok::<i32, String>(a - b) }),
    ) {
        Err(RayError::DuplicateFunction { name, existing }) => {
            assert_eq!(name, "add");
            assert!(existing.contains("component"), "{existing}");
        }
        other => panic!("expected DuplicateFunction, got {other:?}"),
    }
    // The wasm `add` is still the one that runs.
    common::assert_adds(&runtime, 5, 3).await?;

    // Another component exporting `add` (the tasks example): refused, and none of
    // its functions are registered.
    match runtime.load(rustyray_tests::TASKS).await {
        Err(RayError::DuplicateFunction { name, existing }) => {
            assert_eq!(name, "add");
            assert!(existing.contains(rustyray_tests::FIXTURES), "{existing}");
        }
        other => panic!("expected DuplicateFunction, got {other:?}"),
    }
    assert!(matches!(
        runtime.task("square").arg(3u64).submit_now::<u64>(&runtime),
        Err(RayError::FunctionNotFound(_))
    ));

    // A native function first, then a component exporting the same name.
    let runtime = common::builder().build()?;
    runtime.register_function(
        "inc",
        task_function!(|x: u64| async move { Ok::<u64, String>(x + 100) }),
    )?;
    match runtime.load(rustyray_tests::FIXTURES).await {
        Err(RayError::DuplicateFunction { name, existing }) => {
            assert_eq!(name, "inc");
            assert!(existing.contains("native"), "{existing}");
        }
        other => panic!("expected DuplicateFunction, got {other:?}"),
    }
    assert!(matches!(
        runtime
            .task("add")
            .arg(1)
            .arg(1)
            .submit_now::<i32>(&runtime),
        Err(RayError::FunctionNotFound(_))
    ));
    let inc = runtime.task("inc").arg(1u64).submit_now::<u64>(&runtime)?;
    assert_eq!(within(SHORT, "native inc", inc.get()).await?, 101);

    // Two native registrations of one name.
    assert!(matches!(
        runtime.register_function(
            "inc",
            task_function!(|x: u64| async move { Ok::<u64, String>(x) }),
        ),
        Err(RayError::DuplicateFunction { .. })
    ));
    Ok(())
}

#[tokio::test]
async fn with_shared_names_each_module_keeps_its_own_and_an_ambiguous_name_is_refused() -> Result<()>
{
    // A node's runtimes load every deployed module: the fixtures and the tasks example
    // both export `add` (i32 and u64), the actors example and the detached fixture both
    // define an actor class `Tally` (no constructor argument, and one).
    let runtime = common::builder().shared_names(true).build()?;
    runtime.load(rustyray_tests::FIXTURES).await?;
    runtime.load(rustyray_tests::TASKS).await?;
    runtime.load(rustyray_tests::ACTORS).await?;
    runtime.load(rustyray_tests::DETACHED).await?;

    // The host has no module of its own: `add` is two modules' name, refused at once
    // with a typed error naming both (never one of them picked silently).
    match runtime
        .task("add")
        .arg(1)
        .arg(2)
        .submit_now::<i32>(&runtime)
    {
        Err(RayError::AmbiguousName { name, modules }) => {
            assert_eq!(name, "add");
            assert_eq!(modules.len(), 2, "{modules:?}");
            assert!(
                modules.iter().any(|m| m.contains("fixtures"))
                    && modules.iter().any(|m| m.contains("tasks")),
                "{modules:?}"
            );
        }
        other => panic!("expected AmbiguousName, got {other:?}"),
    }
    match runtime.actor("Tally").arg(3i64).create().await {
        Err(err @ RayError::AmbiguousName { .. }) => {
            let message = err.to_string();
            assert!(
                message.contains("actors") && message.contains("detached"),
                "{message}"
            );
            assert!(message.contains("MODULE/Tally"), "{message}");
        }
        other => panic!("expected AmbiguousName, got {other:?}"),
    }

    // Named by its module (the file stem, or a SHA-256 prefix), each is itself.
    let tasks_add = runtime
        .task("tasks/add")
        .arg(u64::MAX - 1)
        .arg(1u64)
        .submit_now::<u64>(&runtime)?;
    assert_eq!(within(SHORT, "tasks/add", tasks_add.get()).await?, u64::MAX);
    let fixtures = runtime.load(rustyray_tests::FIXTURES).await?;
    let fixtures_add = runtime
        .task(format!("{}/add", &fixtures.hash[..12]))
        .arg(-2i32)
        .arg(5i32)
        .submit_now::<i32>(&runtime)?;
    assert_eq!(within(SHORT, "fixtures/add", fixtures_add.get()).await?, 3);
    let counter = runtime.actor("detached/Tally").arg(3i64).create().await?;
    assert_eq!(counter.call::<i64>("increment", ()).get().await?, 4);
    let other = runtime.actor("actors/Tally").create().await?;
    assert_eq!(other.call::<u32>("count", ()).get().await?, 0);
    // A module that does not define the name: not found, not the other one.
    assert!(matches!(
        runtime
            .task("actors/add")
            .arg(1)
            .arg(2)
            .submit_now::<i32>(&runtime),
        Err(RayError::FunctionNotFound(_))
    ));

    // A guest's own name is its module's: the fixtures' `nested_sum` submits `add`
    // from inside, and gets the fixtures' (i32) one, ambiguous as the name is.
    let nested = runtime
        .task("nested_sum")
        .arg(4u32)
        .submit_now::<i64>(&runtime)?;
    assert_eq!(within(SHORT, "nested_sum", nested.get()).await?, 10);
    // A name one module defines is found plainly.
    let square = runtime
        .task("square")
        .arg(7u64)
        .submit_now::<u64>(&runtime)?;
    assert_eq!(within(SHORT, "square", square.get()).await?, 49);

    // A native function still never shares a name with a component's.
    assert!(matches!(
        runtime.register_function(
            "add",
            task_function!(|a: i32, b: i32| async move { Ok::<i32, String>(a - b) }),
        ),
        Err(RayError::DuplicateFunction { .. })
    ));
    Ok(())
}
