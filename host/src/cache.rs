//! The on-disk cache of compiled components, and why it cannot be used to run code.
//!
//! Compiling a component with Cranelift takes tens of milliseconds; loading the
//! compiled artifact back takes tens of microseconds. But an artifact is native code
//! that wasmtime maps and runs *without* checking it, so the cache is guarded:
//!
//! - the directory is created private (0700) and refused — the runtime then compiles
//!   in memory and says why ([`Runtime::cache_refused`](crate::Runtime::cache_refused))
//!   — when it is not owned by this user, or is group- or world-writable;
//! - every artifact carries an HMAC-SHA256 of its name and bytes under a per-user
//!   key (`key`, 0600, beside the `artifacts/` directory), checked on every load
//!   before wasmtime sees a byte; one that fails is recompiled and replaced;
//! - a directory grant that covers the cache is refused ([`RayError::GrantCoversCache`]);
//! - only components that passed the contract checks are stored (the caller stores);
//! - the artifacts are bounded in total size ([`DEFAULT_CACHE_MAX_BYTES`], settable);
//!   the least recently used are evicted.
//!
//! Artifacts are keyed by the SHA-256 of the component's bytes and by the engine's
//! compatibility hash (wasmtime version, target, settings), so a changed engine never
//! loads a stale artifact. Writes go to a temporary file first and are renamed into
//! place, so a crash or a concurrent process never leaves a torn artifact.

use std::fs::{File, OpenOptions};
use std::hash::{Hash, Hasher};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::error::{RayError, Result};
use crate::sandbox::Capabilities;

/// The default bound on the artifacts' total size: 1 GiB.
pub const DEFAULT_CACHE_MAX_BYTES: u64 = 1 << 30;

/// Length of the per-user MAC key, and of a MAC.
const KEY_LEN: usize = 32;

type HmacSha256 = Hmac<Sha256>;

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

/// The default bound on the artifacts' total size: `$RUSTYRAY_CACHE_MAX_MIB` MiB,
/// else [`DEFAULT_CACHE_MAX_BYTES`].
pub fn default_cache_max_bytes() -> u64 {
    std::env::var("RUSTYRAY_CACHE_MAX_MIB")
        .ok()
        .and_then(|mib| mib.trim().parse::<u64>().ok())
        .map_or(DEFAULT_CACHE_MAX_BYTES, |mib| mib.saturating_mul(1 << 20))
}

/// SHA-256 of a component's bytes, in hex.
pub fn content_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Whether a load came from the cache (for tests and `inspect`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Loaded a verified compiled artifact.
    Hit,
    /// Compiled; the artifact is stored once the component passes its checks.
    Miss,
    /// The stored artifact failed verification (tampered or damaged): compiled
    /// afresh, and the artifact is replaced.
    Replaced,
    /// Compiled; no cache is configured.
    Disabled,
    /// Compiled in memory: the cache directory was refused as unsafe (see
    /// [`Runtime::cache_refused`](crate::Runtime::cache_refused)).
    Refused,
}

/// Compiled components on disk.
#[derive(Debug)]
pub(crate) struct CompileCache {
    state: State,
}

#[derive(Debug)]
enum State {
    Disabled,
    Refused(String),
    Ready(Ready),
}

struct Ready {
    /// The cache directory, canonical (for the grant check).
    dir: PathBuf,
    artifacts: PathBuf,
    key: [u8; KEY_LEN],
    max_bytes: u64,
}

impl std::fmt::Debug for Ready {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ready")
            .field("dir", &self.dir)
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

impl CompileCache {
    /// Opens (creating it private) the cache in `dir`; a directory that is not safe
    /// to load native code from is refused, and the cache is then off.
    pub(crate) fn open(dir: Option<PathBuf>, max_bytes: u64) -> Self {
        let state = match dir {
            None => State::Disabled,
            Some(dir) => match Ready::open(&dir, max_bytes) {
                Ok(ready) => State::Ready(ready),
                Err(why) => State::Refused(format!(
                    "compile cache {} refused: {why}; compiling in memory",
                    dir.display()
                )),
            },
        };
        CompileCache { state }
    }

    /// The cache directory (canonical), if it is in use.
    pub(crate) fn dir(&self) -> Option<&Path> {
        match &self.state {
            State::Ready(ready) => Some(&ready.dir),
            _ => None,
        }
    }

    /// Why the configured cache directory is not used, if it was refused.
    pub(crate) fn refused(&self) -> Option<&str> {
        match &self.state {
            State::Refused(why) => Some(why),
            _ => None,
        }
    }

