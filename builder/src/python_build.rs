//! Building a Python guest program into a component, for `rustyray run <dir>` when the
//! directory holds a `main.py` (or `app.py`) instead of a `Cargo.toml`.
//!
//! The Python SDK (`guest-sdk-python/rustyray`) and `wit/runtime.wit` are compiled into
//! this binary, so a program builds the same wherever the binary is. The tool is
//! [componentize-py](https://github.com/bytecodealliance/componentize-py), which bundles
//! CPython and the program into one component and pre-initializes it: the program's
//! modules are imported once at build time, and every instance (every task) starts from
//! that memory snapshot. componentize-py lives in a venv of its own, created on first use
//! (saying so) in the tools directory ([`tools_dir`]); what every interpreted language's
//! build shares is in [`crate::program_build`]. The built component is cached by the SHA-256 of
//! everything that goes into it (the program's files, the SDK, the WIT, the tool's
//! version), so an unchanged program is not rebuilt.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub use crate::program_build::tools_dir;
use crate::program_build::{
    Language, build_key, cached_build, default_cache, install_tool, program_files, run_builder,
    write_staged,
};
use rustyray::error::{RayError, Result};

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

const PYTHON: Language = Language::Python;

/// The program's entry module in `dir` (`main` for `main.py`, else `app` for `app.py`),
/// or `None` when `dir` is not a Python program.
pub fn entry_module(dir: &Path) -> Option<&'static str> {
    ["main", "app"]
        .into_iter()
        .find(|name| dir.join(format!("{name}.py")).is_file())
}

/// The Python interpreter used to create the venv: `$RUSTYRAY_PYTHON`, else `python3`.
fn host_python() -> std::ffi::OsString {
    std::env::var_os("RUSTYRAY_PYTHON").unwrap_or_else(|| "python3".into())
}

/// Runs componentize-py with the venv's interpreter (`python -c`, not the venv's
/// script, whose first line names the directory the venv was created in).
const RUN_COMPONENTIZE_PY: &str = "import sys; from componentize_py import script; sys.argv[0] = 'componentize-py'; sys.exit(script())";

/// The Python of componentize-py's venv, creating the venv first when it is missing
/// (in the tools directory, [`tools_dir`]).
pub fn ensure_componentize_py() -> Result<PathBuf> {
    let venv = tools_dir()?.join(format!("componentize-py-{COMPONENTIZE_PY_VERSION}"));
    let announce = format!(
        "first Python build: creating a venv with componentize-py \
         {COMPONENTIZE_PY_VERSION} (from PyPI)"
    );
    install_tool(&venv, COMPONENTIZE_PY_VERSION, &announce, |partial| {
        let python = host_python();
        let status = Command::new(&python)
            .args(["-m", "venv"])
            .arg(partial)
            .stdout(Stdio::null())
            .status()
            .map_err(|err| {
                PYTHON.error(
                    &venv,
                    format!(
                        "cannot run {} ({err}): Python 3 with its venv module is needed to \
                         build Python guests (set RUSTYRAY_PYTHON to use another interpreter)",
                        python.to_string_lossy()
                    ),
                )
            })?;
        if !status.success() {
            return Err(PYTHON.error(
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
            .map_err(|err| PYTHON.error(&venv, format!("cannot run the venv's pip: {err}")))?;
        if !status.success() {
            return Err(PYTHON.error(
                &venv,
                format!("pip install componentize-py=={COMPONENTIZE_PY_VERSION} failed ({status})"),
            ));
        }
        Ok(())
    })?;
    Ok(venv.join("bin").join("python"))
}

/// The program's files: its Python modules and `requirements.txt`.
fn python_files(dir: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    program_files(PYTHON, dir, |name| {
        name.ends_with(".py") || name == "requirements.txt"
    })
}

/// The content key of a build: the program, the SDK, the WIT and the tool's version.
fn python_key(entry: &str, files: &[(String, Vec<u8>)]) -> String {
    let parts = [COMPONENTIZE_PY_VERSION, entry, WIT].map(str::as_bytes);
    build_key(parts, SDK_FILES, files)
}

/// Builds the Python program in `dir` (cached by content in the default cache
/// directory); the component's path.
pub fn build_program(dir: &Path) -> Result<PathBuf> {
    build_program_in(dir, &default_cache(PYTHON)?)
}

/// Builds the Python program in `dir`, caching the component under `cache_dir`.
pub fn build_program_in(dir: &Path, cache_dir: &Path) -> Result<PathBuf> {
    let entry = entry_module(dir)
        .ok_or_else(|| PYTHON.error(dir, "no main.py or app.py: not a Python program"))?;
    let files = python_files(dir)?;
    let key = python_key(entry, &files);
    cached_build(cache_dir, "python", &key, |stage, partial| {
        let tool = ensure_componentize_py()?;
        eprintln!(
            "rustyray: building the Python program {} with componentize-py (about a minute)",
            dir.display()
        );
        for (path, text) in SDK_FILES {
            write_staged(stage, &format!("sdk/{path}"), text.as_bytes())?;
        }
        write_staged(stage, "wit/runtime.wit", WIT.as_bytes())?;
        write_staged(
            stage,
            &format!("entry/{ENTRY_MODULE}.py"),
            format!(
                "import {entry} as _program  # noqa: F401  (registers the program's tasks)\n\
                 from rustyray._exports import Guest, Driver  # noqa: F401\n"
            )
            .as_bytes(),
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
                .map_err(|err| PYTHON.error(dir, format!("cannot run pip: {err}")))?;
            if !status.success() {
                return Err(PYTHON.error(
                    dir,
                    format!("pip install -r requirements.txt failed ({status})"),
                ));
            }
            path_args.push(deps);
        }
        path_args.push(stage.join("sdk"));
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
        command.arg("-o").arg(partial);
        run_builder(PYTHON, dir, command, "componentize-py")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_follows_the_program() {
        let one = vec![("main.py".to_string(), b"x = 1".to_vec())];
        let two = vec![("main.py".to_string(), b"x = 2".to_vec())];
        assert_eq!(python_key("main", &one), python_key("main", &one));
        assert_ne!(python_key("main", &one), python_key("main", &two));
        assert_ne!(python_key("main", &one), python_key("app", &one));
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
