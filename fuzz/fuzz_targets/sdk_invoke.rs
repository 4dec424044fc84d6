//! The guest SDK's side of the boundary, built natively: the shims the macros
//! generate decode each argument the host passes to `invoke`, to an actor's
//! constructor and methods, and a snapshot given to `restore`. Any bytes must give
//! a value or `BadArguments`, never a panic (which would trap the guest).

#![no_main]

use std::collections::BTreeMap;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use rustyray::__private::{InvokeError, invoke, new_actor, restore_actor, snapshot_actor};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
pub enum Shape {
    Unit,
    Circle { r: f64 },
    Poly(Vec<(i32, i32)>),
}

#[rustyray::remote]
fn ints(a: i32, b: u64, c: i8) -> i64 {
    i64::from(a)
        .wrapping_add(b as i64)
        .wrapping_mul(i64::from(c))
}

#[rustyray::remote]
fn text(s: String, maybe: Option<String>) -> usize {
    s.len() + maybe.map_or(0, |m| m.chars().count())
}

#[rustyray::remote]
fn nested(v: Vec<Vec<(u8, String)>>, m: BTreeMap<String, f64>) -> usize {
    v.iter().map(Vec::len).sum::<usize>() + m.len()
}

#[rustyray::remote]
fn shape(s: Shape) -> String {
    format!("{s:?}")
}

#[rustyray::remote]
fn fallible(x: u32) -> Result<u32, String> {
    x.checked_mul(3).ok_or_else(|| "overflow".to_string())
}

#[rustyray::remote]
async fn asynchronous(data: Vec<u8>) -> usize {
    data.len()
}

#[rustyray::remote(variadic)]
fn weighted(weight: u64, parts: Vec<u64>) -> u64 {
    parts
        .iter()
        .fold(0u64, |sum, p| sum.wrapping_add(p.wrapping_mul(weight)))
}

/// An actor with snapshots, so `restore` decodes state.
#[derive(Serialize, Deserialize)]
#[rustyray::actor(snapshot)]
pub struct Tally {
    items: Vec<String>,
    total: u64,
}

#[rustyray::actor]
impl Tally {
    pub fn new(start: u64) -> Self {
        Tally {
            items: Vec::new(),
            total: start,
        }
    }

    pub fn add(&mut self, item: String, n: u64) -> u64 {
        self.items.push(item);
        self.total = self.total.wrapping_add(n);
        self.total
    }
}

#[derive(Debug, Arbitrary)]
enum Op {
    Invoke {
        function: u8,
        args: Vec<Vec<u8>>,
    },
    InvokeNamed {
        function: String,
        args: Vec<Vec<u8>>,
    },
    NewActor {
        args: Vec<Vec<u8>>,
    },
    Restore {
        state: Vec<u8>,
    },
    Call {
        method: u8,
        args: Vec<Vec<u8>>,
    },
}

const FUNCTIONS: &[&str] = &[
    "ints",
    "text",
    "nested",
    "shape",
    "fallible",
    "asynchronous",
    "weighted",
];

fn check(outcome: Result<Vec<u8>, InvokeError>) {
    match outcome {
        Ok(_) | Err(InvokeError::BadArguments(_)) | Err(InvokeError::Application(_)) => {}
        Err(InvokeError::FunctionNotFound(_)) => {}
    }
}

fuzz_target!(|ops: Vec<Op>| {
    for op in ops {
        match op {
            Op::Invoke { function, args } => {
                let name = FUNCTIONS[function as usize % FUNCTIONS.len()];
                check(invoke(name, &args));
            }
            Op::InvokeNamed { function, args } => check(invoke(&function, &args)),
            Op::NewActor { args } => {
                let _ = new_actor("Tally", &args);
            }
            Op::Restore { state } => {
                if restore_actor("Tally", &state).is_ok() {
                    // A restored actor snapshots again without trouble.
                    let _ = snapshot_actor();
                }
            }
            Op::Call { method, args } => {
                let method = ["add", "new", "missing"][method as usize % 3];
                check(rustyray::__private::dispatch_actor_call(method, &args));
            }
        }
    }
});
