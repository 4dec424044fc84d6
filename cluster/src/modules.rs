//! The module index and module bytes: a deploy on any node puts the component in the
//! object store `rustyray_module_bytes` under its SHA-256 and its record (the node's
//! `ModuleInfo`, JSON) in the KV bucket `rustyray_modules` under the same key. A node that
//! needs a module it does not hold fetches it by hash and checks the hash.

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use crate::connection::{Cluster, keys};
use crate::error::{ClusterError, Result};
use crate::{MAX_MODULE_BYTES, MODULE_BYTES_STORE, MODULES_BUCKET};

/// Lowercase hex SHA-256 of `bytes`: a module's identity, as the node computes it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn valid_sha(sha: &str) -> Result<()> {
    if sha.len() == 64 && sha.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(ClusterError::BadKey(sha.to_string()))
    }
}

impl Cluster {
    /// Publishes a module: its bytes (unless the store has them) and its record.
    pub async fn put_module(&self, bytes: &[u8], record: &impl Serialize) -> Result<String> {
        if bytes.len() > MAX_MODULE_BYTES {
            return Err(ClusterError::ModuleTooLarge {
                size: bytes.len(),
                limit: MAX_MODULE_BYTES,
            });
        }
        let sha = sha256_hex(bytes);
        let stored = self
            .module_bytes
            .info(&sha)
            .await
            .is_ok_and(|info| info.size == bytes.len());
        if !stored {
            let mut reader = bytes;
            self.module_bytes
                .put(sha.as_str(), &mut reader)
                .await
                .map_err(|err| {
                    ClusterError::nats(format!("storing {sha} in {MODULE_BYTES_STORE}"), err)
                })?;
        }
        let json = serde_json::to_vec(record)
            .map_err(|err| ClusterError::nats("encoding the module record", err))?;
        self.modules
            .put(&sha, Bytes::from(json))
            .await
            .map_err(|err| ClusterError::nats(format!("writing {MODULES_BUCKET}"), err))?;
        Ok(sha)
    }

    /// The bytes of module `sha`, checked against the hash.
    pub async fn module_bytes(&self, sha: &str) -> Result<Vec<u8>> {
        valid_sha(sha)?;
        let mut object = self
            .module_bytes
            .get(sha)
            .await
            .map_err(|err| match err.kind() {
                async_nats::jetstream::object_store::GetErrorKind::NotFound => {
                    ClusterError::ModuleMissing(sha.to_string())
                }
                _ => ClusterError::nats(format!("fetching {sha} from {MODULE_BYTES_STORE}"), err),
            })?;
        let size = object.info().size;
        if size > MAX_MODULE_BYTES {
            return Err(ClusterError::ModuleTooLarge {
                size,
                limit: MAX_MODULE_BYTES,
            });
        }
        let mut bytes = Vec::with_capacity(size);
        (&mut object)
            .take(MAX_MODULE_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .await
            .map_err(|err| {
                ClusterError::nats(format!("reading {sha} from {MODULE_BYTES_STORE}"), err)
            })?;
        let actual = sha256_hex(&bytes);
        if actual != sha {
            return Err(ClusterError::HashMismatch {
                expected: sha.to_string(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// Every module record in the index (undecodable ones are skipped).
    pub async fn modules<T: DeserializeOwned>(&self) -> Result<Vec<T>> {
        let ids = self
            .outlasting(|| keys(&self.modules, MODULES_BUCKET))
            .await?;
        let mut records = Vec::new();
        for id in ids {
            if let Some(bytes) = self
                .modules
                .get(&id)
                .await
                .map_err(|err| ClusterError::nats(format!("reading {MODULES_BUCKET}"), err))?
                && let Ok(record) = serde_json::from_slice(&bytes)
            {
                records.push(record);
            }
        }
        Ok(records)
    }
}
