//! Deployed modules: components kept by SHA-256 in `DATA_DIR/modules` (`<sha>.wasm` and
//! `<sha>.json`), compiled once when deployed (the compiled code goes to the node's
//! compile cache, which jobs share), and found again by hash, hash prefix or name.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::api::{ModuleInfo, now_ms};
use crate::error::{NodeError, Result};

/// The node's modules.
pub struct ModuleStore {
    dir: PathBuf,
    modules: Mutex<Vec<ModuleInfo>>,
    /// Compiles and describes components, registering nothing.
    runtime: rustyray::Runtime,
}

impl ModuleStore {
    /// Opens (or creates) the store in `dir`, reading the modules kept there.
    pub fn open(dir: PathBuf, runtime: rustyray::Runtime) -> Result<Self> {
        std::fs::create_dir_all(&dir)
            .map_err(|err| NodeError::io(format!("creating {}", dir.display()), err))?;
        let mut modules = Vec::new();
        let entries = std::fs::read_dir(&dir)
            .map_err(|err| NodeError::io(format!("reading {}", dir.display()), err))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|ext| ext == "json")
                && let Ok(text) = std::fs::read_to_string(&path)
                && let Ok(info) = serde_json::from_str::<ModuleInfo>(&text)
                && dir.join(format!("{}.wasm", info.sha256)).is_file()
            {
                modules.push(info);
            }
        }
        modules.sort_by_key(|module| module.deployed_at);
        Ok(ModuleStore {
            dir,
            modules: Mutex::new(modules),
            runtime,
        })
    }

    /// Every module, oldest first.
    pub fn list(&self) -> Vec<ModuleInfo> {
        self.modules.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Where a module's component is.
    pub fn path(&self, module: &ModuleInfo) -> PathBuf {
        self.dir.join(format!("{}.wasm", module.sha256))
    }

    /// Deploys `bytes` under `name`: checks and compiles it (unless it is here already).
    pub async fn deploy(&self, bytes: &[u8], name: &str) -> Result<ModuleInfo> {
        let sha256 = hex(&Sha256::digest(bytes));
        if let Some(existing) = self.list().into_iter().find(|m| m.sha256 == sha256) {
            return Ok(existing);
        }
        let name = clean_name(name);
        let info = self.runtime.describe_bytes(bytes, &name).await?;
        let module = ModuleInfo {
            sha256: sha256.clone(),
            name,
            size: bytes.len() as u64,
            has_main: info.has_main,
            functions: info.functions.iter().map(|f| f.signature.clone()).collect(),
            actor_classes: info.actors.iter().map(|a| a.name.clone()).collect(),
            exports: info
                .functions
                .iter()
                .map(|f| f.name.clone())
                .chain(info.actors.iter().map(|a| a.name.clone()))
                .collect(),
            deployed_at: now_ms(),
        };
        write_atomic(&self.dir.join(format!("{sha256}.wasm")), bytes)?;
        let json = serde_json::to_vec_pretty(&module)
            .map_err(|err| NodeError::io("encoding the module record", err))?;
        write_atomic(&self.dir.join(format!("{sha256}.json")), &json)?;
        if let Ok(mut modules) = self.modules.lock() {
            modules.push(module.clone());
        }
        Ok(module)
    }

    /// The module `key` names: a full hash, a hash prefix of at least 8 digits, or a
    /// name (the latest deployed under it).
    pub fn find(&self, key: &str) -> Result<ModuleInfo> {
        let modules = self.list();
        if let Some(module) = modules.iter().find(|m| m.sha256 == key) {
            return Ok(module.clone());
        }
        if let Some(module) = modules.iter().rev().find(|m| m.name == key) {
            return Ok(module.clone());
        }
        if key.len() >= 8 && key.chars().all(|c| c.is_ascii_hexdigit()) {
            let matching: Vec<&ModuleInfo> = modules
                .iter()
                .filter(|m| m.sha256.starts_with(key))
                .collect();
            match matching.as_slice() {
                [one] => return Ok((*one).clone()),
                [] => {}
                _ => return Err(NodeError::ModuleAmbiguous(key.to_string())),
            }
        }
        Err(NodeError::ModuleNotFound(key.to_string()))
    }

    /// The modules a job running `program` loads beside it: the latest deployed under
    /// each other name (a job sees one version of each module). Their names may clash
    /// with the program's or with each other's: the driver's runtime shares names, so a
    /// name means the calling module's own first, and one that several other modules
    /// define is refused when used ([`rustyray::RayError::AmbiguousName`], naming them;
    /// `MODULE/NAME` picks one).
    pub fn companions(&self, program: &ModuleInfo) -> Vec<ModuleInfo> {
        let mut names = vec![program.name.clone()];
        let mut chosen = Vec::new();
        for module in self.list().into_iter().rev() {
            if module.sha256 == program.sha256 || names.contains(&module.name) {
                continue;
            }
            names.push(module.name.clone());
            chosen.push(module);
        }
        chosen
    }
}

/// A module name from a file or crate name: its stem, in plain characters.
fn clean_name(name: &str) -> String {
    let stem = Path::new(name)
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    let cleaned: String = stem
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .take(64)
        .collect();
    if cleaned.is_empty() {
        "module".into()
    } else {
        cleaned
    }
}

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes a file whole or not at all (a crash leaves the old one or none).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|err| NodeError::io(format!("writing {}", path.display()), err))
}

#[cfg(test)]
mod tests {
    use super::clean_name;

    #[test]
    fn names_are_plain() {
        assert_eq!(clean_name("target/x/tasks.wasm"), "tasks");
        assert_eq!(clean_name("../../evil\u{1b}[2J.wasm"), "evil2J");
        assert_eq!(clean_name(""), "module");
    }
}
