//! What building a guest program in an interpreted language takes, whatever the language
//! ([`crate::python_build`] with componentize-py, [`crate::js_build`] with componentize-js):
//! a tools directory the builder is installed into on first use, the program's files and
//! the content key of a build, the cache of built components, and running the builder.
//!
//! A tool is installed into a directory of its own, built aside and renamed into place
//! (so an interrupted install is never taken for a finished one). A build runs in a
//! stage directory and its component is renamed into the cache, named by the SHA-256 of
//! everything that went into it, so an unchanged program is not rebuilt.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

use rustyray::error::{RayError, Result};

/// The languages a guest program directory may be written in, besides Rust.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// `main.py` (or `app.py`), built with componentize-py.
    Python,
    /// `main.js`, built with componentize-js.
    JavaScript,
}

impl Language {
    /// The error of a failed build of the program in `dir`.
    pub fn error(self, dir: &Path, message: impl Into<String>) -> RayError {
        let program = dir.display().to_string();
        let message = message.into();
        match self {
            Language::Python => RayError::PythonBuild { program, message },
            Language::JavaScript => RayError::JsBuild { program, message },
        }
    }

    fn name(self) -> &'static str {
        match self {
            Language::Python => "Python",
            Language::JavaScript => "JavaScript",
        }
    }
}

/// A name no other build running now (in this process or another) uses.
pub fn unique_suffix() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}-{n}", std::process::id())
}

/// Where the builders live: `$RUSTYRAY_TOOLS_DIR`, else `$XDG_DATA_HOME/rustyray`, else
/// `~/.local/share/rustyray`. Tools, not a cache: they are shared by every cache
/// directory (the tests use their own).
pub fn tools_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("RUSTYRAY_TOOLS_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME") {
        return Ok(PathBuf::from(dir).join("rustyray"));
    }
    std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".local/share/rustyray"))
        .ok_or_else(|| RayError::Io {
            context: "installing a guest program builder".into(),
            message: "no place for it: set RUSTYRAY_TOOLS_DIR or HOME".into(),
        })
}

/// The file in an installed tool's directory that says the install finished.
const READY: &str = "rustyray-ready";

/// The tool installed in `dir` (`version` of it), installing it first when it is not
/// there: `install` fills a directory aside, which is then renamed to `dir`. `announce`
/// is printed before a first install (it names the download).
pub fn install_tool(
    dir: &Path,
    version: &str,
    announce: &str,
    install: impl FnOnce(&Path) -> Result<()>,
) -> Result<()> {
    if dir.join(READY).is_file() {
        return Ok(());
    }
    eprintln!("rustyray: {announce} in {}", dir.display());
    let partial = dir.with_extension(format!("partial-{}", unique_suffix()));
    let _ = std::fs::remove_dir_all(&partial);
    std::fs::create_dir_all(&partial)
        .map_err(|err| RayError::io(format!("creating {}", partial.display()), err))?;
    if let Err(err) = install(&partial) {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(err);
    }
    std::fs::write(partial.join(READY), version)
        .map_err(|err| RayError::io(format!("writing into {}", partial.display()), err))?;
    // Another process that finished first wins; this copy is thrown away.
    if dir.join(READY).is_file() {
        let _ = std::fs::remove_dir_all(&partial);
        return Ok(());
    }
    let _ = std::fs::remove_dir_all(dir);
    std::fs::rename(&partial, dir)
        .map_err(|err| RayError::io(format!("moving the tool to {}", dir.display()), err))
}

/// Largest program directory hashed and bundled, so a mistaken `rustyray run ~` stops.
const MAX_PROGRAM_FILES: usize = 2_000;

/// Directories a program directory may hold that are not part of it (besides hidden ones).
const SKIPPED_DIRS: &[&str] = &["__pycache__", "node_modules", ".venv", "venv", "target"];

/// The program's files whose names `keep` accepts (relative path, bytes), sorted, for
/// the content key and the stage.
pub fn program_files(
    language: Language,
    dir: &Path,
    keep: impl Fn(&str) -> bool,
) -> Result<Vec<(String, Vec<u8>)>> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = std::fs::read_dir(&current)
            .map_err(|err| RayError::io(format!("reading {}", current.display()), err))?;
        for entry in entries {
            let entry =
                entry.map_err(|err| RayError::io(format!("reading {}", current.display()), err))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let kind = entry
                .file_type()
                .map_err(|err| RayError::io(format!("reading {}", path.display()), err))?;
            if kind.is_dir() {
                if !SKIPPED_DIRS.contains(&name.as_str()) && !name.starts_with('.') {
                    pending.push(path);
                }
            } else if kind.is_file() && keep(&name) {
                let bytes = std::fs::read(&path)
                    .map_err(|err| RayError::io(format!("reading {}", path.display()), err))?;
                let relative = path.strip_prefix(dir).unwrap_or(&path);
                files.push((relative.to_string_lossy().into_owned(), bytes));
                if files.len() > MAX_PROGRAM_FILES {
                    return Err(language.error(
                        dir,
                        format!(
                            "more than {MAX_PROGRAM_FILES} {} files: is this the program's \
                             directory?",
                            language.name()
                        ),
                    ));
                }
            }
        }
    }
    files.sort();
    Ok(files)
}

