//! Rust tasks feeding a Python actor: the program splits a text into chunks, one Rust task
//! counts the words of each chunk and sends its counts to a `WordTally` actor written in
//! Python (`tally/main.py`), and the program asks the actor for the most frequent words.
//!
//! ```text
//! rustyray run examples/mixed --load examples/mixed/tally
//! rustyray run examples/mixed --load examples/mixed/tally -- 5    # the top 5
//! ```
//!
//! The Python class is named at run time (`ActorHandle::create("WordTally", ..)`); its handle
//! travels to the Rust tasks as an argument; a Rust `HashMap` arrives in Python as a dict, and
//! the Python list of pairs comes back as a `Vec<(String, u64)>`.

use std::collections::HashMap;

use rustyray::{ActorHandle, ActorOptions, RayError, arg};
use serde::Deserialize;

const TEXT: &str = "\
It was the best of times, it was the worst of times, it was the age of wisdom,
it was the age of foolishness, it was the epoch of belief, it was the epoch of
incredulity, it was the season of Light, it was the season of Darkness, it was
the spring of hope, it was the winter of despair, we had everything before us,
we had nothing before us, we were all going direct to Heaven, we were all going
direct the other way - in short, the period was so far like the present period,
that some of its noisiest authorities insisted on its being received, for good
or for evil, in the superlative degree of comparison only.";

/// Counts the words of `chunk` and sends the counts to the Python tally; returns how many
/// words it saw.
#[rustyray::remote]
fn count_words(tally: ActorHandle, chunk: String) -> Result<u64, RayError> {
    let mut counts: HashMap<String, u64> = HashMap::new();
    for word in chunk
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        *counts.entry(word.to_lowercase()).or_default() += 1;
    }
    let words = counts.values().sum();
    tally.tell("add", vec![arg(counts)])?;
    Ok(words)
}

/// What `WordTally.summary()` returns (a Python dict).
#[derive(Deserialize)]
struct Summary {
    batches: u64,
    distinct: u64,
    words: u64,
}

#[rustyray::main]
fn main() -> Result<(), RayError> {
    let k: usize = rustyray::args()
        .get(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    let tally = ActorHandle::create("WordTally", ActorOptions::new(), vec![]);
    tally.ready()?;
    let chunks: Vec<&str> = TEXT.lines().collect();
    let counted: Vec<_> = chunks
        .iter()
        .map(|chunk| count_words::remote(tally.clone(), chunk.to_string()))
        .collect();
    let words: u64 = rustyray::get_all(&counted)?.into_iter().sum();
    println!("{} Rust tasks counted {words} words", chunks.len());
    // Each task's `tell` was queued before the task returned, so the tally has them all.
    let summary: Summary = tally.call("summary", vec![]).get()?;
    println!(
        "the Python tally holds {} words ({} distinct) from {} batches",
        summary.words, summary.distinct, summary.batches
    );
    let top: Vec<(String, u64)> = tally.call("top", vec![arg(k)]).get()?;
    for (word, n) in top {
        println!("{word:>6} {n}");
    }
    Ok(())
}
