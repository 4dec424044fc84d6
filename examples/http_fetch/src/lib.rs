//! Fetching over HTTP in tasks: each task GETs one document through `wasi:http`
//! and counts what it holds; a last task merges the counts.
//!
//! The network is a capability: the tasks reach the server only because the
//! program is run with `--allow-net` for it. Serve `examples/http_fetch/data` on
//! loopback and run:
//!
//! ```text
//! python3 -m http.server 8000 --bind 127.0.0.1 --directory examples/http_fetch/data &
//! rustyray run examples/http_fetch --allow-net 127.0.0.1:8000 -- http://127.0.0.1:8000
//! ```
//!
//! Without the flag, every fetch fails with `HTTP-request-denied` and the task's
//! output says which flag would allow it.

use std::collections::BTreeMap;
use std::io::Read;

use rustyray::RayError;
use serde::{Deserialize, Serialize};

/// What one document holds.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Counts {
    url: String,
    bytes: u64,
    lines: u64,
    words: BTreeMap<String, u64>,
}

/// GETs `url` and counts its lines and words: one task per document.
#[rustyray::remote]
fn fetch_and_count(url: String) -> Result<Counts, String> {
    let (status, body) = http_get(&url)?;
    if status != 200 {
        return Err(format!("{url}: HTTP status {status}"));
    }
    let text = String::from_utf8_lossy(&body);
    let mut words = BTreeMap::new();
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 3)
    {
        *words.entry(word.to_lowercase()).or_insert(0) += 1;
    }
    Ok(Counts {
        url,
        bytes: body.len() as u64,
        lines: text.lines().count() as u64,
        words,
    })
}

/// Merges the counts of every document: the most frequent words overall.
#[rustyray::remote]
fn merge(all: Vec<Counts>) -> (u64, u64, Vec<(String, u64)>) {
    let mut words: BTreeMap<String, u64> = BTreeMap::new();
    for counts in &all {
        for (word, n) in &counts.words {
            *words.entry(word.clone()).or_insert(0) += n;
        }
    }
    let mut top: Vec<(String, u64)> = words.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    top.truncate(5);
    (
        all.iter().map(|c| c.bytes).sum(),
        all.iter().map(|c| c.lines).sum(),
        top,
    )
}

/// `rustyray run examples/http_fetch --allow-net HOST:PORT -- BASE_URL [DOCUMENT...]`
#[rustyray::main]
fn main() -> Result<(), RayError> {
    let args = rustyray::args();
    let base = args
        .get(1)
        .cloned()
        .unwrap_or("http://127.0.0.1:8000".into());
    let documents: Vec<String> = match args.get(2..) {
        Some(names) if !names.is_empty() => names.to_vec(),
        _ => ["ray.txt", "wasm.txt", "rustyray.txt"]
            .map(String::from)
            .to_vec(),
    };
    // Every fetch runs in parallel, each in its own sandboxed task.
    let fetches: Vec<_> = documents
        .iter()
        .map(|name| fetch_and_count::remote(format!("{}/{name}", base.trim_end_matches('/'))))
        .collect();
    let mut fetched = Vec::new();
    let mut failed = 0;
    for fetch in fetches {
        match fetch.get() {
            Ok(counts) => {
                println!(
                    "{}: {} bytes, {} lines",
                    counts.url, counts.bytes, counts.lines
                );
                fetched.push(counts);
            }
            Err(err) => {
                eprintln!("fetch failed: {err}");
                failed += 1;
            }
        }
    }
    let (bytes, lines, top) = merge::remote(fetched).get()?;
    println!("total: {bytes} bytes, {lines} lines; most frequent words:");
    for (word, n) in top {
        println!("  {word:<12} {n}");
    }
    if failed > 0 {
        eprintln!("{failed} of {} fetches failed", documents.len());
        std::process::exit(1);
    }
    Ok(())
}

/// A minimal `wasi:http` GET: the status and the body.
fn http_get(url: &str) -> Result<(u16, Vec<u8>), String> {
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{Fields, OutgoingRequest, Scheme};
    let (scheme, rest) = match url.split_once("://") {
        Some(("http", rest)) => (Scheme::Http, rest),
        Some(("https", rest)) => (Scheme::Https, rest),
        _ => return Err(format!("{url}: only http:// and https:// URLs")),
    };
    let (authority, path) = match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash..]),
        None => (rest, "/"),
    };
    let request = OutgoingRequest::new(Fields::new());
    request
        .set_scheme(Some(&scheme))
        .and_then(|()| request.set_authority(Some(authority)))
        .and_then(|()| request.set_path_with_query(Some(path)))
        .map_err(|()| format!("{url}: not a valid request"))?;
    let pending =
        outgoing_handler::handle(request, None).map_err(|err| format!("{url}: {err:?}"))?;
    pending.subscribe().block();
    let response = pending
        .get()
        .ok_or("no response after the wait")?
        .map_err(|()| "the response was taken already")?
        .map_err(|err| format!("{url}: {err:?}"))?;
    let status = response.status();
    let body = response.consume().map_err(|()| "no body")?;
    let mut bytes = Vec::new();
    {
        let mut stream = body.stream().map_err(|()| "no body stream")?;
        stream
            .read_to_end(&mut bytes)
            .map_err(|err| format!("{url}: reading the body: {err}"))?;
    }
    drop(body);
    Ok((status, bytes))
}
