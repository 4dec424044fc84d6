//! Builds every guest the tests need, once, with one nested cargo per guest
//! workspace (`examples/` and `tests/guests/`), into a target directory under
//! `OUT_DIR`, and writes a constant per component into `guests.rs`.
//!
//! The wasm target is installed through rustup when missing (with a message); if
//! that fails the build stops with the exact command to run. `CARGO_ENCODED_RUSTFLAGS`
//! and friends are removed so host flags (coverage, sanitizers) never reach a guest.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

fn main() {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = manifest_dir
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf();
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let target_dir = out_dir.join("guests");

    for watched in [
        "wit",
        "guest-sdk",
        "examples",
        "tests/guests",
        "tests/concurrent_guests",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    ensure_target();

    let mut constants = String::new();
    for workspace in ["examples", "tests/guests", "tests/concurrent_guests"] {
        let dir = root.join(workspace);
        for (name, path) in build_workspace(&dir, &target_dir) {
            let constant = name.to_uppercase().replace('-', "_");
            writeln!(
                constants,
                "/// `{name}.wasm`, built from `{workspace}/`.\npub const {constant}: &str = {:?};",
                path.display().to_string()
            )
            .expect("writing to a String");
        }
    }
    std::fs::write(out_dir.join("guests.rs"), constants).expect("writing guests.rs");
}

fn ensure_target() {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|out| {
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .any(|l| l.trim() == TARGET)
        });
    match installed {
        Ok(true) => {}
        Ok(false) => {
            println!(
                "cargo:warning=the {TARGET} target is missing; running `rustup target add {TARGET}`"
            );
            let ok = Command::new("rustup")
                .args(["target", "add", TARGET])
                .status()
                .is_ok_and(|status| status.success());
            if !ok {
                panic!(
                    "the {TARGET} target is missing and could not be installed: run `rustup target add {TARGET}`"
                );
            }
        }
        // No rustup: trust the toolchain and let cargo say what is missing.
        Err(_) => {}
    }
}

/// Builds a guest workspace; `(crate name, .wasm path)` of each cdylib member.
fn build_workspace(dir: &Path, target_dir: &Path) -> Vec<(String, PathBuf)> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--target",
            TARGET,
            "--workspace",
            "--manifest-path",
        ])
        .arg(dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_MAKEFLAGS")
        .status()
        .expect("running cargo for the guests");
    if !status.success() {
        panic!(
            "building the guests in {} failed; if the error is about a missing target, run `rustup target add {TARGET}`",
            dir.display()
        );
    }
    let release = target_dir.join(TARGET).join("release");
    let mut built = Vec::new();
    for member in members(dir) {
        let file = member.replace('-', "_");
        let path = release.join(format!("{file}.wasm"));
        assert!(
            path.exists(),
            "guest {member} produced no {}",
            path.display()
        );
        built.push((member, path));
    }
    built
}

/// The package names of a guest workspace's members (directories with a Cargo.toml).
fn members(dir: &Path) -> Vec<String> {
    let mut names = Vec::new();
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|err| panic!("reading {}: {err}", dir.display()));
    for entry in entries.flatten() {
        let manifest = entry.path().join("Cargo.toml");
        if let Ok(text) = std::fs::read_to_string(&manifest) {
            let name = text
                .lines()
                .find_map(|line| {
                    line.trim()
                        .strip_prefix("name = ")
                        .map(|v| v.trim_matches('"').to_string())
                })
                .unwrap_or_else(|| panic!("{} has no package name", manifest.display()));
            names.push(name);
        }
    }
    names.sort();
    names
}
