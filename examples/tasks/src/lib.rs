//! Task patterns: a parallel map, a chain of dependent tasks, and a fan-in.
//!
//! Run with `rustyray run examples/tasks` (optionally `-- N` for the map size).

use serde::{Deserialize, Serialize};

/// A word and how often it occurs.
#[derive(Debug, Serialize, Deserialize)]
pub struct WordCount {
    pub word: String,
    pub count: u32,
}

#[rustyray::remote]
fn square(x: u64) -> u64 {
    x * x
}

#[rustyray::remote]
fn add(a: u64, b: u64) -> u64 {
    a + b
}

/// Counts the words of one line (a task per line).
#[rustyray::remote]
fn count_words(line: String) -> Vec<WordCount> {
    let mut counts: Vec<WordCount> = Vec::new();
    for word in line.split_whitespace().map(|w| w.to_lowercase()) {
        match counts.iter_mut().find(|c| c.word == word) {
            Some(c) => c.count += 1,
            None => counts.push(WordCount { word, count: 1 }),
        }
    }
    counts
}

#[rustyray::main]
fn main() -> Result<(), rustyray::RayError> {
    let n: u64 = rustyray::args()
        .get(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10);

    // 1. Parallel map: one task per element, all submitted before any is read.
    let squares: Vec<_> = (1..=n).map(square::remote).collect();
    let values = squares
        .iter()
        .map(|r| r.get())
        .collect::<Result<Vec<_>, _>>()?;
    println!("map: squares of 1..={n} = {values:?}");

    // 2. Chaining: each task takes the previous task's ObjectRef; the runtime
    //    starts each one when its argument is ready.
    let mut total = add::remote(0, 1);
    for i in 2..=100 {
        total = add::remote(&total, i);
    }
    println!("chain: 1 + 2 + ... + 100 = {}", total.get()?);

    // 3. Fan-in: a tree of `add` tasks reduces the squares without the driver
    //    reading any intermediate value.
    let mut level = squares;
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [a, b] => add::remote(a, b),
                [a] => add::remote(a, 0),
                _ => unreachable!("chunks(2) yields one or two"),
            })
            .collect();
    }
    let expected = n * (n + 1) * (2 * n + 1) / 6;
    println!(
        "fan-in: sum of squares = {} (expected {expected})",
        level[0].get()?
    );

    // 4. Tasks with structured values.
    let text = ["the quick brown fox", "jumps over the lazy dog", "The End"];
    let per_line: Vec<_> = text
        .iter()
        .map(|line| count_words::remote(line.to_string()))
        .collect();
    let mut the = 0;
    for counts in &per_line {
        the += counts
            .get()?
            .iter()
            .filter(|c| c.word == "the")
            .map(|c| c.count)
            .sum::<u32>();
    }
    println!("words: \"the\" occurs {the} times");
    Ok(())
}
