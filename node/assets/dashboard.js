// The rustyray node dashboard: reads /api/v0/status, /api/v0/nodes, /api/jobs/,
// /api/modules, the state API (/api/v0/actors|tasks|objects) and /metrics every two
// seconds, follows the selected job's log as it is written, and lists the slices of its
// timeline (/api/v0/timeline), which it also offers as a file (a link to the trace it
// fetched, so it works with a token, which a plain link could not send).
// The address may name a job and a tab: /#job=ID&tab=timeline.
// A node started with a token needs it in the page's address: /#token=TOKEN.
"use strict";

const token = new URLSearchParams(location.hash.slice(1)).get("token");
const headers = token ? { Authorization: "Bearer " + token } : {};
let selected = null;
let following = null;
let latestJob = null;
let traceUrl = null;

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function when(ms) {
  return ms ? new Date(ms).toLocaleTimeString() : "";
}

async function api(path) {
  const response = await fetch(path, { headers });
  if (!response.ok) throw new Error(path + ": " + response.status + " " + (await response.text()));
  return path === "/metrics" ? response.text() : response.json();
}

function showTab(name) {
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.tab === name);
  for (const s of document.querySelectorAll("section")) s.classList.toggle("active", s.id === name);
  if (name === "timeline") loadTimeline();
}

// The state API's list answer (Ray's envelope): its items.
async function items(resource) {
  const answer = await api("/api/v0/" + resource + "?limit=500");
  return answer.data.result.result;
}

// Cells are [text, class, title]: the title (shown on hover) holds a long text whole.
function row(cells, cls) {
  const tr = el("tr", null, cls);
  for (const [text, cellClass, title] of cells) {
    const td = el("td", text, cellClass);
    if (title) td.title = title;
    tr.append(td);
  }
  return tr;
}

// A long text's first line, cut at 160 characters (errors carry whole backtraces).
function short(text) {
  const line = (text || "").split("\n")[0];
  return line.length > 160 ? line.slice(0, 160) + "…" : line;
}

function counts(list) {
  const by = {};
  for (const item of list) by[item.state] = (by[item.state] || 0) + 1;
  return Object.entries(by).map(([state, n]) => state + ": " + n).join(", ");
}

function renderActors(actors) {
  document.getElementById("actor-summary").textContent = counts(actors);
  document.getElementById("actor-rows").replaceChildren(...actors.slice().reverse().map((a) => row([
    [a.actor_id], [a.class_name], [a.name || "-"], [a.state, a.state], [a.num_restarts],
    [a.snapshot_age_s == null ? "-" : a.snapshot_age_s.toFixed(1) + " s"], [a.job_id || "-"],
    [short(a.death_cause), "err", a.death_cause]])));
}

function renderTasks(tasks) {
  const wanted = document.getElementById("task-state").value;
  const shown = tasks.filter((t) => !wanted || t.state.startsWith(wanted));
  document.getElementById("task-summary").textContent = counts(tasks);
  document.getElementById("task-rows").replaceChildren(...shown.slice().reverse().map((t) => row([
    [t.task_id], [t.name], [t.type], [t.state, t.state], [t.job_id || "-"], [when(t.start_time_ms)],
    [t.start_time_ms && t.end_time_ms ? (t.end_time_ms - t.start_time_ms) + " ms" : ""],
    [t.error_type || ""], [short(t.error_message), "err", t.error_message]])));
}

function renderObjects(objects) {
  document.getElementById("object-rows").replaceChildren(...objects.map((o) => row([
    [o.object_id], [o.object_size == null ? "-" : o.object_size], [o.location], [o.type],
    [o.task_id || "-"], [o.reference_count], [o.job_id || "-"]])));
}

// The chosen job's slices (the first 500), each a bar placed on the span they cover.
async function loadTimeline() {
  const id = selected || latestJob;
  if (!id) return;
  const path = "/api/v0/timeline?job_id=" + encodeURIComponent(id);
  document.getElementById("timeline-job").textContent = id;
  try {
    const events = await api(path);
    // The link downloads what was fetched (with the token, if any).
    const link = document.getElementById("timeline-link");
    if (traceUrl) URL.revokeObjectURL(traceUrl);
    traceUrl = URL.createObjectURL(new Blob([JSON.stringify(events)], { type: "application/json" }));
    link.href = traceUrl;
    link.download = "timeline-" + id + ".json";
    const threads = {};
    for (const e of events) if (e.ph === "M" && e.name === "thread_name") threads[e.tid] = e.args.name;
    const slices = events.filter((e) => e.ph === "X").sort((a, b) => a.ts - b.ts).slice(0, 500);
    const first = slices.length ? slices[0].ts : 0;
    const span = Math.max(1, ...slices.map((e) => e.ts + e.dur - first));
    document.getElementById("timeline-rows").replaceChildren(...slices.map((e) => {
      const tr = row([[e.name], [e.cat], [threads[e.tid] || e.tid],
        [((e.ts - first) / 1000).toFixed(3) + " ms"], [e.dur + " µs"]]);
      const bar = el("div", null, "bar");
      bar.style.marginLeft = Math.round(300 * (e.ts - first) / span) + "px";
      bar.style.width = Math.max(1, Math.round(300 * e.dur / span)) + "px";
      const cell = el("td");
      cell.append(bar);
      tr.append(cell);
      return tr;
    }));
  } catch (err) {
    document.getElementById("error").textContent = String(err);
  }
}

