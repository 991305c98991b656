// moviefactory studio: plain JavaScript over the studio's API (no build step, nothing fetched from elsewhere).
"use strict";
const $ = (id) => document.getElementById(id);
const CAMERA = ["static", "push_in", "pull_out", "pan_left", "pan_right", "tilt_up", "tilt_down"];
const STAGES = { plan: "writing the screenplay", narrate: "recording narration", render: "rendering shots",
  sound: "choosing music and effects", connect: "generating transitions", timeline: "cutting the timeline",
  assemble: "mixing and encoding" };
const state = { menu: null, screenplay: null, media: null, film: null, source: null, lags: [] };
window.studio = state; // the browser test reads the event lags from here

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

async function api(method, path, body, isForm) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    if (isForm) init.body = body;
    else { init.body = JSON.stringify(body); init.headers["Content-Type"] = "application/json"; }
  }
  const res = await fetch(path, init);
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = { detail: text.slice(0, 300) }; }
  if (!res.ok) throw new Error(describe(data, res));
  return data;
}

function describe(data, res) {
  const d = data && data.detail;
  if (Array.isArray(d)) return d.map((e) => `${(e.loc || []).filter((p) => p !== "body").join(".")}: ${e.msg}`).join("; ");
  return d || `${res.status} ${res.statusText}`;
}

function showError(err) { $("error").textContent = err ? String(err.message || err) : ""; }

function options() {
  const o = { format: $("format").value, lang: $("lang").value, seconds: Number($("seconds").value),
    tts: $("tts").value, music: $("music").value, renderer: $("renderer").value, draft: $("draft").checked };
  if ($("voice").value.trim()) o.voice = $("voice").value.trim();
  if (o.renderer === "footage" && state.media) o.media = state.media;
  return o;
}

// --- the menu --------------------------------------------------------------------------------------
async function loadMenu() {
  const m = state.menu = await api("GET", "/api/options");
  const fill = (id, items, value, label) => {
    $(id).replaceChildren(...items.map((it) => el("option", { value: value(it), text: label(it) })));
  };
  fill("format", m.formats, (f) => f.name, (f) => `${f.name} ${f.size[0]}×${f.size[1]}`);
  fill("lang", m.languages, (l) => l.code, (l) => l.name);
  fill("tts", m.tts, (t) => t, (t) => t);
  fill("renderer", m.renderers, (r) => r.name, (r) => r.name);
  const d = m.defaults;
  $("format").value = d.format; $("lang").value = d.lang; $("seconds").value = d.seconds; $("tts").value = d.tts;
  $("renderer").value = d.renderer;
  if (!$("renderer").value && m.renderers.length) $("renderer").value = m.renderers[0].name; // the default is not usable here
  rendererChanged();
  document.body.dataset.ready = "1"; // the menu is in: the form is the server's
}

function rendererChanged() {
  const r = (state.menu.renderers || []).find((x) => x.name === $("renderer").value);
  $("needs").textContent = r ? r.needs : "";
  $("media-box").hidden = $("renderer").value !== "footage";
}

// --- plan and the screenplay editor ----------------------------------------------------------------
async function plan() {
  showError();
  const theme = $("theme").value.trim();
  busy(true);
  try {
    state.screenplay = await api("POST", "/api/plans", { theme, ...options() });
    drawEditor();
  } catch (e) { showError(e); } finally { busy(false); }
}

function move(list, i, by) {
  const j = i + by;
  if (j < 0 || j >= list.length) return;
  [list[i], list[j]] = [list[j], list[i]];
  drawEditor();
}

function drawEditor() {
  const sp = state.screenplay;
  $("editor").hidden = false;
  $("sp-title").textContent = sp.title;
  $("sp-voice").value = sp.narrator.id;
  $("sp-cast").replaceChildren(...(sp.characters || []).map((c) => el("label", {}, `${c.name}'s voice`,
    el("input", { type: "text", value: c.voice.id, class: "cast-voice",
      oninput: (e) => { c.voice = { ...c.voice, id: e.target.value.trim() || c.voice.id }; } }))));
  $("scenes").replaceChildren(...sp.scenes.map((scene, si) => {
    const shots = scene.shots.map((shot, i) => el("div", { class: "row shot" },
      el("textarea", { rows: 3, class: "shot-text", "aria-label": `shot ${shot.id}`,
        oninput: (e) => { shot.description = e.target.value; shot.prompt = ""; } }, shot.description),
      selectOf(CAMERA, shot.camera, (v) => { shot.camera = v; }),
      el("input", { type: "number", min: 0.6, max: 60, step: 0.1, value: shot.duration, class: "shot-seconds",
        oninput: (e) => { shot.duration = Number(e.target.value); } }),
      moves(scene.shots, i)));
    const lines = scene.narration.map((line, i) => el("div", { class: "row line" },
      el("input", { type: "text", value: line.speaker, class: "line-speaker", "aria-label": "speaker",
        oninput: (e) => { line.speaker = e.target.value; } }),
      el("textarea", { rows: 2, class: "line-text", "aria-label": `line ${si + 1}.${i + 1}`,
        oninput: (e) => { line.text = e.target.value; } }, line.text),
      moves(scene.narration, i)));
    return el("div", { class: "scene", "data-scene": scene.id },
      el("h3", { text: `${si + 1}. ${scene.heading}` }),
      el("div", { class: "kind", text: "shots: what the camera sees, move, seconds" }), ...shots,
      el("div", { class: "kind", text: "lines" }), ...lines);
  }));
}

