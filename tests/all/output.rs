//! Guest stdout and stderr: captured per task and per actor call, returned with
//! the result (success or not), capped, and passed live to a sink with labels.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustyray::{Limit, Limits, RayError, Result, Stream};

use crate::common::{self, SHORT, hostile_runtime, within};

#[tokio::test]
async fn a_tasks_output_comes_back_with_its_result() -> Result<()> {
    let runtime = hostile_runtime(common::builder()).await;
    let chatty = runtime
        .task("chatter")
        .arg(3u32)
        .submit_now::<u32>(&runtime)?;
    let (value, output) = within(SHORT, "chatter", chatty.get_with_output()).await;
    assert_eq!(value?, 3);
    assert_eq!(output.stdout_text(), "out 0\nout 1\nout 2\n");
    assert_eq!(output.stderr_text(), "err 0\nerr 1\nerr 2\n");
    assert!(!output.truncated);
    // Tasks that print nothing have no output; neither does a put.
    let quiet = runtime
        .task("add")
        .arg(1)
        .arg(2)
        .submit_now::<i32>(&runtime)?;
    assert_eq!(within(SHORT, "add", quiet.get()).await?, 3);
    assert_eq!(quiet.output(), None);
    assert_eq!(runtime.put(&1u8)?.output(), None);
    // Each task has its own.
    let other = runtime
        .task("chatter")
        .arg(1u32)
        .submit_now::<u32>(&runtime)?;
    within(SHORT, "chatter", other.get()).await?;
    assert_eq!(other.output().expect("output").stdout_text(), "out 0\n");
    Ok(())
}

#[tokio::test]
async fn a_failed_tasks_output_is_kept() -> Result<()> {
    let runtime = hostile_runtime(common::builder()).await;
    // A timeout: what it printed before it was stopped.
    let spinning = runtime
        .task("print_then_spin")
        .arg("about to spin")
        .timeout(Duration::from_millis(50))
        .submit_now::<u64>(&runtime)?;
    assert!(matches!(
        within(SHORT, "print_then_spin", spinning.get()).await,
        Err(RayError::Timeout(_))
    ));
    assert_eq!(
        spinning.output().expect("printed").stdout_text(),
        "about to spin\n"
    );
    Ok(())
}

#[tokio::test]
async fn too_much_output_fails_the_task_naming_the_limit() -> Result<()> {
    let runtime = hostile_runtime(common::builder().limits(Limits::new().output(1000))).await;
    let flood = runtime
        .task("chatter")
        .arg(100_000u32)
        .submit_now::<u32>(&runtime)?;
    let err = within(SHORT, "chatter", flood.get())
        .await
        .expect_err("over the cap");
    match &err {
        RayError::LimitExceeded {
            function,
            limit,
            value,
            ..
        } => {
            assert_eq!(function, "chatter");
            assert_eq!(*limit, Limit::Output);
            assert_eq!(*value, 1000);
        }
        other => panic!("expected LimitExceeded, got {other:?}"),
    }
    let kept = flood.output().expect("what fitted");
    assert!(kept.truncated);
    assert_eq!(kept.stdout.len() + kept.stderr.len(), 1000);
    assert!(kept.stdout_text().starts_with("out 0\n"));
    // Under the cap is fine, and a task can raise its own.
    let fine = runtime
        .task("chatter")
        .arg(1000u32)
        .limits(Limits::new().output(1 << 20))
        .submit_now::<u32>(&runtime)?;
    assert_eq!(within(SHORT, "chatter", fine.get()).await?, 1000);
    Ok(())
}

#[tokio::test]
async fn a_live_sink_sees_labelled_lines_as_they_come() -> Result<()> {
    let lines: Arc<Mutex<Vec<(String, Stream, String)>>> = Arc::default();
    let seen = lines.clone();
    let runtime = hostile_runtime(common::builder().on_output(move |line| {
        seen.lock().expect("lines").push((
            line.source.to_string(),
            line.stream,
            String::from_utf8_lossy(line.line).into_owned(),
        ));
    }))
    .await;
    let chatty = runtime
        .task("chatter")
        .arg(2u32)
        .submit_now::<u32>(&runtime)?;
    within(SHORT, "chatter", chatty.get()).await?;
    let label = format!("task {} chatter", chatty.id().0);
    {
        let lines = lines.lock().expect("lines");
        let mine: Vec<_> = lines
            .iter()
            .filter(|(source, ..)| *source == label)
            .collect();
        assert_eq!(mine.len(), 4, "{lines:?}");
        assert!(mine.contains(&&(label.clone(), Stream::Stdout, "out 1".to_string())));
        assert!(mine.contains(&&(label.clone(), Stream::Stderr, "err 0".to_string())));
    }
    // Actor calls are labelled with the actor and the method, and each call's
    // output comes back with its result.
    let fragile = runtime.actor("Fragile").create().await?;
    let said = fragile.call::<u32>("say", ("hello from an actor",));
    assert_eq!(within(SHORT, "Fragile.say", said.get()).await?, 1);
    assert_eq!(
        said.output().expect("printed").stdout_text(),
        "hello from an actor\n"
    );
    let again = fragile.call::<u32>("say", ("second",));
    within(SHORT, "Fragile.say", again.get()).await?;
    assert_eq!(again.output().expect("printed").stdout_text(), "second\n");
    let label = format!("{} Fragile.say", fragile.id());
    let lines = lines.lock().expect("lines");
    assert!(
        lines.contains(&(label.clone(), Stream::Stdout, "hello from an actor".into())),
        "{lines:?}"
    );
    Ok(())
}

#[tokio::test]
async fn stdin_is_closed_unless_given() -> Result<()> {
    let runtime = hostile_runtime(common::builder()).await;
    let closed = runtime.task("read_stdin").submit_now::<String>(&runtime)?;
    assert_eq!(within(SHORT, "read_stdin", closed.get()).await?, "");
    let given = runtime
        .task("read_stdin")
        .capabilities(rustyray::Capabilities::new().stdin(rustyray::Stdin::Bytes(
            bytes::Bytes::from_static(b"line one\nline two\n"),
        )))
        .submit_now::<String>(&runtime)?;
    assert_eq!(
        within(SHORT, "read_stdin", given.get()).await?,
        "line one\nline two\n"
    );
    Ok(())
}
