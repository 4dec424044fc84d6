//! Jobs: Ray's submitted jobs, each a driver (`#[rustyray::main]` of a deployed module)
//! run by `rustyray run` in a process of its own, so a job that traps, loops or exhausts
//! its memory never harms the node or the other jobs, and stopping a job ends its tasks
//! and actors with it. Its stdout and stderr (its tasks' output included, labelled) go
//! to `DATA_DIR/jobs/<id>.log`; its record, Ray's `JobDetails`, to `<id>.json`, so both
//! survive a node restart (a job the node was running when it died is marked FAILED).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt};
use tokio::sync::{Notify, Semaphore, mpsc, watch};

use crate::api::{DriverInfo, JobDetails, JobStatus, JobSubmitRequest, JobSubmitResponse, now_ms};
use crate::entrypoint::{self, JobPolicy};
use crate::error::{NodeError, Result};
use crate::metrics::Metrics;
use crate::modules::{ModuleStore, write_atomic};

/// How long a stopped driver has to exit after SIGTERM before it is killed.
pub const STOP_GRACE: Duration = Duration::from_secs(3);

/// Settings of the job manager.
#[derive(Debug, Clone)]
pub struct JobConfig {
    /// Where records and logs go.
    pub dir: PathBuf,
    /// The `rustyray` executable that runs drivers.
    pub exe: PathBuf,
    /// The compile cache drivers share with the node.
    pub cache_dir: PathBuf,
    /// Jobs running at once; the rest are PENDING.
    pub max_jobs: usize,
    /// Bytes of log kept per job; the rest is dropped, with a note.
    pub max_log_bytes: u64,
    /// What jobs may have.
    pub policy: JobPolicy,
    /// The node's address, for `JobDetails`.
    pub address: String,
    /// The node's socket for detached actors, handed to each driver.
    pub actors_socket: Option<PathBuf>,
    /// The node's socket for tasks, handed to each driver in a cluster (see
    /// `cluster_tasks.rs`).
    pub tasks_socket: Option<PathBuf>,
}

/// What is kept of a job on disk.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct JobRecord {
    details: JobDetails,
    /// The module its driver runs.
    module: String,
}

/// One job.
struct Job {
    record: Mutex<JobRecord>,
    /// (bytes of log written, whether the job has ended): followers wait on it.
    progress: watch::Sender<(u64, bool)>,
    stop: Notify,
    stopping: AtomicBool,
}

impl Job {
    fn details(&self) -> JobDetails {
        self.record
            .lock()
            .map(|r| r.details.clone())
            .unwrap_or_else(|p| p.into_inner().details.clone())
    }

    fn update(&self, f: impl FnOnce(&mut JobDetails)) -> JobRecord {
        let mut record = self.record.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut record.details);
        record.clone()
    }
}

/// The node's jobs.
pub struct JobManager {
    config: JobConfig,
    modules: Arc<ModuleStore>,
    metrics: Arc<Metrics>,
    jobs: Mutex<Vec<(String, Arc<Job>)>>,
    slots: Arc<Semaphore>,
    drivers: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    closed: AtomicBool,
    /// The node's id in its cluster (`node_…`), once it joined one; else the id is
    /// derived from the node's address.
    cluster_node_id: std::sync::OnceLock<String>,
}

