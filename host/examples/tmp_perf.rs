use rustyray::{ObjectRef, Runtime, TaskBuilder};
use std::time::Instant;
#[tokio::main(flavor = "current_thread")]
async fn main() -> rustyray::Result<()> {
    let path = std::env::args().nth(1).unwrap();
    let w: usize = std::env::var("W")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let rt = Runtime::builder().worker_threads(w).build()?;
    rt.load(&path).await?;
    for round in 0..3 {
        let n = 10_000;
        let t = Instant::now();
        let refs: Vec<ObjectRef<u64>> = (0..n)
            .map(|i| TaskBuilder::new("inc").arg(i as u64).submit_now(&rt))
            .collect::<Result<_, _>>()?;
        for r in &refs {
            r.get().await?;
        }
        println!(
            "round {round}: async {:.0}/s",
            n as f64 / t.elapsed().as_secs_f64()
        );
        let t = Instant::now();
        for i in 0..1000u64 {
            TaskBuilder::new("inc")
                .arg(i)
                .submit_now::<u64>(&rt)?
                .get()
                .await?;
        }
        println!(
            "round {round}: sync {:.0}/s",
            1000.0 / t.elapsed().as_secs_f64()
        );
        let t = Instant::now();
        let mut last: ObjectRef<u64> = TaskBuilder::new("inc").arg(0u64).submit_now(&rt)?;
        for _ in 1..1000 {
            last = TaskBuilder::new("inc").arg_ref(&last).submit_now(&rt)?;
        }
        let v = last.get().await?;
        println!(
            "round {round}: chain {v} in {:.1} ms",
            t.elapsed().as_secs_f64() * 1e3
        );
    }
    Ok(())
}
