//! Building a Python guest program into a component, for `rustyray run <dir>` when the
//! directory holds a `main.py` (or `app.py`) instead of a `Cargo.toml`.
//!
//! The Python SDK (`guest-sdk-python/rustyray`) and `wit/runtime.wit` are compiled into
//! this binary, so a program builds the same wherever the binary is. The tool is
//! [componentize-py](https://github.com/bytecodealliance/componentize-py), which bundles
//! CPython and the program into one component and pre-initializes it: the program's
//! modules are imported once at build time, and every instance (every task) starts from
//! that memory snapshot. componentize-py lives in a venv of its own, created on first use
//! (saying so) in the tools directory ([`tools_dir`]). The built component is cached by the SHA-256 of
//! everything that goes into it (the program's files, the SDK, the WIT, the tool's
//! version), so an unchanged program is not rebuilt.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

use crate::error::{RayError, Result};

/// The componentize-py release guests are built with (from PyPI).
pub const COMPONENTIZE_PY_VERSION: &str = "0.25.1";

/// The SDK's files, as `(path under the package dir, contents)`.
const SDK_FILES: &[(&str, &str)] = &[
    (
        "rustyray/__init__.py",
        include_str!("../../guest-sdk-python/rustyray/__init__.py"),
    ),
    (
        "rustyray/_api.py",
        include_str!("../../guest-sdk-python/rustyray/_api.py"),
    ),
    (
        "rustyray/_errors.py",
        include_str!("../../guest-sdk-python/rustyray/_errors.py"),
    ),
    (
        "rustyray/_exports.py",
        include_str!("../../guest-sdk-python/rustyray/_exports.py"),
    ),
    (
        "rustyray/_msgpack.py",
        include_str!("../../guest-sdk-python/rustyray/_msgpack.py"),
    ),
    (
        "rustyray/_wit.py",
        include_str!("../../guest-sdk-python/rustyray/_wit.py"),
    ),
];

/// The contract the component is built against.
const WIT: &str = include_str!("../../wit/runtime.wit");

/// The module componentize-py starts from: it imports the program (so its decorators
/// register, at build time) and names the export classes.
const ENTRY_MODULE: &str = "rustyray_entry";

/// Files a program directory may hold that are not part of it.
const SKIPPED_DIRS: &[&str] = &["__pycache__", ".venv", "venv", ".git", "target"];

/// Largest program directory hashed and bundled, so a mistaken `rustyray run ~` stops.
const MAX_PROGRAM_FILES: usize = 2_000;

/// A name no other build running now (in this process or another) uses.
fn unique_suffix() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}-{n}", std::process::id())
}

/// The program's entry module in `dir` (`main` for `main.py`, else `app` for `app.py`),
/// or `None` when `dir` is not a Python program.
pub fn entry_module(dir: &Path) -> Option<&'static str> {
    ["main", "app"]
        .into_iter()
        .find(|name| dir.join(format!("{name}.py")).is_file())
}

/// Where componentize-py's venv lives: `$RUSTYRAY_TOOLS_DIR`, else
/// `$XDG_DATA_HOME/rustyray`, else `~/.local/share/rustyray`. A tool, not a cache: it is
/// shared by every cache directory (the tests use their own).
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
            context: "building a Python program".into(),
            message: "no place for componentize-py: set RUSTYRAY_TOOLS_DIR or HOME".into(),
        })
}

fn build_error(dir: &Path, message: impl Into<String>) -> RayError {
    RayError::PythonBuild {
        program: dir.display().to_string(),
        message: message.into(),
    }
}

/// The Python interpreter used to create the venv: `$RUSTYRAY_PYTHON`, else `python3`.
fn host_python() -> std::ffi::OsString {
    std::env::var_os("RUSTYRAY_PYTHON").unwrap_or_else(|| "python3".into())
}

/// Runs componentize-py with the venv's interpreter (`python -c`, not the venv's
/// script, whose first line names the directory the venv was created in).
const RUN_COMPONENTIZE_PY: &str = "import sys; from componentize_py import script; sys.argv[0] = 'componentize-py'; sys.exit(script())";