impl JobManager {
    /// Opens the job directory, taking back the records kept there.
    pub fn open(
        config: JobConfig,
        modules: Arc<ModuleStore>,
        metrics: Arc<Metrics>,
    ) -> Result<Arc<Self>> {
        std::fs::create_dir_all(&config.dir)
            .map_err(|err| NodeError::io(format!("creating {}", config.dir.display()), err))?;
        let mut jobs = Vec::new();
        let entries = std::fs::read_dir(&config.dir)
            .map_err(|err| NodeError::io(format!("reading {}", config.dir.display()), err))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|ext| ext != "json") {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let Ok(mut record) = serde_json::from_str::<JobRecord>(&text) else {
                continue;
            };
            if !record.details.status.is_terminal() {
                record.details.status = JobStatus::Failed;
                record.details.error_type = Some("NODE_RESTARTED".into());
                record.details.message =
                    Some("The node stopped while the job ran (it was restarted since).".into());
                record.details.end_time = Some(now_ms());
                let _ = persist(&config.dir, &record);
            }
            let id = record.details.submission_id.clone().unwrap_or_default();
            let log_len = std::fs::metadata(log_path(&config.dir, &id)).map_or(0, |m| m.len());
            let (progress, _) = watch::channel((log_len, true));
            jobs.push((
                id,
                Arc::new(Job {
                    record: Mutex::new(record),
                    progress,
                    stop: Notify::new(),
                    stopping: AtomicBool::new(false),
                }),
            ));
        }
        jobs.sort_by_key(|(_, job)| job.details().start_time);
        Ok(Arc::new(JobManager {
            slots: Arc::new(Semaphore::new(config.max_jobs.max(1))),
            config,
            modules,
            metrics,
            jobs: Mutex::new(jobs),
            drivers: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
            cluster_node_id: std::sync::OnceLock::new(),
        }))
    }

    /// The node's id (from its address) as the job records name it.
    pub fn node_id(&self) -> String {
        self.cluster_node_id
            .get()
            .cloned()
            .unwrap_or_else(|| node_id(&self.config.address))
    }

    /// Names the node by its cluster id from now on (jobs' `driver_node_id`).
    pub fn set_cluster_node_id(&self, id: &str) {
        let _ = self.cluster_node_id.set(id.to_string());
    }

    /// The job manager's settings.
    pub fn config(&self) -> &JobConfig {
        &self.config
    }

    fn get(&self, id: &str) -> Result<Arc<Job>> {
        self.jobs
            .lock()
            .ok()
            .and_then(|jobs| {
                jobs.iter()
                    .find(|(key, _)| key == id)
                    .map(|(_, j)| j.clone())
            })
            .ok_or_else(|| NodeError::JobNotFound(id.to_string()))
    }

    /// Every job, in submission order.
    pub fn list(&self) -> Vec<JobDetails> {
        self.jobs
            .lock()
            .map(|jobs| jobs.iter().map(|(_, job)| job.details()).collect())
            .unwrap_or_default()
    }

    /// One job.
    pub fn details(&self, id: &str) -> Result<JobDetails> {
        Ok(self.get(id)?.details())
    }

    /// Jobs by state.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        let mut counts: BTreeMap<String, usize> = JobStatus::ALL
            .iter()
            .map(|s| (s.as_str().to_string(), 0))
            .collect();
        for job in self.list() {
            *counts.entry(job.status.as_str().to_string()).or_default() += 1;
        }
        counts
    }

    /// Accepts a job: checks its entrypoint against the policy and the modules, records
    /// it PENDING and starts its driver when a slot is free.
    pub fn submit(self: &Arc<Self>, request: JobSubmitRequest) -> Result<JobSubmitResponse> {
        if self.closed.load(Ordering::Acquire) {
            return Err(NodeError::BadRequest("the node is shutting down".into()));
        }
        if request
            .runtime_env
            .as_ref()
            .is_some_and(|env| !env.is_empty())
        {
            return Err(NodeError::BadRequest(
                "runtime_env is not supported: a job runs a deployed module (deploy it with \
                 `rustyray deploy`), with what the entrypoint's flags ask"
                    .into(),
            ));
        }
        let spec = entrypoint::parse(&request.entrypoint, &self.config.policy)?;
        let module = self.modules.find(&spec.module)?;
        if !module.has_main {
            return Err(NodeError::BadEntrypoint(format!(
                "module {} ({}) has no #[rustyray::main] to run",
                module.name,
                &module.sha256[..12]
            )));
        }
        let id = match request.submission_id.or(request.job_id) {
            Some(id) => {
                if id.is_empty()
                    || id.len() > 64
                    || !id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                {
                    return Err(NodeError::BadRequest(format!(
                        "submission id {id:?}: use 1 to 64 letters, digits, '_' or '-'"
                    )));
                }
                id
            }
            None => new_submission_id(),
        };
        let details = JobDetails {
            kind: "SUBMISSION".into(),
            job_id: Some(id.clone()),
            submission_id: Some(id.clone()),
            driver_info: None,
            status: JobStatus::Pending,
            entrypoint: request.entrypoint.clone(),
            message: Some("Job has not started yet.".into()),
            error_type: None,
            start_time: Some(now_ms()),
            end_time: None,
            metadata: Some(request.metadata.unwrap_or_default()),
            runtime_env: Some(Default::default()),
            driver_agent_http_address: Some(self.config.address.clone()),
            driver_node_id: Some(self.node_id()),
            driver_exit_code: None,
        };
        let record = JobRecord {
            details,
            module: module.sha256.clone(),
        };
        let (progress, _) = watch::channel((0, false));
        let job = Arc::new(Job {
            record: Mutex::new(record.clone()),
            progress,
            stop: Notify::new(),
            stopping: AtomicBool::new(false),
        });
        {
            let mut jobs = self
                .jobs
                .lock()
                .map_err(|_| NodeError::io("jobs", "poisoned"))?;
            if jobs.iter().any(|(key, _)| *key == id) {
                return Err(NodeError::JobExists(id));
            }
            jobs.push((id.clone(), job.clone()));
        }
        persist(&self.config.dir, &record)?;
        self.metrics.job_submitted();
        let manager = self.clone();
        let submitted = Instant::now();
        let handle = tokio::spawn(async move {
            manager.drive(job, module, spec, submitted).await;
        });
        if let Ok(mut drivers) = self.drivers.lock() {
            drivers.retain(|driver| !driver.is_finished());
            drivers.push(handle);
        }
        Ok(JobSubmitResponse {
            job_id: id.clone(),
            submission_id: id,
        })
    }

    /// A job's life: wait for a slot, run the driver, record how it ended.
    async fn drive(
        self: Arc<Self>,
        job: Arc<Job>,
        module: crate::api::ModuleInfo,
        spec: entrypoint::JobSpec,
        submitted: Instant,
    ) {
        let permit = tokio::select! {
            permit = self.slots.clone().acquire_owned() => permit.ok(),
            () = job.stop.notified() => None,
        };
        let (status, message, error_type, code) = match permit {
            None => (
                JobStatus::Stopped,
                "Job was stopped before it started.".to_string(),
                None,
                None,
            ),
            Some(_permit) => self.run_driver(&job, &module, &spec, submitted).await,
        };
        let record = job.update(|details| {
            details.status = status;
            details.message = Some(message);
            details.error_type = error_type;
            details.end_time = Some(now_ms());
            details.driver_exit_code = code;
        });
        let _ = persist(&self.config.dir, &record);
        self.metrics
            .job_ended(status, submitted.elapsed().as_secs_f64());
        job.progress.send_modify(|(_, ended)| *ended = true);
    }

    async fn run_driver(
        &self,
        job: &Job,
        module: &crate::api::ModuleInfo,
        spec: &entrypoint::JobSpec,
        submitted: Instant,
    ) -> (JobStatus, String, Option<String>, Option<i32>) {
        let id = job.details().submission_id.unwrap_or_default();
        let mut command = tokio::process::Command::new(&self.config.exe);
        command
            .arg("run")
            .arg(self.modules.path(module))
            .arg("--timeline")
            .arg(trace_path(&self.config.dir, &id))
            .arg("--state-file")
            .arg(state_path(&self.config.dir, &id));
        for companion in self.modules.companions(module) {
            command.arg("--load").arg(self.modules.path(&companion));
        }
        // The job's namespace: the one it names, else an anonymous one of its own (Ray's).
        let namespace = spec.namespace.clone().unwrap_or_else(|| {
            format!(
                "{}{}",
                entrypoint::ANONYMOUS_PREFIX,
                crate::modules::hex(&crate::token::random_bytes(8))
            )
        });
        command.arg("--namespace").arg(namespace);
        if let Some(socket) = &self.config.actors_socket {
            command
                .arg("--node-actors")
                .arg(socket)
                .arg("--job-id")
                .arg(&id);
        }
        if let Some(socket) = &self.config.tasks_socket {
            command.arg("--node-tasks").arg(socket);
        }
        command
            .args(&spec.run_flags)
            .arg("--")
            .args(&spec.args)
            .env_clear()
            .env("RUSTYRAY_CACHE_DIR", &self.config.cache_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // SAFETY: prctl(2) only, between fork and exec: the driver gets SIGKILL when
        // the node dies, even by SIGKILL, so no job outlives its node.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(err) => {
                return (
                    JobStatus::Failed,
                    format!("Could not start the driver: {err}"),
                    Some("JOB_SUPERVISOR_ACTOR_START_FAILURE".into()),
                    None,
                );
            }
        };
        let pid = child.id().unwrap_or(0);
        let record = job.update(|details| {
            details.status = JobStatus::Running;
            details.message = Some("Job is currently running.".into());
            details.driver_info = Some(DriverInfo {
                id: id.clone(),
                node_ip_address: self.config.address.clone(),
                pid: pid.to_string(),
            });
        });
        let _ = persist(&self.config.dir, &record);
        let (chunks, receiver) = mpsc::channel::<Vec<u8>>(64);
        if let Some(stdout) = child.stdout.take() {
            tokio::spawn(pump(stdout, chunks.clone()));
        }
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(pump(stderr, chunks.clone()));
        }
        drop(chunks);
        let writer = tokio::spawn(write_log(
            log_path(&self.config.dir, &id),
            receiver,
            job.progress.clone(),
            self.config.max_log_bytes,
            self.metrics.clone(),
            submitted,
        ));
        let stopped = tokio::select! {
            _ = child.wait() => false,
            () = job.stop.notified() => true,
        };
        if stopped {
            terminate(pid);
            if tokio::time::timeout(STOP_GRACE, child.wait())
                .await
                .is_err()
            {
                let _ = child.start_kill();
            }
        }
        let status = child.wait().await;
        let _ = writer.await;
        let code = status.as_ref().ok().and_then(|s| s.code());
        if stopped || job.stopping.load(Ordering::Acquire) {
            return (
                JobStatus::Stopped,
                "Job was intentionally stopped.".into(),
                None,
                code,
            );
        }
        match status {
            Ok(status) if status.success() => (
                JobStatus::Succeeded,
                "Job finished successfully.".into(),
                None,
                Some(0),
            ),
            Ok(status) => {
                let how = match status.code() {
                    Some(code) => format!("exit code {code}"),
                    None => {
                        use std::os::unix::process::ExitStatusExt;
                        format!("signal {}", status.signal().unwrap_or(0))
                    }
                };
                (
                    JobStatus::Failed,
                    format!("Job entrypoint command failed with {how}. See the job's logs."),
                    Some("JOB_ENTRYPOINT_COMMAND_ERROR".into()),
                    status.code(),
                )
            }
            Err(err) => (
                JobStatus::Failed,
                format!("Waiting for the driver failed: {err}"),
                Some("JOB_SUPERVISOR_ACTOR_UNKNOWN_FAILURE".into()),
                None,
            ),
        }
    }

    /// Asks a job to stop: a pending one never starts, a running driver gets SIGTERM and
    /// then SIGKILL after [`STOP_GRACE`]. Whether it had not ended.
    pub fn stop(&self, id: &str) -> Result<bool> {
        let job = self.get(id)?;
        if job.details().status.is_terminal() {
            return Ok(false);
        }
        job.stopping.store(true, Ordering::Release);
        job.stop.notify_one();
        Ok(true)
    }

    /// Deletes an ended job, its record and its log.
    pub fn delete(&self, id: &str) -> Result<bool> {
        let job = self.get(id)?;
        if !job.details().status.is_terminal() {
            return Err(NodeError::JobNotEnded(id.to_string()));
        }
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.retain(|(key, _)| key != id);
        }
        let _ = std::fs::remove_file(self.config.dir.join(format!("{id}.json")));
        let _ = std::fs::remove_file(log_path(&self.config.dir, id));
        let _ = std::fs::remove_file(trace_path(&self.config.dir, id));
        let _ = std::fs::remove_file(state_path(&self.config.dir, id));
        Ok(true)
    }

    /// The timeline of job `id` (every job's, without one): Chrome trace events, one
    /// slice per task and actor call, each job a process named after it. A running
    /// job's timeline holds what its driver has written so far.
    pub async fn timeline(&self, id: Option<&str>) -> Result<Vec<serde_json::Value>> {
        let ids: Vec<String> = match id {
            Some(id) => vec![self.get(id)?.details().submission_id.unwrap_or_default()],
            None => self
                .list()
                .into_iter()
                .filter_map(|details| details.submission_id)
                .collect(),
        };
        let mut traces = Vec::new();
        for id in ids {
            let text = self.trace_text(&id).await;
            traces.push((id, text));
        }
        Ok(timeline_events(&traces))
    }

    /// What the driver of job `id` has written of its timeline so far (empty if nothing).
    async fn trace_text(&self, id: &str) -> String {
        tokio::fs::read_to_string(trace_path(&self.config.dir, id))
            .await
            .unwrap_or_default()
    }

    /// Part of job `id`'s timeline file for another node: whole lines from byte
    /// `offset`, at most `max` bytes of them, and the offset to ask from next (`None`:
    /// nothing more now). A line longer than `max` is skipped (it is no event a
    /// driver writes).
    pub async fn timeline_chunk(
        &self,
        id: &str,
        offset: u64,
        max: usize,
    ) -> Result<(String, Option<u64>)> {
        self.get(id)?;
        let text = self.trace_text(id).await;
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(text.len());
        let rest = &text.as_bytes()[start..];
        let window = &rest[..rest.len().min(max)];
        let Some(end) = window.iter().rposition(|byte| *byte == b'\n') else {
            // No whole line in reach: past an over-long line, or the end.
            return Ok(match rest.iter().position(|byte| *byte == b'\n') {
                Some(skip) if rest.len() > max => (String::new(), Some((start + skip + 1) as u64)),
                _ => (String::new(), None),
            });
        };
        let chunk = String::from_utf8_lossy(&window[..=end]).into_owned();
        Ok((chunk, Some((start + end + 1) as u64)))
    }

    /// The state each job's driver last wrote (`rustyray run --state-file`), by job id;
    /// jobs whose driver has not written one yet are left out.
    pub async fn states(&self) -> Vec<(Option<String>, rustyray::StateSnapshot)> {
        let mut states = Vec::new();
        for details in self.list() {
            let Some(id) = details.submission_id else {
                continue;
            };
            let Ok(text) = tokio::fs::read(state_path(&self.config.dir, &id)).await else {
                continue;
            };
            if let Ok(mut snapshot) = serde_json::from_slice(&text) {
                if details.status.is_terminal() {
                    crate::state::job_ended(&mut snapshot, details.end_time);
                }
                states.push((Some(id), snapshot));
            }
        }
        states
    }

    /// Everything the job wrote so far.
    pub async fn logs(&self, id: &str) -> Result<String> {
        self.get(id)?;
        match tokio::fs::read(log_path(&self.config.dir, id)).await {
            Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(err) => Err(NodeError::io(format!("reading the log of {id}"), err)),
        }
    }

    /// Up to `max` bytes of the job's log from `offset`, waiting up to `wait` for some to
    /// be written; and whether the job has ended with nothing more to read.
    pub async fn log_chunk(
        &self,
        id: &str,
        offset: u64,
        max: usize,
        wait: Duration,
    ) -> Result<(Vec<u8>, bool)> {
        let job = self.get(id)?;
        let path = log_path(&self.config.dir, id);
        let mut progress = job.progress.subscribe();
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let (len, ended) = *progress.borrow_and_update();
            if offset < len {
                let to = len.min(offset.saturating_add(max as u64));
                return Ok((read_range(&path, offset, to).await, false));
            }
            if ended {
                return Ok((Vec::new(), true));
            }
            match tokio::time::timeout_at(deadline, progress.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Ok((Vec::new(), true)),
                Err(_) => return Ok((Vec::new(), false)),
            }
        }
    }

    /// The job's log as it is written, from the start, ending when the job has ended.
    pub fn follow(
        &self,
        id: &str,
    ) -> Result<impl futures::Stream<Item = Vec<u8>> + Send + 'static> {
        let job = self.get(id)?;
        let path = log_path(&self.config.dir, id);
        let progress = job.progress.subscribe();
        Ok(futures::stream::unfold(
            (progress, 0u64, path),
            |(mut progress, offset, path)| async move {
                loop {
                    let (len, ended) = *progress.borrow_and_update();
                    if offset < len {
                        let chunk = read_range(&path, offset, len).await;
                        if chunk.is_empty() {
                            return None;
                        }
                        let next = offset + chunk.len() as u64;
                        return Some((chunk, (progress, next, path)));
                    }
                    if ended || progress.changed().await.is_err() {
                        return None;
                    }
                }
            },
        ))
    }

    /// Stops taking jobs, stops those pending or running, and waits for their drivers.
    pub async fn shutdown(&self) {
        self.closed.store(true, Ordering::Release);
        let ids: Vec<String> = self
            .jobs
            .lock()
            .map(|jobs| jobs.iter().map(|(id, _)| id.clone()).collect())
            .unwrap_or_default();
        for id in ids {
            let _ = self.stop(&id);
        }
        let drivers: Vec<_> = self
            .drivers
            .lock()
            .map(|mut drivers| drivers.drain(..).collect())
            .unwrap_or_default();
        for driver in drivers {
            let _ = driver.await;
        }
    }
}

