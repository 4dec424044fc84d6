//! How failures reach the holder: application errors, panics, traps with their
//! backtrace, and failed dependencies down a chain, with the runtime unharmed.

use rustyray::{ObjectRef, RayError, Result, Runtime};

use crate::common::{self, SHORT, within};

async fn still_works(runtime: &Runtime) {
    let sum = runtime
        .task("add")
        .arg(40)
        .arg(2)
        .submit_now::<i32>(runtime)
        .expect("submit");
    assert_eq!(
        within(SHORT, "add after a failure", sum.get())
            .await
            .expect("add works after a failure"),
        42
    );
}

#[tokio::test]
async fn an_err_is_an_application_error_with_its_message() -> Result<()> {
    let runtime = common::runtime().await;
    let failed = runtime
        .task("fail")
        .arg("boom: it broke")
        .submit_now::<i32>(&runtime)?;
    let err = within(SHORT, "fail", failed.get())
        .await
        .expect_err("fail fails");
    match &err {
        RayError::Application {
            function, message, ..
        } => {
            assert_eq!(function, "fail");
            assert_eq!(message, "boom: it broke");
        }
        other => panic!("expected an application error, got {other:?}"),
    }
    assert_eq!(err.to_string(), "task fail failed: boom: it broke");
    // Every holder sees the same error, every time.
    let again = failed.clone().get().await.expect_err("still failed");
    assert_eq!(again.to_string(), err.to_string());

    let parsed = runtime
        .task("parse_number")
        .arg("x")
        .submit_now::<i64>(&runtime)?;
    match within(SHORT, "parse_number", parsed.get()).await {
        Err(RayError::Application {
            function, message, ..
        }) => {
            assert_eq!(function, "parse_number");
            assert_eq!(message, "invalid digit found in string");
        }
        other => panic!("expected an application error, got {other:?}"),
    }
    let parsed = runtime
        .task("parse_number")
        .arg(" -17 ")
        .submit_now::<i64>(&runtime)?;
    assert_eq!(within(SHORT, "parse_number", parsed.get()).await?, -17);
    still_works(&runtime).await;
    Ok(())
}