/// The Python of componentize-py's venv, creating the venv first when it is missing.
/// The venv is built aside and renamed into place, so an interrupted install is never
/// taken for a finished one.
pub fn ensure_componentize_py() -> Result<PathBuf> {
    let venv = tools_dir()?.join(format!("componentize-py-{COMPONENTIZE_PY_VERSION}"));
    let tool = venv.join("bin").join("python");
    if venv.join("rustyray-ready").is_file() {
        return Ok(tool);
    }
    let program = venv.display().to_string();
    eprintln!(
        "rustyray: first Python build: creating a venv with componentize-py \
         {COMPONENTIZE_PY_VERSION} (from PyPI) in {program}"
    );
    let partial = venv.with_extension(format!("partial-{}", unique_suffix()));
    let _ = std::fs::remove_dir_all(&partial);
    if let Some(parent) = partial.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|err| RayError::io(format!("creating {}", parent.display()), err))?;
    }
    let python = host_python();
    let status = Command::new(&python)
        .args(["-m", "venv"])
        .arg(&partial)
        .stdout(Stdio::null())
        .status()
        .map_err(|err| {
            build_error(
                &venv,
                format!(
                    "cannot run {} ({err}): Python 3 with its venv module is needed to \
                     build Python guests (set RUSTYRAY_PYTHON to use another interpreter)",
                    python.to_string_lossy()
                ),
            )
        })?;
    if !status.success() {
        return Err(build_error(
            &venv,
            format!(
                "`{} -m venv` failed ({status}): is the venv module installed \
                 (python3-venv on Debian/Ubuntu)?",
                python.to_string_lossy()
            ),
        ));
    }
    let status = Command::new(partial.join("bin").join("python"))
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            &format!("componentize-py=={COMPONENTIZE_PY_VERSION}"),
        ])
        .status()
        .map_err(|err| build_error(&venv, format!("cannot run the venv's pip: {err}")))?;
    if !status.success() {
        return Err(build_error(
            &venv,
            format!("pip install componentize-py=={COMPONENTIZE_PY_VERSION} failed ({status})"),
        ));
    }
    std::fs::write(partial.join("rustyray-ready"), COMPONENTIZE_PY_VERSION)
        .map_err(|err| RayError::io(format!("writing into {}", partial.display()), err))?;
    // Another process that finished first wins; this copy is thrown away.
    if venv.join("rustyray-ready").is_file() {
        let _ = std::fs::remove_dir_all(&partial);
        return Ok(tool);
    }
    let _ = std::fs::remove_dir_all(&venv);
    std::fs::rename(&partial, &venv)
        .map_err(|err| RayError::io(format!("moving the venv to {program}"), err))?;
    Ok(tool)
}

/// The program's files (relative path, bytes), sorted, for the content hash.
fn program_files(dir: &Path) -> Result<Vec<(String, Vec<u8>)>> {
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
            } else if kind.is_file() && (name.ends_with(".py") || name == "requirements.txt") {
                let bytes = std::fs::read(&path)
                    .map_err(|err| RayError::io(format!("reading {}", path.display()), err))?;
                let relative = path.strip_prefix(dir).unwrap_or(&path);
                files.push((relative.to_string_lossy().into_owned(), bytes));
                if files.len() > MAX_PROGRAM_FILES {
                    return Err(build_error(
                        dir,
                        format!(
                            "more than {MAX_PROGRAM_FILES} Python files: is this the \
                             program's directory?"
                        ),
                    ));
                }
            }
        }
    }
    files.sort();
    Ok(files)
}

/// The content key of a build: the program, the SDK, the WIT and the tool's version.
fn build_key(entry: &str, files: &[(String, Vec<u8>)]) -> String {
    let mut hasher = Sha256::new();
    let mut part = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    };
    part(COMPONENTIZE_PY_VERSION.as_bytes());
    part(entry.as_bytes());
    part(WIT.as_bytes());
    for (path, text) in SDK_FILES {
        part(path.as_bytes());
        part(text.as_bytes());
    }
    for (path, bytes) in files {
        part(path.as_bytes());
        part(bytes);
    }
    crate::cache::content_hash(&hasher.finalize())
}

/// Builds the Python program in `dir` (cached by content in the default cache
/// directory); the component's path.
pub fn build_program(dir: &Path) -> Result<PathBuf> {
    let cache = crate::cache::default_cache_dir().ok_or_else(|| RayError::Io {
        context: "building a Python program".into(),
        message: "no cache directory: set RUSTYRAY_CACHE_DIR or HOME".into(),
    })?;
    build_program_in(dir, &cache)
}