/// Reads one stream of the driver in chunks.
async fn pump(mut stream: impl AsyncRead + Unpin, chunks: mpsc::Sender<Vec<u8>>) {
    let mut buffer = vec![0u8; 16 << 10];
    while let Ok(n) = stream.read(&mut buffer).await {
        if n == 0 || chunks.send(buffer[..n].to_vec()).await.is_err() {
            break;
        }
    }
}

/// Appends the driver's output to its log, up to `max` bytes.
async fn write_log(
    path: PathBuf,
    mut chunks: mpsc::Receiver<Vec<u8>>,
    progress: watch::Sender<(u64, bool)>,
    max: u64,
    metrics: Arc<Metrics>,
    submitted: Instant,
) {
    use tokio::io::AsyncWriteExt;
    let Ok(mut file) = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .await
    else {
        return;
    };
    let mut written = 0u64;
    let mut first = true;
    while let Some(mut chunk) = chunks.recv().await {
        if first {
            first = false;
            metrics.first_output(submitted.elapsed().as_secs_f64());
        }
        if written >= max {
            continue;
        }
        if written + chunk.len() as u64 > max {
            chunk.truncate((max - written) as usize);
            chunk.extend_from_slice(
                format!(
                    "\n[rustyray node: log limit of {max} bytes reached; the rest is dropped]\n"
                )
                .as_bytes(),
            );
        }
        if file.write_all(&chunk).await.is_err() {
            break;
        }
        let _ = file.flush().await;
        written += chunk.len() as u64;
        progress.send_modify(|(len, _)| *len = written);
    }
}

