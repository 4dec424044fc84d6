//! Where objects go when the object store is full: files on local disk.
//!
//! Each runtime spills into a directory of its own, `<root>/<pid>-<random>`, made
//! `0700` on its first spill (a runtime that never spills never touches the disk). The
//! root is `--spill-dir` / [`RuntimeBuilder::spill_dir`](crate::RuntimeBuilder::spill_dir),
//! else `spill/` in the compile cache's directory (private), else the system's temporary
//! directory. Files are `0600`, created exclusively (never through a link someone
//! planted), removed when their object is freed, and the whole directory when the
//! store goes away. Directories left behind by a process that died (its pid is gone)
//! are removed the next time a runtime spills under the same root.
//!
//! Which objects spill, and when, is the store's business (`object_store.rs`); this
//! module only writes, reads and removes files, and names the directory in every
//! error ([`RayError::Spill`]).

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{RayError, Result};
use crate::sandbox::Capabilities;

/// The spill directory of one runtime.
#[derive(Debug)]
pub(crate) struct SpillDir {
    root: PathBuf,
    /// This runtime's own directory under `root`, once made.
    dir: Mutex<Option<PathBuf>>,
    next_file: AtomicU64,
}

/// One spilled object's file (removed by [`SpillDir::remove`]).
#[derive(Debug, Clone)]
pub(crate) struct SpillFile {
    pub(crate) path: PathBuf,
}

/// Refuses capabilities with a directory grant that covers the spill directory (or
/// lies inside it): a guest could read or change other guests' spilled objects.
pub(crate) fn check_grants(root: &Path, capabilities: &Capabilities) -> Result<()> {
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    for grant in capabilities.dirs() {
        let host = grant
            .host
            .canonicalize()
            .unwrap_or_else(|_| grant.host.clone());
        if root.starts_with(&host) || host.starts_with(&root) {
            return Err(RayError::InvalidOptions(format!(
                "the directory grant {} covers the spill directory {}: a guest could read \
                 other guests' spilled objects; grant a directory outside it (or move it \
                 with --spill-dir)",
                grant.host.display(),
                root.display()
            )));
        }
    }
    Ok(())
}

/// Refuses a root another user could swap our directory out of: it must be ours, or
/// a sticky directory (like `/tmp`), where only we may rename what we made.
fn check_root(root: &Path) -> std::result::Result<(), String> {
    let meta = std::fs::metadata(root).map_err(|err| format!("cannot stat it: {err}"))?;
    if !meta.is_dir() {
        return Err("it is not a directory".into());
    }
    let sticky = meta.mode() & 0o1000 != 0;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me && !(sticky && meta.uid() == 0) {
        return Err(format!(
            "it is owned by uid {}, not by this user (uid {me})",
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 && !sticky {
        return Err(format!(
            "it is group- or world-writable without the sticky bit (mode {:03o})",
            meta.mode() & 0o777
        ));
    }
    Ok(())
}

/// The default root: `spill/` under the compile cache, else the temporary directory.
pub(crate) fn default_root(cache_dir: Option<&Path>) -> PathBuf {
    match cache_dir {
        Some(cache) => cache.join("spill"),
        // SAFETY: geteuid has no preconditions and cannot fail.
        None => std::env::temp_dir().join(format!("rustyray-spill-{}", unsafe { libc::geteuid() })),
    }
}

impl SpillDir {
    pub(crate) fn new(root: PathBuf) -> Self {
        SpillDir {
            root,
            dir: Mutex::new(None),
            next_file: AtomicU64::new(0),
        }
    }

    /// The root directory (as configured).
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    fn error(&self, what: &str, err: impl std::fmt::Display) -> RayError {
        RayError::Spill {
            dir: self.root.clone(),
            message: format!("{what}: {err}"),
        }
    }

    /// This runtime's directory, made (0700) on first use.
    fn dir(&self) -> Result<PathBuf> {
        let mut dir = self
            .dir
            .lock()
            .map_err(|_| RayError::Internal("spill directory lock poisoned".into()))?;
        if let Some(dir) = &*dir {
            return Ok(dir.clone());
        }
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.root)
            .map_err(|err| self.error("cannot create the spill directory", err))?;
        check_root(&self.root).map_err(|why| self.error("refused", why))?;
        remove_stale(&self.root);
        let mine = self.root.join(format!(
            "{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        // Not recursive: it must be new, and ours.
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&mine)
            .map_err(|err| self.error("cannot create this runtime's spill directory", err))?;
        *dir = Some(mine.clone());
        Ok(mine)
    }

    /// Writes `bytes` to a new file (0600).
    pub(crate) fn write(&self, bytes: &[u8]) -> Result<SpillFile> {
        let dir = self.dir()?;
        let path = dir.join(format!(
            "{}.obj",
            self.next_file.fetch_add(1, Ordering::Relaxed)
        ));
        let written = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .and_then(|mut file| file.write_all(bytes));
        if let Err(err) = written {
            let _ = std::fs::remove_file(&path);
            return Err(self.error(&format!("writing {}", path.display()), err));
        }
        Ok(SpillFile { path })
    }

    /// Reads `len` bytes at `offset` of a spilled file.
    pub(crate) fn read(&self, file: &SpillFile, offset: u64, len: usize) -> Result<Vec<u8>> {
        let mut data = vec![0; len];
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&file.path)
            .and_then(|opened| opened.read_exact_at(&mut data, offset))
            .map_err(|err| self.error(&format!("reading {}", file.path.display()), err))?;
        Ok(data)
    }

    /// Removes a spilled file (its object was freed).
    pub(crate) fn remove(&self, file: &SpillFile) {
        let _ = std::fs::remove_file(&file.path);
    }
}

impl Drop for SpillDir {
    fn drop(&mut self) {
        if let Ok(dir) = self.dir.get_mut()
            && let Some(dir) = dir.take()
        {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Removes the directories under `root` of runtimes whose process is gone
/// (`<pid>-<random>` with no `/proc/<pid>`), so a crash leaves no files for long.
fn remove_stale(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some((pid, rest)) = name.to_str().and_then(|name| name.split_once('-')) else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        if rest.len() != 16 || pid == std::process::id() {
            continue;
        }
        if !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn files_are_private_read_back_by_range_and_gone_with_the_dir() {
        let root =
            std::env::temp_dir().join(format!("rustyray-spill-test-{}", rand::random::<u64>()));
        let spill = SpillDir::new(root.clone());
        let file = spill.write(b"hello spilled world").unwrap();
        let mode = std::fs::metadata(&file.path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir = file.path.parent().unwrap().to_path_buf();
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert_eq!(spill.read(&file, 6, 7).unwrap(), b"spilled");
        spill.remove(&file);
        assert!(!file.path.exists());
        let other = spill.write(b"x").unwrap();
        drop(spill);
        assert!(!other.path.exists());
        assert!(!dir.exists());
        let _ = std::fs::remove_dir_all(root);
    }
}
