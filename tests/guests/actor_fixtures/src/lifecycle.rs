//! `on_stop`, made observable: a `Stoppable` records its farewell in a named `Log` actor
//! when the runtime stops it gracefully, and a test reads the log afterwards.

/// An append-only list of strings.
#[rustyray::actor]
pub struct Log {
    entries: Vec<String>,
}

#[rustyray::actor]
impl Log {
    pub fn new() -> Self {
        Log {
            entries: Vec::new(),
        }
    }

    /// Appends `entry`; the number of entries.
    pub fn record(&mut self, entry: String) -> usize {
        self.entries.push(entry);
        self.entries.len()
    }

    pub fn entries(&self) -> Vec<String> {
        self.entries.clone()
    }

    /// An `async` method, for the SDK's `block_on` path.
    pub async fn len(&self) -> usize {
        std::future::ready(self.entries.len()).await
    }
}

/// Counts pings; on a graceful stop, records `"<label> stopped after <n> pings"` in the
/// `Log` actor named `log_name` (create that one first, named).
#[rustyray::actor]
pub struct Stoppable {
    label: String,
    log_name: String,
    pings: u32,
}

#[rustyray::actor]
impl Stoppable {
    pub fn new(label: String, log_name: String) -> Self {
        Stoppable {
            label,
            log_name,
            pings: 0,
        }
    }

    pub fn ping(&mut self) -> u32 {
        self.pings += 1;
        self.pings
    }

    /// Not a remote method: the host calls it through `actor-stop`. A tell, not a call: the
    /// entry is queued on the log before the stop returns, and a stopping log cannot leave
    /// this actor waiting.
    fn on_stop(&mut self) {
        if let Some(log) = Log::get_named(&self.log_name) {
            let _ = log.record_tell(format!("{} stopped after {} pings", self.label, self.pings));
        }
    }
}
