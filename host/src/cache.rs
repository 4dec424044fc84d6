//! The on-disk cache of compiled components.
//!
//! Compiling a component with Cranelift takes tens of milliseconds; loading the
//! compiled artifact back (mmap) takes tens of microseconds. Artifacts are keyed by
//! the SHA-256 of the component's bytes and by the engine's compatibility hash
//! (wasmtime version, target, settings), so a changed engine never loads a stale
//! artifact. Writes go to a temporary file first and are renamed into place, so a
//! crash or a concurrent process never leaves a torn artifact; an artifact that
//! fails to load is recompiled and replaced.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::error::{RayError, Result};

/// The default cache directory: `$RUSTYRAY_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/rustyray`, else `~/.cache/rustyray`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("RUSTYRAY_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("rustyray"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache").join("rustyray"))
}

/// SHA-256 of a component's bytes, in hex.
pub(crate) fn content_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Compiled components on disk.
#[derive(Debug, Clone)]
pub(crate) struct CompileCache {
    dir: Option<PathBuf>,
}

/// Whether a load came from the cache (for tests and `inspect`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Loaded a compiled artifact.
    Hit,
    /// Compiled, and stored the artifact.
    Miss,
    /// Compiled; no cache is configured.
    Disabled,
}

impl CompileCache {
    pub(crate) fn new(dir: Option<PathBuf>) -> Self {
        CompileCache { dir }
    }

    fn artifact_path(&self, engine: &Engine, hash: &str) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Some(dir.join(format!("{hash}-{:016x}.cwasm", hasher.finish())))
    }

    /// The compiled component for `bytes`, from the cache or freshly compiled.
    pub(crate) fn load(
        &self,
        engine: &Engine,
        bytes: &[u8],
        hash: &str,
        source_name: &str,
    ) -> Result<(Component, CacheOutcome)> {
        let Some(path) = self.artifact_path(engine, hash) else {
            return Ok((compile(engine, bytes, source_name)?, CacheOutcome::Disabled));
        };
        if path.exists() {
            // SAFETY: the file was written by `Component::serialize` of this engine
            // configuration (the key includes its compatibility hash) into a private
            // cache directory, and is replaced atomically, never modified in place.
            if let Ok(component) = unsafe { Component::deserialize_file(engine, &path) } {
                return Ok((component, CacheOutcome::Hit));
            }
        }
        let component = compile(engine, bytes, source_name)?;
        // A cache that cannot be written is not fatal: the component still runs.
        let _ = store(&component, &path);
        Ok((component, CacheOutcome::Miss))
    }
}

fn compile(engine: &Engine, bytes: &[u8], source_name: &str) -> Result<Component> {
    Component::new(engine, bytes)
        .map_err(|err| RayError::invalid_module(source_name, format!("does not compile: {err:#}")))
}

fn store(component: &Component, path: &Path) -> Result<()> {
    let artifact = component
        .serialize()
        .map_err(|err| RayError::Internal(format!("serializing a component: {err}")))?;
    let dir = path
        .parent()
        .ok_or_else(|| RayError::Internal("cache path has no parent".into()))?;
    std::fs::create_dir_all(dir)
        .map_err(|err| RayError::io("creating the cache directory", err))?;
    // Unique per process and per store, so concurrent compiles never share a temp file.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let unique = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp{}-{unique}", std::process::id()));
    std::fs::write(&tmp, artifact).map_err(|err| RayError::io("writing a cache artifact", err))?;
    std::fs::rename(&tmp, path).map_err(|err| RayError::io("renaming a cache artifact", err))?;
    Ok(())
}