/// Builds the Python program in `dir`, caching the component under `cache_dir`.
pub fn build_program_in(dir: &Path, cache_dir: &Path) -> Result<PathBuf> {
    // One build at a time in this process (the tests build from many threads); other
    // processes build in directories of their own and rename the result into place.
    static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = BUILDING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let entry = entry_module(dir)
        .ok_or_else(|| build_error(dir, "no main.py or app.py: not a Python program"))?;
    let files = program_files(dir)?;
    let key = build_key(entry, &files);
    let builds = cache_dir.join("python");
    let out = builds.join(format!("{}.wasm", &key[..32]));
    if out.is_file() {
        return Ok(out);
    }
    let tool = ensure_componentize_py()?;
    eprintln!(
        "rustyray: building the Python program {} with componentize-py (about a minute)",
        dir.display()
    );
    let stage = builds.join(format!("{}.stage-{}", &key[..32], unique_suffix()));
    let write = |relative: &str, text: &str| -> Result<()> {
        let path = stage.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|err| RayError::io(format!("creating {}", parent.display()), err))?;
        }
        std::fs::write(&path, text)
            .map_err(|err| RayError::io(format!("writing {}", path.display()), err))
    };
    for (path, text) in SDK_FILES {
        write(&format!("sdk/{path}"), text)?;
    }
    write("wit/runtime.wit", WIT)?;
    write(
        &format!("entry/{ENTRY_MODULE}.py"),
        &format!(
            "import {entry} as _program  # noqa: F401  (registers the program's tasks)\n\
             from rustyray._exports import Guest, Driver  # noqa: F401\n"
        ),
    )?;
    let program_dir = dir
        .canonicalize()
        .map_err(|err| RayError::io(format!("opening {}", dir.display()), err))?;
    let mut path_args: Vec<PathBuf> = vec![stage.join("entry"), program_dir.clone()];
    if program_dir.join("requirements.txt").is_file() {
        let deps = stage.join("deps");
        eprintln!("rustyray: installing requirements.txt (pure-Python packages only)");
        let status = Command::new(&tool)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                // Wheels only: no package's setup.py runs on the host.
                "--only-binary=:all:",
                "--target",
            ])
            .arg(&deps)
            .arg("-r")
            .arg(program_dir.join("requirements.txt"))
            .status()
            .map_err(|err| build_error(dir, format!("cannot run pip: {err}")))?;
        if !status.success() {
            return Err(build_error(
                dir,
                format!("pip install -r requirements.txt failed ({status})"),
            ));
        }
        path_args.push(deps);
    }
    path_args.push(stage.join("sdk"));
    let partial = stage.join("out.wasm");
    let mut command = Command::new(&tool);
    command
        .args(["-c", RUN_COMPONENTIZE_PY])
        .arg("-d")
        .arg(stage.join("wit"))
        .args([
            "-w",
            "driver-module",
            "--quiet",
            "componentize",
            ENTRY_MODULE,
        ]);
    for path in &path_args {
        command.arg("-p").arg(path);
    }
    let output = command
        .arg("-o")
        .arg(&partial)
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped())
        .output()
        .map_err(|err| build_error(dir, format!("cannot run componentize-py: {err}")))?;
    if !output.status.success() {
        let _ = std::fs::remove_dir_all(&stage);
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(build_error(
            dir,
            format!(
                "componentize-py failed ({}):\n{}",
                output.status,
                stderr.trim_end()
            ),
        ));
    }
    std::fs::rename(&partial, &out)
        .map_err(|err| RayError::io(format!("writing {}", out.display()), err))?;
    let _ = std::fs::remove_dir_all(&stage);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_follows_the_program() {
        let one = vec![("main.py".to_string(), b"x = 1".to_vec())];
        let two = vec![("main.py".to_string(), b"x = 2".to_vec())];
        assert_eq!(build_key("main", &one), build_key("main", &one));
        assert_ne!(build_key("main", &one), build_key("main", &two));
        assert_ne!(build_key("main", &one), build_key("app", &one));
    }

    #[test]
    fn a_directory_without_main_or_app_is_not_python() {
        let dir = std::env::temp_dir().join(format!("rustyray-py-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(entry_module(&dir), None);
        std::fs::write(dir.join("app.py"), "").unwrap();
        assert_eq!(entry_module(&dir), Some("app"));
        std::fs::write(dir.join("main.py"), "").unwrap();
        assert_eq!(entry_module(&dir), Some("main"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