function selectOf(values, value, onchange) {
  const s = el("select", { onchange: (e) => onchange(e.target.value) },
    ...values.map((v) => el("option", { value: v, text: v.replace("_", " ") })));
  s.value = value;
  return s;
}

function moves(list, i) {
  return el("span", { class: "moves" },
    el("button", { type: "button", title: "move up", onclick: () => move(list, i, -1), text: "↑" }),
    el("button", { type: "button", title: "move down", onclick: () => move(list, i, 1), text: "↓" }));
}

// --- render and follow -----------------------------------------------------------------------------
async function render() {
  showError();
  const body = options();
  if (state.screenplay) {
    state.screenplay.narrator = { ...state.screenplay.narrator, id: $("sp-voice").value.trim() || state.screenplay.narrator.id };
    body.screenplay = state.screenplay;
    delete body.lang; // the screenplay's own
  } else {
    body.theme = $("theme").value.trim();
  }
  busy(true);
  try {
    const { id } = await api("POST", "/api/films", body);
    follow(id);
  } catch (e) { showError(e); } finally { busy(false); }
}

function follow(id) {
  if (state.source) state.source.close();
  state.film = id;
  $("progress").hidden = false; $("result").hidden = true;
  $("film-id").textContent = id; $("thumbs").replaceChildren();
  $("bar").style.width = "0"; $("stage").textContent = "queued"; $("shots").textContent = "shot 0/0";
  const source = state.source = new EventSource(`/api/films/${id}/events`);
  const on = (name, fn) => source.addEventListener(name, (e) => {
    const data = JSON.parse(e.data);
    if (data.t) state.lags.push(Date.now() / 1000 - data.t);
    fn(data);
  });
  state.clock = null;
  on("status", (d) => {
    setProgress(d); for (const t of d.shots || []) addThumb(id, t);
    if (d.shots && d.shots.length) $("shots").textContent = `${d.shots.length} shots`;
    $("cancel").hidden = !["queued", "running"].includes(d.status);
    tick(d.status === "running");
    // an ended film's stream closes after this: without close() the browser would reconnect for ever
    if (["done", "failed", "cancelled"].includes(d.status)) { source.close(); $("stage").textContent = d.status; }
    if (d.status === "done") showFilm(id);
    if (d.status === "failed" && d.error) showError(d.error);
  });
  on("queued", () => { tick(false); $("stage").textContent = "queued"; });
  on("stage", (d) => { $("stage").textContent = STAGES[d.stage] || d.stage; });
  on("progress", (d) => setProgress(d));
  on("shot", (d) => { $("shots").textContent = `shot ${d.shot}/${d.shots}`; if (d.thumb) addThumb(id, `thumb-${d.thumb}`); });
  on("note", (d) => { $("stage").textContent = d.detail; });
  on("done", (d) => { source.close(); tick(false); $("cancel").hidden = true; setProgress(d); $("stage").textContent = "done"; showFilm(id); history(); });
  on("failed", (d) => { source.close(); tick(false); $("cancel").hidden = true; $("stage").textContent = "failed"; showError(d.error); history(); });
  on("cancelled", () => { source.close(); tick(false); $("cancel").hidden = true; $("stage").textContent = "cancelled: resume it from the history"; history(); });
}

function setProgress(d) {
  if (d.progress !== undefined && d.progress !== null) $("bar").style.width = `${Math.round(d.progress * 100)}%`;
  if (d.elapsed !== undefined && d.elapsed !== null) {
    state.clock = { value: Number(d.elapsed), at: performance.now() };
    $("elapsed").textContent = `${state.clock.value.toFixed(1)} s`;
  }
  if (d.stage && STAGES[d.stage] && d.status !== "done") $("stage").textContent = STAGES[d.stage];
}

// the elapsed time goes on between events (a long encode reports only every half second or so)
function tick(running) {
  clearInterval(state.ticker);
  if (!running) return;
  state.ticker = setInterval(() => {
    if (state.clock) $("elapsed").textContent = `${(state.clock.value + (performance.now() - state.clock.at) / 1000).toFixed(1)} s`;
  }, 200);
}

