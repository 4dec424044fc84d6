//! `rustyray new NAME [--actor]`: a guest crate that builds and runs at once.
//!
//! Owns the templates and the checks on the name and the directory. The crate depends on
//! the SDK by path when this `rustyray` was built from a checkout that still has
//! `guest-sdk/` (the usual case), else by git from the repository; `--sdk PATH` overrides
//! both. It carries an empty `[workspace]` table so that creating it inside another
//! workspace (this repository's included) does not make cargo adopt it.

use std::path::{Path, PathBuf};

use rustyray::error::{RayError, Result};

/// What kind of guest to scaffold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    /// Remote functions and a `main` that maps them over a range.
    Tasks,
    /// An actor class and a `main` that calls it.
    Actor,
}

/// Where the SDK is found, as a Cargo dependency spec.
fn sdk_dependency(sdk: Option<&Path>) -> String {
    let local = sdk.map(Path::to_path_buf).or_else(|| {
        let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("../guest-sdk");
        checkout.join("Cargo.toml").is_file().then_some(checkout)
    });
    match local {
        Some(path) => {
            let path = path.canonicalize().unwrap_or(path);
            format!(
                "rustyray = {{ package = \"rustyray-sdk\", path = {:?} }}",
                path.display().to_string()
            )
        }
        None => format!(
            "rustyray = {{ package = \"rustyray-sdk\", git = {:?} }}",
            env!("CARGO_PKG_REPOSITORY")
        ),
    }
}

/// The crate name a directory gives, if it is a valid one.
fn crate_name(dir: &Path) -> Result<String> {
    let name = dir
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or_default()
        .to_owned();
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    if valid {
        Ok(name)
    } else {
        Err(RayError::InvalidOptions(format!(
            "{:?} is not a crate name: use ASCII letters, digits, `-` and `_`, starting with a \
             letter",
            dir.display().to_string()
        )))
    }
}

/// Writes a new guest crate at `dir` (which must not exist, or be empty). Returns the files
/// written.
pub fn create(dir: &Path, template: Template, sdk: Option<&Path>) -> Result<Vec<PathBuf>> {
    let name = crate_name(dir)?;
    if dir.exists() {
        let empty = std::fs::read_dir(dir)
            .map_err(|err| RayError::io(format!("reading {}", dir.display()), err))?
            .next()
            .is_none();
        if !empty {
            return Err(RayError::InvalidOptions(format!(
                "{} already exists and is not empty",
                dir.display()
            )));
        }
    }
    let files = [
        (PathBuf::from("Cargo.toml"), manifest(&name, sdk)),
        (PathBuf::from("src/lib.rs"), source(&name, template)),
        (PathBuf::from(".gitignore"), "/target\n".to_owned()),
    ];
    let mut written = Vec::new();
    for (relative, text) in files {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|err| RayError::io(format!("creating {}", parent.display()), err))?;
        }
        std::fs::write(&path, text)
            .map_err(|err| RayError::io(format!("writing {}", path.display()), err))?;
        written.push(path);
    }
    Ok(written)
}

fn manifest(name: &str, sdk: Option<&Path>) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
{sdk}
serde = {{ version = "1", features = ["derive"] }}

# A workspace of its own, wherever it is created.
[workspace]

[profile.release]
# Keep function names in the component so traps show a symbolized backtrace.
strip = "none"
"#,
        sdk = sdk_dependency(sdk)
    )
}

fn source(name: &str, template: Template) -> String {
    match template {
        Template::Tasks => format!(
            r#"//! `{name}`: a rustyray guest. Run it with `rustyray run {name} -- 10`.

use rustyray::{{ObjectRef, RayError}};

/// A remote function: `square::remote(x)` runs it as a task.
#[rustyray::remote]
fn square(x: u64) -> u64 {{
    x * x
}}

/// Adds two partial sums; its arguments may be values or references.
#[rustyray::remote]
fn add(a: u64, b: u64) -> u64 {{
    a + b
}}

#[rustyray::main]
fn main() -> Result<(), RayError> {{
    // args()[0] is the program's path; the rest come after `--`.
    let n: u64 = rustyray::args()
        .get(1)
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(10);
    let squares: Vec<ObjectRef<u64>> = (0..n).map(square::remote).collect();
    let total = squares
        .iter()
        .fold(rustyray::put(&0u64)?, |sum, square| add::remote(sum, square));
    println!("sum of squares below {{n}}: {{}}", total.get()?);
    Ok(())
}}
"#
        ),
        Template::Actor => format!(
            r#"//! `{name}`: a rustyray guest with an actor. Run it with `rustyray run {name}`.

use serde::{{Deserialize, Serialize}};

/// An actor: its state lives in its own instance; calls run one at a time, in order.
#[rustyray::actor]
#[derive(Serialize, Deserialize)]
pub struct Counter {{
    value: u64,
}}

#[rustyray::actor]
impl Counter {{
    /// The constructor.
    pub fn new(start: u64) -> Self {{
        Counter {{ value: start }}
    }}

    /// A remote method: `counter.add(n)` returns an `ObjectRef<u64>`.
    pub fn add(&mut self, n: u64) -> u64 {{
        self.value += n;
        self.value
    }}
}}

#[rustyray::main]
fn main() -> Result<(), rustyray::RayError> {{
    let counter = Counter::remote(0);
    for n in 1..=10 {{
        counter.add_tell(n)?;
    }}
    println!("counter: {{}}", counter.add(0).get()?);
    Ok(())
}}
"#
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(crate_name(Path::new("a/hello_world")).is_ok());
        assert!(crate_name(Path::new("a/9lives")).is_err());
        assert!(crate_name(Path::new("a/with space")).is_err());
        assert!(crate_name(Path::new("/")).is_err());
    }
}