/// The content key of a build: every part (the tool's version, the WIT, ...), the SDK's
/// files and the program's, each length-prefixed.
pub fn build_key<'a>(
    parts: impl IntoIterator<Item = &'a [u8]>,
    sdk: &[(&str, &str)],
    files: &[(String, Vec<u8>)],
) -> String {
    let mut hasher = Sha256::new();
    let mut part = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    };
    for bytes in parts {
        part(bytes);
    }
    for (path, text) in sdk {
        part(path.as_bytes());
        part(text.as_bytes());
    }
    for (path, bytes) in files {
        part(path.as_bytes());
        part(bytes);
    }
    rustyray::cache::content_hash(&hasher.finalize())
}

/// The default cache directory, for a build of a program in `language`.
pub fn default_cache(language: Language) -> Result<PathBuf> {
    rustyray::cache::default_cache_dir().ok_or_else(|| RayError::Io {
        context: format!("building a {} program", language.name()),
        message: "no cache directory: set RUSTYRAY_CACHE_DIR or HOME".into(),
    })
}

/// The component built under `cache_dir/kind` with content `key`: the cached one, or
/// `build(stage, out)` run in a fresh stage directory to write `out`, then moved into
/// the cache. One build at a time in this process (the tests build from many threads);
/// other processes build in stages of their own and rename the result into place.
pub fn cached_build(
    cache_dir: &Path,
    kind: &str,
    key: &str,
    build: impl FnOnce(&Path, &Path) -> Result<()>,
) -> Result<PathBuf> {
    static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = BUILDING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let builds = cache_dir.join(kind);
    let out = builds.join(format!("{}.wasm", &key[..32]));
    if out.is_file() {
        return Ok(out);
    }
    let stage = builds.join(format!("{}.stage-{}", &key[..32], unique_suffix()));
    std::fs::create_dir_all(&stage)
        .map_err(|err| RayError::io(format!("creating {}", stage.display()), err))?;
    let partial = stage.join("out.wasm");
    let built = build(&stage, &partial).and_then(|()| {
        std::fs::rename(&partial, &out)
            .map_err(|err| RayError::io(format!("writing {}", out.display()), err))
    });
    let _ = std::fs::remove_dir_all(&stage);
    built.map(|()| out)
}

/// Writes `text` to `relative` under `stage`, creating its directory.
pub fn write_staged(stage: &Path, relative: &str, text: &[u8]) -> Result<()> {
    let path = stage.join(relative);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|err| RayError::io(format!("creating {}", parent.display()), err))?;
    }
    std::fs::write(&path, text)
        .map_err(|err| RayError::io(format!("writing {}", path.display()), err))
}

/// Runs a builder (its stdout shown, its stderr kept for the error): `Err` naming `what`
/// and what it printed when it fails.
pub fn run_builder(language: Language, dir: &Path, mut command: Command, what: &str) -> Result<()> {
    let output = command
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped())
        .output()
        .map_err(|err| language.error(dir, format!("cannot run {what}: {err}")))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(language.error(
        dir,
        format!("{what} failed ({}):\n{}", output.status, stderr.trim_end()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_follows_every_part() {
        let one = vec![("main.js".to_string(), b"x = 1".to_vec())];
        let two = vec![("main.js".to_string(), b"x = 2".to_vec())];
        let key = |parts: &[&[u8]], files| build_key(parts.iter().copied(), &[], files);
        assert_eq!(key(&[b"v1"], &one), key(&[b"v1"], &one));
        assert_ne!(key(&[b"v1"], &one), key(&[b"v1"], &two));
        assert_ne!(key(&[b"v1"], &one), key(&[b"v2"], &one));
        // Length prefixes: moving a byte from one part to the next changes the key.
        assert_ne!(key(&[b"ab", b"c"], &one), key(&[b"a", b"bc"], &one));
    }
}
