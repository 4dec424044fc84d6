//! A counter: state that lives across calls, calls that run in order, and handles shared
//! with tasks.

use rustyray::RayError;

#[rustyray::actor]
pub struct Counter {
    count: u64,
}

#[rustyray::actor]
impl Counter {
    fn new(start: u64) -> Self {
        Counter { count: start }
    }

    fn increment(&mut self) -> u64 {
        self.count += 1;
        self.count
    }

    fn add(&mut self, n: u64) -> u64 {
        self.count += n;
        self.count
    }

    fn get(&self) -> u64 {
        self.count
    }
}

/// A task that takes a handle: `times` fire-and-forget increments, then reads the count.
#[rustyray::remote]
pub fn increment_many(counter: CounterHandle, times: u64) -> Result<u64, RayError> {
    for _ in 0..times {
        counter.increment_tell()?;
    }
    counter.get().get()
}

pub fn demo() -> Result<(), RayError> {
    let counter = Counter::remote(0);

    // Ten calls submitted at once: they run one at a time, in order.
    let pending: Vec<_> = (0..10).map(|_| counter.increment()).collect();
    let values = pending
        .iter()
        .map(|r| r.get())
        .collect::<Result<Vec<_>, _>>()?;
    println!("10 increments returned {values:?}");
    println!("add(32) -> {}", counter.add(32).get()?);

    // A clone is one more handle to the same actor.
    let other = counter.clone();
    println!(
        "through a clone of the handle (same actor, id {} = {}): increment -> {}",
        other.id(),
        counter.id(),
        other.increment().get()?
    );

    // Handles are ordinary arguments: four tasks increment the same counter.
    let tasks: Vec<_> = (0..4)
        .map(|_| increment_many::remote(counter.clone(), 5))
        .collect();
    for task in &tasks {
        task.get()?;
    }
    println!(
        "after 4 tasks x 5 increments through handles passed as arguments: {} (expected 63)",
        counter.get().get()?
    );
    Ok(())
}
