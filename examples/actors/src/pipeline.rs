//! A pipeline of actors: each stage transforms a value and forwards it to the next stage
//! through a handle it was given at construction.

use rustyray::RayError;
use serde::{Deserialize, Serialize};

/// What a stage does to a value.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Op {
    Add(i64),
    Multiply(i64),
    Square,
}

impl Op {
    fn apply(&self, value: i64) -> i64 {
        match self {
            Op::Add(n) => value + n,
            Op::Multiply(n) => value * n,
            Op::Square => value * value,
        }
    }
}

#[rustyray::actor]
pub struct Stage {
    op: Op,
    next: Option<StageHandle>,
    processed: u32,
}

#[rustyray::actor]
impl Stage {
    /// The last stage has no `next`.
    fn new(op: Op, next: Option<StageHandle>) -> Self {
        Stage {
            op,
            next,
            processed: 0,
        }
    }

    /// Applies this stage, then hands the value on and waits for the end of the pipeline.
    fn process(&mut self, value: i64) -> Result<i64, RayError> {
        self.processed += 1;
        let out = self.op.apply(value);
        match &self.next {
            Some(next) => next.process(out).get(),
            None => Ok(out),
        }
    }

    fn processed(&self) -> u32 {
        self.processed
    }
}

pub fn demo() -> Result<(), RayError> {
    // Built from the end: each stage gets a handle to the next one.
    let square = Stage::remote(Op::Square, None);
    let add = Stage::remote(Op::Add(10), Some(square.clone()));
    let double = Stage::remote(Op::Multiply(2), Some(add.clone()));
    println!("pipeline: x -> x * 2 -> + 10 -> squared");

    let results: Vec<_> = (1..=5).map(|x| (x, double.process(x))).collect();
    for (x, result) in &results {
        println!("  {x} -> {}", result.get()?);
    }
    println!(
        "values processed per stage: double {}, add {}, square {}",
        double.processed().get()?,
        add.processed().get()?,
        square.processed().get()?
    );
    Ok(())
}
