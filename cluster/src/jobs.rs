//! Job records: `rustyray_jobs` holds, by submission id, a [`JobEntry`]: which node runs
//! the job and the job's record (the node's Ray `JobDetails`, kept opaque here). The node
//! running a job writes its record as it changes; a node that finds the job's node dead
//! rewrites it (FAILED) with compare-and-set, so two finders do not both write.

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::connection::{Cluster, keys};
use crate::error::{ClusterError, Result};
use crate::{JOBS_BUCKET, valid_key};

/// A job as the cluster keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobEntry<T> {
    /// The node running (or that ran) the job.
    pub node_id: String,
    /// The job's record.
    pub job: T,
}

fn check(id: &str) -> Result<()> {
    if valid_key(id) {
        Ok(())
    } else {
        Err(ClusterError::BadKey(id.to_string()))
    }
}

fn encode<T: Serialize>(entry: &JobEntry<T>) -> Result<Bytes> {
    serde_json::to_vec(entry)
        .map(Bytes::from)
        .map_err(|err| ClusterError::nats("encoding a job record", err))
}

impl Cluster {
    /// Records a new job; [`ClusterError::Exists`] if the id is taken cluster-wide.
    pub async fn create_job<T: Serialize>(&self, id: &str, entry: &JobEntry<T>) -> Result<u64> {
        check(id)?;
        let bytes = encode(entry)?;
        self.jobs.create(id, bytes).await.map_err(|err| {
            if err.kind() == async_nats::jetstream::kv::CreateErrorKind::AlreadyExists {
                ClusterError::Exists {
                    bucket: JOBS_BUCKET,
                    key: id.to_string(),
                }
            } else {
                ClusterError::nats(format!("creating {id} in {JOBS_BUCKET}"), err)
            }
        })
    }

    /// Writes a job's record (by the node running it).
    pub async fn put_job<T: Serialize>(&self, id: &str, entry: &JobEntry<T>) -> Result<u64> {
        check(id)?;
        let bytes = encode(entry)?;
        self.outlasting(|| async {
            self.jobs
                .put(id, bytes.clone())
                .await
                .map_err(|err| ClusterError::nats(format!("writing {id} in {JOBS_BUCKET}"), err))
        })
        .await
    }

    /// Rewrites a job's record if it is still at `revision`.
    pub async fn update_job<T: Serialize>(
        &self,
        id: &str,
        entry: &JobEntry<T>,
        revision: u64,
    ) -> Result<u64> {
        check(id)?;
        self.jobs
            .update(id, encode(entry)?, revision)
            .await
            .map_err(|_| ClusterError::Conflict {
                bucket: JOBS_BUCKET,
                key: id.to_string(),
            })
    }

    /// A job's record and its revision.
    pub async fn job<T: DeserializeOwned>(&self, id: &str) -> Result<Option<(JobEntry<T>, u64)>> {
        if !valid_key(id) {
            return Ok(None);
        }
        let entry = self
            .outlasting(|| async {
                self.jobs.entry(id).await.map_err(|err| {
                    ClusterError::nats(format!("reading {id} in {JOBS_BUCKET}"), err)
                })
            })
            .await?;
        let Some(entry) = entry else {
            return Ok(None);
        };
        if entry.operation != async_nats::jetstream::kv::Operation::Put {
            return Ok(None);
        }
        let job = serde_json::from_slice(&entry.value).map_err(|err| ClusterError::Corrupt {
            bucket: JOBS_BUCKET,
            key: id.to_string(),
            cause: err.to_string(),
        })?;
        Ok(Some((job, entry.revision)))
    }

    /// Every job record with its id and revision (undecodable ones are skipped).
    pub async fn jobs<T: DeserializeOwned>(&self) -> Result<Vec<(String, JobEntry<T>, u64)>> {
        let ids = self.outlasting(|| keys(&self.jobs, JOBS_BUCKET)).await?;
        let mut jobs = Vec::new();
        for id in ids {
            if let Ok(Some((entry, revision))) = self.job(&id).await {
                jobs.push((id, entry, revision));
            }
        }
        Ok(jobs)
    }

    /// Forgets a job.
    pub async fn delete_job(&self, id: &str) -> Result<()> {
        check(id)?;
        self.jobs
            .purge(id)
            .await
            .map_err(|err| ClusterError::nats(format!("deleting {id} in {JOBS_BUCKET}"), err))
    }
}