    /// Refuses capabilities with a directory grant that covers the cache (or lies
    /// inside it): a guest that can write there could plant native code, and one
    /// that can read there could learn the key.
    pub(crate) fn check_grants(&self, capabilities: &Capabilities) -> Result<()> {
        let State::Ready(ready) = &self.state else {
            return Ok(());
        };
        for grant in capabilities.dirs() {
            let host = grant
                .host
                .canonicalize()
                .unwrap_or_else(|_| grant.host.clone());
            if ready.dir.starts_with(&host) || host.starts_with(&ready.dir) {
                return Err(RayError::GrantCoversCache {
                    grant: grant.host.clone(),
                    cache: ready.dir.clone(),
                });
            }
        }
        Ok(())
    }

    /// The compiled component for `bytes`: a verified artifact from the cache, or
    /// freshly compiled (then [`CompileCache::store`] it once it passed its checks).
    pub(crate) fn load(
        &self,
        engine: &Engine,
        bytes: &[u8],
        hash: &str,
        source_name: &str,
    ) -> Result<(Component, CacheOutcome)> {
        let ready = match &self.state {
            State::Disabled => {
                return Ok((compile(engine, bytes, source_name)?, CacheOutcome::Disabled));
            }
            State::Refused(_) => {
                return Ok((compile(engine, bytes, source_name)?, CacheOutcome::Refused));
            }
            State::Ready(ready) => ready,
        };
        let name = artifact_name(engine, hash);
        let outcome = match ready.read_verified(&name) {
            Lookup::Verified(contents) => {
                // SAFETY: `payload` carries a valid MAC under this user's private key
                // over its name (content hash + engine compatibility hash) and bytes,
                // so it is exactly what `Component::serialize` of this engine
                // configuration wrote for this component; it is deserialized from
                // the verified copy in memory, not re-read from disk.
                match unsafe { Component::deserialize(engine, &contents[KEY_LEN..]) } {
                    Ok(component) => return Ok((component, CacheOutcome::Hit)),
                    Err(_) => CacheOutcome::Replaced,
                }
            }
            Lookup::Absent => CacheOutcome::Miss,
            Lookup::Rejected => CacheOutcome::Replaced,
        };
        Ok((compile(engine, bytes, source_name)?, outcome))
    }

    /// Stores `component` (which passed the contract checks) under `hash`. A cache
    /// that cannot be written is not fatal: the component still runs.
    pub(crate) fn store(&self, engine: &Engine, hash: &str, component: &Component) {
        if let State::Ready(ready) = &self.state {
            let _ = ready.store(&artifact_name(engine, hash), component);
        }
    }
}

fn compile(engine: &Engine, bytes: &[u8], source_name: &str) -> Result<Component> {
    Component::new(engine, bytes)
        .map_err(|err| RayError::invalid_module(source_name, format!("does not compile: {err:#}")))
}

fn artifact_name(engine: &Engine, hash: &str) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!("{hash}-{:016x}.cwasm", hasher.finish())
}

enum Lookup {
    /// The whole file: its MAC, then the artifact (`[KEY_LEN..]`), kept in one
    /// buffer rather than split into a second copy.
    Verified(Vec<u8>),
    Absent,
    /// Present but not ours: bad MAC, truncated, oversized, not a regular file.
    Rejected,
}

/// The effective user id of this process.
fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Refuses a directory that another user could have written to.
fn check_private(dir: &Path) -> std::result::Result<(), String> {
    let meta = std::fs::metadata(dir).map_err(|err| format!("cannot stat it: {err}"))?;
    if !meta.is_dir() {
        return Err("it is not a directory".into());
    }
    let me = euid();
    if meta.uid() != me {
        return Err(format!(
            "it is owned by uid {}, not by this user (uid {me})",
            meta.uid()
        ));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o022 != 0 {
        return Err(format!(
            "it is group- or world-writable (mode {mode:03o}); make it private (chmod 700) \
             or set RUSTYRAY_CACHE_DIR to a private directory"
        ));
    }
    Ok(())
}

fn create_private_dir(dir: &Path) -> std::result::Result<(), String> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|err| format!("cannot create it: {err}"))
}

impl Ready {
    fn open(dir: &Path, max_bytes: u64) -> std::result::Result<Ready, String> {
        create_private_dir(dir)?;
        check_private(dir)?;
        let dir = dir
            .canonicalize()
            .map_err(|err| format!("cannot resolve it: {err}"))?;
        let artifacts = dir.join("artifacts");
        create_private_dir(&artifacts)?;
        check_private(&artifacts).map_err(|why| format!("its artifacts/ directory: {why}"))?;
        let key = read_or_create_key(&dir.join("key"))?;
        Ok(Ready {
            dir,
            artifacts,
            key,
            max_bytes,
        })
    }

    fn mac(&self, name: &str) -> HmacSha256 {
        let mut mac =
            HmacSha256::new_from_slice(&self.key).expect("HMAC takes a key of any length");
        mac.update(name.as_bytes());
        mac.update(&[0]);
        mac
    }