#[tokio::test]
async fn a_panic_is_a_trap_carrying_the_panic_message() -> Result<()> {
    let runtime = common::runtime().await;
    let panicked = runtime
        .task("panic_now")
        .arg("the guest gave up (code 17)")
        .submit_now::<i32>(&runtime)?;
    match within(SHORT, "panic_now", panicked.get()).await {
        Err(RayError::Trap {
            function, message, ..
        }) => {
            assert_eq!(function, "panic_now");
            assert!(
                message.contains("the guest gave up (code 17)"),
                "the panic message is kept: {message}"
            );
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    still_works(&runtime).await;
    Ok(())
}

#[tokio::test]
async fn a_wasm_trap_names_unreachable_and_has_a_backtrace() -> Result<()> {
    let runtime = common::runtime().await;
    let trapped = runtime
        .task("trap_unreachable")
        .submit_now::<i32>(&runtime)?;
    let err = within(SHORT, "trap_unreachable", trapped.get())
        .await
        .expect_err("it traps");
    match &err {
        RayError::Trap {
            function,
            message,
            backtrace,
            ..
        } => {
            assert_eq!(function, "trap_unreachable");
            assert!(message.contains("unreachable"), "{message}");
            assert!(!backtrace.is_empty(), "a backtrace");
            assert!(
                backtrace.contains("trap_unreachable"),
                "the backtrace names the function: {backtrace}"
            );
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    assert!(err.to_string().contains("wasm backtrace:"), "{err}");
    still_works(&runtime).await;
    Ok(())
}

#[tokio::test]
async fn a_failure_propagates_down_a_chain_with_its_root_cause() -> Result<()> {
    let runtime = common::runtime().await;
    let root = runtime
        .task("parse_number")
        .arg("x")
        .submit_now::<i64>(&runtime)?;
    let mut chain: Vec<ObjectRef<i64>> = vec![root];
    for _ in 0..10 {
        let next = runtime
            .task("async_double")
            .arg_ref(chain.last().expect("non-empty"))
            .submit_now::<i64>(&runtime)?;
        chain.push(next);
    }
    let last = chain.last().expect("non-empty");
    let err = within(SHORT, "the failed chain", last.get())
        .await
        .expect_err("the chain fails");

    // The root failed; its 10 dependents each wrap the error of the one before.
    assert!(matches!(err, RayError::DependencyFailed { .. }), "{err:?}");
    assert_eq!(err.chain().count(), 11);
    match err.root_cause() {
        RayError::Application {
            function, message, ..
        } => {
            assert_eq!(function, "parse_number");
            assert_eq!(message, "invalid digit found in string");
        }
        other => panic!("expected the application error at the root, got {other:?}"),
    }
    // Each link names the object it depended on: the previous task's result.
    let failed_objects: Vec<_> = err
        .chain()
        .filter_map(|link| match link {
            RayError::DependencyFailed { object, .. } => Some(*object),
            _ => None,
        })
        .collect();
    let expected: Vec<_> = chain[..10].iter().rev().map(|r| r.id()).collect();
    assert_eq!(failed_objects, expected);
    assert!(
        err.to_string().contains("invalid digit found in string"),
        "the message shows the root cause: {err}"
    );
    // Links part-way down have the shorter chains.
    for (depth, object) in chain.iter().enumerate() {
        let link = object.get().await.expect_err("every link failed");
        assert_eq!(link.chain().count(), depth + 1, "link {depth}");
    }

    // The serializable form keeps the kinds: what an API client matches on.
    let info = err.info();
    assert_eq!(info.kind, "DependencyFailed");
    assert_eq!(info.root_kind, "Application");
    assert!(
        info.message.contains("invalid digit found in string"),
        "{info:?}"
    );
    let json = serde_json::to_string(&info).expect("ErrorInfo serializes");
    let back: rustyray::ErrorInfo = serde_json::from_str(&json).expect("and reads back");
    assert_eq!(back, info);
    assert_eq!(err.root_cause().info().kind, "Application");

    // A fresh chain works.
    let mut ok = runtime
        .task("parse_number")
        .arg("1")
        .submit_now::<i64>(&runtime)?;
    for _ in 0..10 {
        ok = runtime
            .task("async_double")
            .arg_ref(&ok)
            .submit_now::<i64>(&runtime)?;
    }
    assert_eq!(within(SHORT, "the good chain", ok.get()).await?, 1024);
    Ok(())
}

#[tokio::test]
async fn unknown_functions_and_bad_arguments_are_reported() -> Result<()> {
    let runtime = common::runtime().await;
    // Validation at submission (issue 10, point 8): the submit call itself refuses it.
    match runtime
        .task("no_such_function")
        .arg(1)
        .submit_now::<i32>(&runtime)
    {
        Err(RayError::FunctionNotFound(name)) => assert_eq!(name, "no_such_function"),
        other => panic!("expected FunctionNotFound, got {other:?}"),
    }

    let wrong_type = runtime
        .task("add")
        .arg("hello")
        .arg(1)
        .submit_now::<i32>(&runtime)?;
    match within(SHORT, "add(\"hello\", 1)", wrong_type.get()).await {
        Err(RayError::BadArguments { function, message }) => {
            assert_eq!(function, "add");
            assert!(message.contains("a: i32"), "names the parameter: {message}");
        }
        other => panic!("expected BadArguments, got {other:?}"),
    }
    let wrong_second = runtime
        .task("add")
        .arg(1)
        .arg(vec![1u8, 2, 3])
        .submit_now::<i32>(&runtime)?;
    match within(SHORT, "add(1, [1, 2, 3])", wrong_second.get()).await {
        Err(RayError::BadArguments { message, .. }) => {
            assert!(message.contains("b: i32"), "names the parameter: {message}");
        }
        other => panic!("expected BadArguments, got {other:?}"),
    }

    for args in [vec![1], vec![1, 2, 3]] {
        let mut builder = runtime.task("add");
        for arg in &args {
            builder = builder.arg(arg);
        }
        // Refused by the submission itself, before anything runs (issue 10, point 8).
        match builder.submit_now::<i32>(&runtime) {
            Err(RayError::BadArguments { function, message }) => {
                assert_eq!(function, "add");
                assert!(
                    message.contains(&format!("takes 2 arguments, got {}", args.len())),
                    "{message}"
                );
            }
            other => panic!("expected BadArguments, got {other:?}"),
        }
    }
    still_works(&runtime).await;
    Ok(())
}
