//! The node's token: what a request must carry (`Authorization: Bearer TOKEN`) when the
//! node is started with `--token-file`, which it must be to bind beyond loopback. The
//! file is created with 32 random bytes (hex) and mode 0600 when it does not exist.

use std::io::Read as _;
use std::path::Path;

use crate::error::{NodeError, Result};

/// `n` bytes from the OS's random source.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; n];
    if let Ok(mut urandom) = std::fs::File::open("/dev/urandom")
        && urandom.read_exact(&mut bytes).is_ok()
    {
        return bytes;
    }
    // No /dev/urandom: fall back on the time and the process id through SHA-256.
    use sha2::Digest;
    let seed = format!("{:?}{}", std::time::SystemTime::now(), std::process::id());
    let digest = sha2::Sha256::digest(seed.as_bytes());
    bytes
        .iter_mut()
        .zip(digest.iter().cycle())
        .for_each(|(b, d)| *b = *d);
    bytes
}

/// The token in `path`, created (0600) if the file does not exist.
pub fn load_or_create(path: &Path) -> Result<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let token = text.trim().to_string();
            if token.len() < 16 {
                return Err(NodeError::io(
                    format!("reading the token in {}", path.display()),
                    "it is shorter than 16 characters: delete the file to have one generated",
                ));
            }
            Ok(token)
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            use std::io::Write as _;
            use std::os::unix::fs::OpenOptionsExt;
            let token = crate::modules::hex(&random_bytes(32));
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|err| NodeError::io(format!("creating {}", path.display()), err))?;
            file.write_all(format!("{token}\n").as_bytes())
                .map_err(|err| NodeError::io(format!("writing {}", path.display()), err))?;
            Ok(token)
        }
        Err(err) => Err(NodeError::io(format!("reading {}", path.display()), err)),
    }
}

/// The token in an existing file (for clients).
pub fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .map(|text| text.trim().to_string())
        .map_err(|err| NodeError::io(format!("reading the token file {}", path.display()), err))
}

/// Compares without stopping at the first difference.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}
