// The rustyray node dashboard: reads /api/v0/status, /api/jobs/, /api/modules and
// /metrics every two seconds, and follows the selected job's log as it is written.
// A node started with a token needs it in the page's address: /#token=TOKEN.
"use strict";

const token = new URLSearchParams(location.hash.slice(1)).get("token");
const headers = token ? { Authorization: "Bearer " + token } : {};
let selected = null;
let following = null;

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

function renderJobs(jobs) {
  const rows = document.getElementById("job-rows");
  rows.replaceChildren();
  for (const job of jobs.slice().reverse()) {
    const row = el("tr", null, "job");
    row.dataset.id = job.submission_id;
    if (job.submission_id === selected) row.classList.add("selected");
    row.append(
      el("td", job.submission_id), el("td", job.status, job.status), el("td", job.entrypoint),
      el("td", job.message), el("td", when(job.start_time)), el("td", when(job.end_time)));
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
      el("td", m.has_main ? "yes" : "no"), el("td", m.functions.join(", ")),
      el("td", m.actor_classes.join(", ")));
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
    const [status, jobs, modules, metrics] = await Promise.all([
      api("/api/v0/status"), api("/api/jobs/"), api("/api/modules"), api("/metrics")]);
    renderStatus(status);
    renderJobs(jobs);
    renderModules(modules);
    document.getElementById("metrics-text").textContent = metrics;
    document.getElementById("error").textContent = "";
    const wanted = new URLSearchParams(location.hash.slice(1)).get("job");
    if (wanted && selected === null) {
      showTab("jobs");
      follow(wanted);
    }
  } catch (err) {
    document.getElementById("error").textContent = String(err);
  }
}

for (const a of document.querySelectorAll("nav a")) a.addEventListener("click", () => showTab(a.dataset.tab));
refresh();
setInterval(refresh, 2000);
