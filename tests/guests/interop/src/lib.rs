//! The Rust half of the cross-language tests (`tests/all/python.rs`), loaded beside the
//! Python fixtures (`tests/guests/python_fixtures/main.py`): Rust tasks a Python program
//! calls by name, and Rust tasks and a Rust program that call Python tasks and actors by
//! name, with typed results, references passed both ways, and Python errors seen from Rust.

use rustyray::{ActorHandle, ActorOptions, RayError, arg, arg_ref, function};
use serde::{Deserialize, Serialize};

/// What `rs_stats` returns: a Python caller sees a dict with these keys.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
pub struct Stats {
    pub count: u64,
    pub mean: f64,
}

/// What the Python task `py_point` returns (a dict), read back as a struct.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

/// Called from Python with a list of floats.
#[rustyray::remote]
fn rs_stats(xs: Vec<f64>) -> Stats {
    let count = xs.len() as u64;
    let mean = if xs.is_empty() {
        0.0
    } else {
        xs.iter().sum::<f64>() / xs.len() as f64
    };
    Stats { count, mean }
}

/// Called from Python with `bytes` (or a reference to them): a byte-wise checksum.
#[rustyray::remote]
fn rs_checksum(data: Vec<u8>) -> u64 {
    data.iter().map(|&b| u64::from(b)).sum()
}

/// A Rust task calling a Python task by name.
#[rustyray::remote]
fn rs_calls_python(x: i64) -> Result<i64, RayError> {
    function("py_add").remote::<i64>(vec![arg(x), arg(x)]).get()
}

/// A Python dict read back as a Rust struct.
#[rustyray::remote]
fn rs_python_point(x: f64, y: f64) -> Result<Point, RayError> {
    function("py_point").remote(vec![arg(x), arg(y)]).get()
}

/// A Rust task creating a Python actor by class name and calling it.
#[rustyray::remote]
fn rs_feeds_python_actor(start: i64, calls: u32) -> Result<i64, RayError> {
    let counter = ActorHandle::create("PyCounter", ActorOptions::new(), vec![arg(start)]);
    for _ in 1..calls {
        counter.tell("incr", vec![])?;
    }
    counter.call::<i64>("incr", vec![]).get()
}

/// What a Python exception looks like from Rust: the error's text.
#[rustyray::remote]
fn rs_python_error(message: String) -> String {
    match function("py_fail").remote::<()>(vec![arg(message)]).get() {
        Ok(()) => "no error".to_string(),
        Err(error) => error.to_string(),
    }
}

/// A Rust program driving Python: each line is checked by the test.
#[rustyray::main]
fn main() -> Result<(), RayError> {
    let sum: i64 = function("py_add")
        .remote(vec![arg(2i64), arg(40i64)])
        .get()?;
    println!("py_add {sum}");
    // A reference made in Rust, resolved for the Python task.
    let xs = rustyray::put(&vec![1.5f64, 2.5, 4.0])?;
    let total: f64 = function("py_sum").remote(vec![arg_ref(&xs)]).get()?;
    println!("py_sum {total}");
    // A Python task that calls back into Rust.
    let stats: Stats = function("py_calls_rust")
        .remote(vec![arg(vec![2.0f64, 4.0])])
        .get()?;
    println!("py_calls_rust {} {}", stats.count, stats.mean);
    let point = rs_python_point::remote(0.5, -1.0).get()?;
    println!("point {} {}", point.x, point.y);
    println!("actor {}", rs_feeds_python_actor::remote(10, 3).get()?);
    let missing = function("py_no_such_task").remote::<i64>(vec![]).get();
    println!(
        "missing {}",
        matches!(missing, Err(RayError::FunctionNotFound(_)))
    );
    Ok(())
}