function renderStatus(status) {
  document.getElementById("address").textContent = status.address;
  const cards = document.getElementById("cards");
  cards.replaceChildren();
  const items = [
    ["version", status.version], ["uptime", status.uptime_s + " s"], ["CPUs", status.cpus],
    ["modules", status.modules], ["node memory", Math.round(status.node_rss_kib / 1024) + " MiB"],
    ["jobs at once", status.max_jobs], ["job memory", status.job_memory_mib + " MiB"],
  ];
  for (const [state, count] of Object.entries(status.jobs)) items.push([state.toLowerCase() + " jobs", count]);
  items.push(["network jobs may ask for", (status.allow_net || []).join(", ") || "none"]);
  if ((status.allow_listen || []).length) items.push(["ports jobs may listen on", status.allow_listen.join(", ")]);
  for (const [label, value] of items) {
    const card = el("div", null, "card");
    card.append(el("b", value), el("span", label));
    cards.append(card);
  }
}

function age(ms) {
  const s = Math.max(0, (Date.now() - ms) / 1000);
  return s < 120 ? s.toFixed(1) + " s ago" : Math.round(s / 60) + " min ago";
}

function resourceText(resources) {
  return Object.entries(resources || {}).map(([name, n]) => name + " " + n).join(", ");
}

// Every node of the cluster (or this one alone): liveness, resources, load.
function renderNodes(nodes) {
  const alive = nodes.filter((n) => n.alive).length;
  document.getElementById("node-summary").textContent =
    nodes.length + " node" + (nodes.length === 1 ? "" : "s") + ": " + alive + " alive, " +
    (nodes.length - alive) + " dead";
  document.getElementById("node-rows").replaceChildren(...nodes.map((n) => row([
    [n.node_id + (n.this_node ? " (this node)" : "")], [n.address], [n.state, n.state],
    [resourceText(n.resources)], [resourceText(n.available)], [n.running_jobs],
    [n.pending_jobs], [n.running_tasks === undefined ? "-" : n.running_tasks],
    [n.waiting_for_resources === undefined ? "-" : n.waiting_for_resources],
    [when(n.started_ms)], [age(n.last_heartbeat_ms)]])));
}

function renderJobs(jobs) {
  const rows = document.getElementById("job-rows");
  rows.replaceChildren();
  for (const job of jobs.slice().reverse()) {
    const row = el("tr", null, "job");
    row.dataset.id = job.submission_id;
    if (job.submission_id === selected) row.classList.add("selected");
    row.append(
      el("td", job.submission_id), el("td", job.status, job.status), el("td", job.entrypoint),
      el("td", job.message, "wrap"), el("td", when(job.start_time)), el("td", when(job.end_time)));
    row.addEventListener("click", () => follow(job.submission_id));
    rows.append(row);
  }
}

function renderModules(modules) {
  const rows = document.getElementById("module-rows");
  rows.replaceChildren();
  for (const m of modules) {
    const row = el("tr");
    row.append(el("td", m.name), el("td", m.sha256.slice(0, 16) + "…"), el("td", m.size),
      el("td", m.has_main ? "yes" : "no"), el("td", m.functions.join(", "), "wrap"),
      el("td", m.actor_classes.join(", "), "wrap"));
    rows.append(row);
  }
}

// Streams /api/jobs/ID/logs/stream into the log pane until the job ends.
async function follow(id) {
  selected = id;
  if (following) following.abort();
  following = new AbortController();
  const log = document.getElementById("log");
  document.getElementById("log-job").textContent = id;
  log.textContent = "";
  for (const row of document.querySelectorAll("tr.job")) row.classList.toggle("selected", row.dataset.id === id);
  try {
    const response = await fetch("/api/jobs/" + encodeURIComponent(id) + "/logs/stream",
      { headers, signal: following.signal });
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      log.textContent += decoder.decode(value, { stream: true });
      log.scrollTop = log.scrollHeight;
    }
  } catch (err) {
    if (err.name !== "AbortError") document.getElementById("error").textContent = String(err);
  }
}

async function refresh() {
  try {
    const [status, nodes, jobs, modules, metrics, actors, tasks, objects] = await Promise.all([
      api("/api/v0/status"), api("/api/v0/nodes"), api("/api/jobs/"), api("/api/modules"),
      api("/metrics"), items("actors"), items("tasks"), items("objects")]);
    renderStatus(status);
    renderNodes(nodes);
    renderJobs(jobs);
    renderModules(modules);
    renderActors(actors);
    renderTasks(tasks);
    renderObjects(objects);
    if (jobs.length) latestJob = jobs[jobs.length - 1].submission_id;
    document.getElementById("metrics-text").textContent = metrics;
    document.getElementById("error").textContent = "";
    const hash = new URLSearchParams(location.hash.slice(1));
    const wanted = hash.get("job");
    if (wanted && selected === null) {
      showTab("jobs");
      follow(wanted);
      if (hash.get("tab")) showTab(hash.get("tab"));
    } else if (document.getElementById("timeline").classList.contains("active")) {
      loadTimeline();
    }
  } catch (err) {
    document.getElementById("error").textContent = String(err);
  }
}

for (const a of document.querySelectorAll("nav a")) a.addEventListener("click", () => showTab(a.dataset.tab));
document.getElementById("task-state").addEventListener("change", refresh);
refresh();
setInterval(refresh, 2000);