async fn read_range(path: &std::path::Path, from: u64, to: u64) -> Vec<u8> {
    let Ok(mut file) = tokio::fs::File::open(path).await else {
        return Vec::new();
    };
    if file.seek(std::io::SeekFrom::Start(from)).await.is_err() {
        return Vec::new();
    }
    let want = (to - from).min(1 << 20) as usize;
    let mut buffer = vec![0u8; want];
    let mut filled = 0;
    while filled < want {
        match file.read(&mut buffer[filled..]).await {
            Ok(0) | Err(_) => break,
            Ok(n) => filled += n,
        }
    }
    buffer.truncate(filled);
    buffer
}

/// SIGTERM to the driver.
fn terminate(pid: u32) {
    if let Ok(pid) = i32::try_from(pid)
        && pid > 0
    {
        // SAFETY: kill(2) with a pid we spawned and a valid signal number.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
}

fn persist(dir: &std::path::Path, record: &JobRecord) -> Result<()> {
    let id = record.details.submission_id.clone().unwrap_or_default();
    let json = serde_json::to_vec_pretty(record)
        .map_err(|err| NodeError::io("encoding a job record", err))?;
    write_atomic(&dir.join(format!("{id}.json")), &json)
}

fn log_path(dir: &std::path::Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.log"))
}

/// Where a job's driver writes its state (`rustyray run --state-file`).
pub(crate) fn state_path(dir: &std::path::Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.state.json"))
}

/// Where a job's driver writes its timeline (`rustyray run --timeline`).
fn trace_path(dir: &std::path::Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.trace.json"))
}

/// The Chrome trace events of `traces` (job id, its timeline file's text), each job's
/// processes named after it.
pub(crate) fn timeline_events(traces: &[(String, String)]) -> Vec<serde_json::Value> {
    let mut events = Vec::new();
    for (id, text) in traces {
        let mut pids = std::collections::BTreeSet::new();
        for event in trace_events(text) {
            if let Some(pid) = event.get("pid").and_then(serde_json::Value::as_u64) {
                pids.insert(pid);
            }
            events.push(event);
        }
        for pid in pids {
            events.push(serde_json::json!({
                "ph": "M", "name": "process_name", "pid": pid,
                "args": {"name": format!("job {id}")}
            }));
        }
    }
    events
}

/// The events of a timeline file, which holds one event per line (`[` first, `]` last
/// once the driver closed it); a line the driver had not finished writing is skipped.
fn trace_events(text: &str) -> impl Iterator<Item = serde_json::Value> + '_ {
    text.lines().filter_map(|line| {
        let line = line.trim().trim_end_matches(',');
        if line.is_empty() || line == "[" || line == "]" {
            return None;
        }
        serde_json::from_str(line).ok()
    })
}

/// `rrsubmit_` and 16 random letters and digits, like Ray's `raysubmit_…`.
pub fn new_submission_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let random = crate::token::random_bytes(16);
    let suffix: String = random
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect();
    format!("rrsubmit_{suffix}")
}

/// A stable id of the node, from its address.
fn node_id(address: &str) -> String {
    use sha2::Digest;
    crate::modules::hex(&sha2::Sha256::digest(address.as_bytes()))[..16].to_string()
}
