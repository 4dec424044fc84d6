//! The README's network example, word for word: a program that sends a line to a
//! TCP server with plain `std::net` and prints the answer. It reaches the server
//! only when run with `--allow-net` for it.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

#[rustyray::main]
fn main() -> Result<(), rustyray::RayError> {
    let addr = rustyray::args()
        .get(1)
        .cloned()
        .unwrap_or("127.0.0.1:7000".into());
    let answer = TcpStream::connect(&addr).and_then(|mut stream| {
        stream.write_all(b"hello\n")?;
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line)?;
        Ok(line)
    });
    match answer {
        Ok(line) => println!("{addr} answered: {}", line.trim()),
        Err(err) => {
            eprintln!("cannot talk to {addr}: {err}");
            std::process::exit(1);
        }
    }
    Ok(())
}