function addThumb(id, name) {
  if ($("thumbs").querySelector(`[data-name="${name}"]`)) return;
  $("thumbs").append(el("img", { src: `/api/films/${id}/files/${encodeURIComponent(name)}`, alt: name, "data-name": name }));
}

async function showFilm(id) {
  const film = await api("GET", `/api/films/${id}`);
  $("result").hidden = false;
  $("result-title").textContent = film.title || film.theme;
  const player = $("player");
  player.replaceChildren();
  player.src = `/api/films/${id}/files/film.mp4`;
  if (film.files.includes("film.vtt")) {
    // the captions are burned into the picture already: the track is there for the player's CC menu
    // (and for searching), loaded but not drawn a second time
    const track = el("track", { kind: "captions", src: `/api/films/${id}/files/film.vtt`, label: "captions" });
    player.append(track);
    track.track.mode = "hidden";
  }
  player.load();
  const wanted = ["film.mp4", "film.srt", "film.vtt", "film.ass", "film.otio", "contact_sheet.png", "report.json", "screenplay.json", "credits.txt"];
  $("downloads").replaceChildren(...wanted.filter((f) => film.files.includes(f)).map((f) =>
    el("li", {}, el("a", { href: `/api/films/${id}/files/${f}`, download: f, text: f }))));
}

async function cancel() {
  if (!state.film) return;
  try { await api("DELETE", `/api/films/${state.film}`); } catch (e) { showError(e); }
}

// --- history, batches, media -----------------------------------------------------------------------
async function history() {
  const films = await api("GET", "/api/films");
  $("history").replaceChildren(...films.map((f) => {
    const pic = f.thumb ? el("img", { src: `/api/films/${f.id}/files/${f.thumb}`, alt: "" }) : el("div", { class: "none" });
    const actions = el("span", {});
    if (f.status === "done") actions.append(el("button", { type: "button", text: "watch", onclick: () => { follow(f.id); } }));
    if (f.status === "failed" || f.status === "cancelled") actions.append(el("button", { type: "button", text: "resume",
      class: "resume", onclick: async (e) => {
        e.target.disabled = true; // one resume per click
        try { await api("POST", `/api/films/${f.id}/resume`); follow(f.id); } catch (err) { showError(err); }
      } }));
    if (f.status === "running" || f.status === "queued") actions.append(el("button", { type: "button", text: "follow", onclick: () => follow(f.id) }));
    return el("li", { "data-id": f.id }, pic,
      el("div", {}, el("strong", { text: f.title || f.theme }), " ", el("span", { class: `status ${f.status}`, text: f.status }),
        f.error ? el("div", { class: "why", text: f.error }) : "",
        el("div", { class: "hint", text: `${f.id} · ${new Date(f.created * 1000).toLocaleString()}` })),
      actions);
  }));
}

async function sendBatch() {
  const file = $("batch-file").files[0];
  try {
    let made;
    if (file) { const form = new FormData(); form.append("file", file); made = await api("POST", "/api/batches", form, true); }
    else {
      const themes = $("batch-themes").value.split("\n").map((t) => t.trim()).filter(Boolean);
      made = await api("POST", "/api/batches", { themes, draft: $("draft").checked, format: $("format").value });
    }
    watchBatch(made.id);
    history();
  } catch (e) { $("batch-state").textContent = String(e.message || e); }
}

async function watchBatch(id) {
  let b;
  try { b = await api("GET", `/api/batches/${id}`); } catch (e) { setTimeout(() => watchBatch(id), 5000); return; }
  const c = b.counts;
  $("batch-state").textContent = `${b.name}: ${b.status} · ${c.done} done, ${c.running} running, ${c.queued} queued, ${c.failed} failed`;
  if (b.status === "running") setTimeout(() => watchBatch(id), 2000); else history();
}

async function uploadMedia() {
  const form = new FormData();
  for (const f of $("media-files").files) form.append("files", f);
  try {
    const made = await api("POST", "/api/media", form, true);
    state.media = made.media;
    $("media-state").textContent = `${made.files.length} files ready (${made.media})`;
  } catch (e) { $("media-state").textContent = String(e.message || e); }
}

function busy(on) { for (const id of ["plan", "render"]) $(id).disabled = on; }

document.addEventListener("DOMContentLoaded", () => {
  $("plan").addEventListener("click", plan);
  $("render").addEventListener("click", render);
  $("cancel").addEventListener("click", cancel);
  $("renderer").addEventListener("change", rendererChanged);
  $("media-upload").addEventListener("click", uploadMedia);
  $("batch-send").addEventListener("click", sendBatch);
  $("refresh").addEventListener("click", history);
  $("theme").addEventListener("input", () => { state.screenplay = null; $("editor").hidden = true; });
  loadMenu().catch(showError);
  history().catch(showError);
});
