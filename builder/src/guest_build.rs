//! Building a guest crate for `wasm32-wasip2`, for `rustyray run <crate dir>`.
//!
//! Checks that the target is installed and, when it is not, installs it through
//! rustup (saying so), then runs `cargo build --release --target wasm32-wasip2` and
//! finds the `.wasm` it produced from cargo's JSON messages rather than guessing at
//! paths (workspaces, renamed libs and custom target dirs all move them).
//!
//! Cargo runs in a process group of its own, and SIGTERM or SIGINT sent to
//! rustyray while it builds is forwarded to that whole group (cargo, rustc, build
//! scripts) before rustyray itself ends by the same signal: stopping rustyray
//! stops the build, rather than leaving compilers running behind it.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};

use rustyray::error::{RayError, Result};

/// The target guests are built for.
pub const WASM_TARGET: &str = "wasm32-wasip2";

/// Whether rustup reports the wasm target as installed (`None`: no rustup).
pub fn target_installed() -> Option<bool> {
    let output = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .ok()?;
    Some(
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .any(|line| line.trim() == WASM_TARGET),
    )
}

/// Installs the wasm target if rustup says it is missing.
pub fn ensure_target() -> Result<()> {
    if target_installed() != Some(false) {
        return Ok(());
    }
    eprintln!(
        "rustyray: the {WASM_TARGET} target is missing; running `rustup target add {WASM_TARGET}`"
    );
    let status = Command::new("rustup")
        .args(["target", "add", WASM_TARGET])
        .status()
        .map_err(|err| RayError::io("running rustup", err))?;
    if status.success() {
        Ok(())
    } else {
        Err(RayError::Io {
            context: format!("rustup target add {WASM_TARGET}"),
            message: format!("failed ({status}); install the target by hand and retry"),
        })
    }
}

/// Builds the guest crate at `dir` in release mode; the `.wasm` files it produced
/// (one per cdylib), the first being the crate's own.
pub fn build_crate(dir: &Path) -> Result<Vec<PathBuf>> {
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        return Err(RayError::Io {
            context: format!("building {}", dir.display()),
            message: "no Cargo.toml there: give a .wasm file or a guest crate directory".into(),
        });
    }
    ensure_target()?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args([
            "build",
            "--release",
            "--target",
            WASM_TARGET,
            "--message-format=json-render-diagnostics",
            "--manifest-path",
        ])
        .arg(&manifest)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .process_group(0);
    let output = run_forwarding_signals(&mut command)?;
    if !output.status.success() {
        return Err(RayError::Io {
            context: format!("building {}", dir.display()),
            message: format!("cargo build failed ({})", output.status),
        });
    }
    let wasm: Vec<PathBuf> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .filter(|message| {
            message["target"]["kind"]
                .as_array()
                .is_some_and(|kinds| kinds.iter().any(|kind| kind == "cdylib"))
        })
        .filter(|message| {
            // Only the crate at `dir`, not cdylib dependencies.
            message["manifest_path"].as_str().is_some_and(|path| {
                Path::new(path) == manifest
                    || Path::new(path).canonicalize().ok() == manifest.canonicalize().ok()
            })
        })
        .flat_map(|message| message["filenames"].as_array().cloned().unwrap_or_default())
        .filter_map(|name| name.as_str().map(PathBuf::from))
        .filter(|path| path.extension().is_some_and(|ext| ext == "wasm"))
        .collect();
    if wasm.is_empty() {
        return Err(RayError::Io {
            context: format!("building {}", dir.display()),
            message: "cargo built no .wasm: is the crate's lib `crate-type = [\"cdylib\"]`?".into(),
        });
    }
    Ok(wasm)
}

/// The process group of the build running now (0: none), for the signal handler.
static BUILD_GROUP: AtomicI32 = AtomicI32::new(0);

/// Passes SIGTERM or SIGINT on to the build's process group, then ends this
/// process by the same signal. Only async-signal-safe calls.
extern "C" fn forward_signal(signal: libc::c_int) {
    let group = BUILD_GROUP.load(Ordering::SeqCst);
    // SAFETY: kill, signal and raise are async-signal-safe.
    unsafe {
        if group > 0 {
            libc::kill(-group, signal);
        }
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
}

/// Runs `command` (in a process group of its own) to completion, forwarding
/// SIGTERM and SIGINT to its group meanwhile; its output.
fn run_forwarding_signals(command: &mut Command) -> Result<std::process::Output> {
    let handler = forward_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only makes async-signal-safe calls; the previous handlers
    // are put back once the build is over.
    let previous = unsafe {
        [
            (libc::SIGTERM, libc::signal(libc::SIGTERM, handler)),
            (libc::SIGINT, libc::signal(libc::SIGINT, handler)),
        ]
    };
    let output = command.spawn().and_then(|child| {
        BUILD_GROUP.store(i32::try_from(child.id()).unwrap_or(0), Ordering::SeqCst);
        child.wait_with_output()
    });
    BUILD_GROUP.store(0, Ordering::SeqCst);
    for (signal, handler) in previous {
        // SAFETY: restores what was installed before.
        unsafe {
            libc::signal(signal, handler);
        }
    }
    output.map_err(|err| RayError::io("running cargo", err))
}