    fn read_verified(&self, name: &str) -> Lookup {
        let path = self.artifacts.join(name);
        let mut file = match OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&path)
        {
            Ok(file) => file,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Lookup::Absent,
            Err(_) => return Lookup::Rejected,
        };
        let Ok(meta) = file.metadata() else {
            return Lookup::Rejected;
        };
        if !meta.is_file() || meta.len() < KEY_LEN as u64 || meta.len() > self.max_bytes {
            return Lookup::Rejected;
        }
        let mut contents = Vec::with_capacity(meta.len() as usize);
        if file.read_to_end(&mut contents).is_err() || contents.len() < KEY_LEN {
            return Lookup::Rejected;
        }
        let (tag, payload) = contents.split_at(KEY_LEN);
        let mut mac = self.mac(name);
        mac.update(payload);
        if mac.verify_slice(tag).is_err() {
            return Lookup::Rejected;
        }
        // Recently used: the eviction order.
        let _ = file.set_modified(SystemTime::now());
        Lookup::Verified(contents)
    }

    fn store(&self, name: &str, component: &Component) -> Result<()> {
        let payload = component
            .serialize()
            .map_err(|err| RayError::Internal(format!("serializing a component: {err}")))?;
        let mut mac = self.mac(name);
        mac.update(&payload);
        let tag = mac.finalize().into_bytes();
        // Unique per process and per store, so concurrent compiles never share a temp file.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let unique = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = self
            .artifacts
            .join(format!(".{name}.tmp{}-{unique}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            file.write_all(&tag)?;
            file.write_all(&payload)?;
            std::fs::rename(&tmp, self.artifacts.join(name))
        };
        if let Err(err) = write() {
            let _ = std::fs::remove_file(&tmp);
            return Err(RayError::io("writing a cache artifact", err));
        }
        self.evict();
        Ok(())
    }

    /// Removes the least recently used artifacts until the rest fit in `max_bytes`.
    fn evict(&self) {
        let Ok(entries) = std::fs::read_dir(&self.artifacts) else {
            return;
        };
        let mut artifacts: Vec<(SystemTime, u64, PathBuf)> = entries
            .flatten()
            .filter(|entry| {
                entry
                    .file_name()
                    .to_str()
                    .is_some_and(|name| name.ends_with(".cwasm") && !name.starts_with('.'))
            })
            .filter_map(|entry| {
                let meta = entry.metadata().ok()?;
                Some((meta.modified().ok()?, meta.len(), entry.path()))
            })
            .collect();
        let mut total: u64 = artifacts.iter().map(|(_, len, _)| len).sum();
        if total <= self.max_bytes {
            return;
        }
        artifacts.sort();
        for (_, len, path) in artifacts {
            if total <= self.max_bytes {
                break;
            }
            if std::fs::remove_file(&path).is_ok() {
                total -= len;
            }
        }
    }
}

/// The per-user MAC key: created once (32 random bytes, 0600), and refused if
/// another user owns it or could read it.
fn read_or_create_key(path: &Path) -> std::result::Result<[u8; KEY_LEN], String> {
    let open = || {
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
    };
    let mut file = match open() {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => create_key(path)?,
        Err(err) => return Err(format!("cannot open its key {}: {err}", path.display())),
    };
    let meta = file
        .metadata()
        .map_err(|err| format!("cannot stat its key: {err}"))?;
    let mode = meta.permissions().mode() & 0o777;
    if !meta.is_file() || meta.uid() != euid() || mode & 0o077 != 0 {
        return Err(format!(
            "its key {} must be a file of this user's with mode 600 (it has mode {mode:03o}, \
             owner uid {})",
            path.display(),
            meta.uid()
        ));
    }
    let mut key = [0u8; KEY_LEN];
    file.read_exact(&mut key)
        .map_err(|err| format!("cannot read its key {}: {err}", path.display()))?;
    Ok(key)
}

/// Writes a fresh key beside `path` and links it into place, so two processes
/// creating it at once both end up reading the one that won.
fn create_key(path: &Path) -> std::result::Result<File, String> {
    let mut key = [0u8; KEY_LEN];
    getrandom::fill(&mut key).map_err(|err| format!("no randomness for its key: {err}"))?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let written = (|| -> std::io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(&key)?;
        file.sync_all()?;
        match std::fs::hard_link(&tmp, path) {
            Err(err) if err.kind() != std::io::ErrorKind::AlreadyExists => Err(err),
            _ => Ok(()),
        }
    })();
    let _ = std::fs::remove_file(&tmp);
    written.map_err(|err| format!("cannot create its key {}: {err}", path.display()))?;
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|err| format!("cannot open its key {}: {err}", path.display()))
}
