// paystorm in Locust's web UI: the scenario-first start page, the live payments view (polled
// once a second from /paystorm/live, the run's own recorder) and the chaos controls. Plain
// DOM and canvas: nothing loaded from anywhere but Locust's own server.
"use strict";
(() => {
  const root = document.getElementById("paystorm");
  if (!root) return;
  const args = window.templateArgs || {};
  const POLL_MS = 1000;
  const STOPPED_POLL_MS = 3000;
  const $ = (sel, el = root) => el.querySelector(sel);
  const h = (tag, attrs = {}, ...kids) => {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") el.className = v;
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : v);
    }
    for (const kid of kids.flat()) {
      if (kid !== null && kid !== undefined) el.append(kid instanceof Node ? kid : String(kid));
    }
    return el;
  };
  const pct = (v, digits = 1) => (v === null || v === undefined ? "–" : `${(100 * v).toFixed(digits)} %`);
  const num = (v) => (v === null || v === undefined ? "–" : Math.round(v).toLocaleString("en"));
  const seconds = (v) => `${Math.round(v * 10) / 10} s`;
  const ms = (v) => (v === null || v === undefined ? "–" : `${Math.round(v).toLocaleString("en")} ms`);

  // ---- state -------------------------------------------------------------------------------
  let state = args.state || "ready";
  let rows = new Map(); // second -> the recorder's row
  let gateway = new Map(); // second -> gateway sample
  let t0 = null;
  let last = null; // the last /paystorm/live answer
  let scenarios = null;
  let kinds = null;
  let wantStart = state === "ready"; // the start page shows; "New run" shows it again

  // ---- the frame -----------------------------------------------------------------------------
  root.append(
    h("div", { class: "ps-bar" },
      h("span", { class: "ps-brand" }, "paystorm"),
      h("span", { id: "ps-scenario" }, ""),
      h("span", { class: "ps-state", id: "ps-state" }, state),
      h("span", { id: "ps-clock", class: "ps-stat" }, h("span", { class: "v" }, "–"), h("span", { class: "k" }, "elapsed")),
      stat("ps-success", "success rate so far"),
      stat("ps-offered", "offered /s"),
      stat("ps-achieved", "achieved /s"),
      stat("ps-dropped", "dropped"),
      stat("ps-inflight", "in flight"),
      stat("ps-p99", "p99 so far"),
      stat("ps-active", "faults active"),
      h("span", { class: "ps-actions" },
        h("span", { id: "ps-report" }),
        h("button", { id: "ps-new", type: "button", onclick: () => showStart(true) }, "New run"),
        h("button", { id: "ps-stop", type: "button", class: "danger", onclick: stopRun }, "Stop run"))),
    h("div", { class: "ps-objectives", id: "ps-objectives" }),
    h("div", { class: "ps-start", id: "ps-start" }),
    h("div", { class: "ps-live", id: "ps-live" },
      h("div", { class: "ps-charts" },
        chart("load", "Offered, achieved (succeeded) and dropped payments /s"),
        chart("success", "Success rate of payments whose user had credit"),
        chart("causes", "Had credit and could not pay, by cause /s"),
        chart("latency", "Latency from the intended start (p50, p95, p99)"),
        chart("gateway", "Gateway: queued and in flight"),
        chart("shed", "Gateway: shed /s and breakers")),
      h("div", { class: "ps-side" },
        h("div", { class: "ps-box" }, h("h2", {}, "Faults on the gateway"),
          h("table", { class: "ps-faults", id: "ps-faults" }),
          h("div", { style: "margin-top:6px" },
            h("button", { id: "ps-clear", type: "button", onclick: clearFaults }, "Clear all faults"))),
        h("div", { class: "ps-box" }, h("h2", {}, "Add a fault"), h("form", { class: "ps-form", id: "ps-add", novalidate: true }),
          h("div", { id: "ps-message", role: "status" })),
        h("div", { class: "ps-box ps-internals", id: "ps-internals" }))),
    h("div", { class: "ps-locust-note" }, "Locust's own request statistics and charts are below.",
      h("button", { type: "button", style: "margin-left:8px", id: "ps-locust-toggle",
        onclick: () => document.body.classList.toggle("ps-show-locust") }, "Locust's own form")));

  function stat(id, label) {
    return h("span", { class: "ps-stat", id }, h("span", { class: "v" }, "–"), h("span", { class: "k" }, label));
  }
  function setStat(id, text, cls = "") {
    const el = document.getElementById(id);
    el.className = `ps-stat ${cls}`;
    el.querySelector(".v").textContent = text;
  }
  function chart(key, title) {
    return h("div", { class: "ps-chart" }, h("h3", {}, title),
      h("canvas", { id: `ps-chart-${key}`, "data-chart": key }),
      h("div", { class: "ps-legend", id: `ps-legend-${key}` }));
  }

  // ---- the start page: the scenario first ----------------------------------------------------
  async function loadScenarios() {
    const resp = await fetch("./paystorm/scenarios");
    scenarios = await resp.json();
    const start = $("#ps-start");
    start.replaceChildren(
      h("div", {},
        h("h2", {}, h("label", { for: "ps-pick" }, "Scenario")),
        h("select", { id: "ps-pick", name: "scenario", size: Math.min(16, scenarios.scenarios.length),
          onchange: () => showCard() },
          scenarios.scenarios.map((s) => h("option", { value: s.id, selected: s.id === scenarios.selected }, s.id === s.name ? s.name : `${s.name} (file)`)))),
      h("div", { class: "ps-card", id: "ps-card" }));
    showCard();
  }

  function showCard() {
    const id = $("#ps-pick").value;
    const s = scenarios.scenarios.find((x) => x.id === id);
    const card = $("#ps-card");
    if (!s || s.error) {
      card.replaceChildren(h("p", { class: "error" }, s ? s.error : "no scenario"));
      return;
    }
    const arrival = s.model === "arrival-rate";
    const peakUsers = Math.max(0, ...s.stages.map((st) => st.users || 0));
    const slo = Object.entries(s.slo).map(([k, v]) => `${k} ${k.endsWith("rate") ? (k === "success_rate" ? "≥ " : "≤ ") + pct(v, 2) : "≤ " + v}`);
    card.replaceChildren(
      h("h2", { id: "ps-card-name" }, s.name),
      h("p", { id: "ps-description" }, s.description || "(no description)"),
      h("canvas", { id: "ps-shape" }),
      h("div", { class: "ps-legend" }, h("span", {}, h("i", { style: `background:${PALETTE_OFFERED}` }),
        arrival ? "arrivals /s" : "users"),
        ...faultKinds(s.faults.map((f) => f.kind)).map((k) =>
          h("span", {}, h("i", { style: `background:${faultColour(k, s.faults.map((f) => f.kind))};opacity:.5` }), `fault: ${k}`))),
      h("div", { class: "ps-facts" },
        h("span", {}, "Load"), h("span", {}, arrival
          ? `arrival rate (open model), up to ${num(Math.max(...s.stages.map((st) => st.rate || 0)))}/s for ${s.duration_s} s`
          : `closed model, up to ${num(peakUsers)} users for ${s.duration_s} s`),
        h("label", { for: "ps-users" }, arrival ? "Users (pool)" : "Users"),
        h("input", { id: "ps-users", readonly: true, value: arrival ? `${num(s.pool_users)}, sized from the scenario` : `${peakUsers} at the peak, from the stages` }),
        h("label", { for: "ps-ramp" }, "Ramp up"),
        h("input", { id: "ps-ramp", readonly: true, value: arrival ? "none: the whole pool connects before second 0" : "from the stages" }),
        h("label", { for: "ps-host" }, "Host"),
        h("input", { id: "ps-host", value: scenarios.host }),
        h("span", {}, "Faults"), h("span", {}, s.faults.length
          ? s.faults.map((f) => `${f.kind} ${f.start_s}–${f.end_s} s ${JSON.stringify(f.params)}`).join("; ")
          : "none"),
        h("span", {}, "Objectives"), h("span", {}, slo.length ? slo.join(", ") : "none"),
        h("span", {}, "Who"), h("span", {}, Object.entries(s.mix).map(([k, v]) => `${k} ${v}`).join(", ")),
        h("span", {}, "Client"), h("span", {}, `timeout ${s.client.timeout_s} s, retry ${s.client.retry} ×${s.client.max_retries}`)),
      h("div", { class: "ps-go" },
        h("button", { id: "ps-start-button", type: "button", class: "primary", onclick: startRun }, `Start ${s.name}`),
        h("span", { id: "ps-start-message", role: "status" })));
    drawShape($("#ps-shape"), s);
  }

  async function startRun() {
    const form = new URLSearchParams({ scenario: $("#ps-pick").value, host: $("#ps-host").value });
    const message = $("#ps-start-message");
    message.textContent = "starting…";
    message.className = "muted";
    try {
      const resp = await fetch("./swarm", { method: "POST", body: form });
      const answer = await resp.json();
      if (!answer.success) throw new Error(answer.message || "Locust refused to start");
      wantStart = false;
      // Locust's page takes its running state from a fresh load, once the runner has it.
      for (let i = 0; i < 100; i++) {
        const live = await (await fetch("./paystorm/live?since=999999999")).json();
        if (["running", "spawning"].includes(live.state)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      window.location.reload();
    } catch (err) {
      message.textContent = String(err.message || err);
      message.className = "error";
    }
  }

  async function stopRun() {
    await fetch("./stop", { method: "POST" });
    poll();
  }

  function showStart(on) {
    wantStart = on;
    document.body.classList.toggle("ps-ready", on || state === "ready");
    if (on && !scenarios) loadScenarios();
  }

  // ---- polling the run ---------------------------------------------------------------------
  async function poll() {
    try {
      const since = rows.size ? Math.max(0, Math.max(...rows.keys()) - (last ? last.settle_s : 0)) : 0;
      const resp = await fetch(`./paystorm/live?since=${since}`);
      if (resp.ok) update(await resp.json());
    } catch (err) {
      setStat("ps-success", "?", "bad");
    }
  }

  function update(data) {
    if (data.t0_unix !== t0 || (last && data.scenario !== last.scenario)) {
      rows = new Map();
      gateway = new Map();
      t0 = data.t0_unix;
    }
    last = data;
    state = data.state;
    for (const row of data.seconds) rows.set(row.time, row);
    for (const sample of data.gateway.samples) gateway.set(sample.time, sample);
    document.body.classList.toggle("ps-ready", wantStart || state === "ready");
    const el = document.getElementById("ps-state");
    el.textContent = state === "cleanup" ? "stopping" : state;
    el.className = `ps-state ${state}`;
    $("#ps-scenario").textContent = data.scenario;
    const clock = $("#ps-clock .v");
    const connecting = ["running", "spawning"].includes(state) && data.pool.users
      ? `connecting ${num(data.pool.connected)} / ${num(data.pool.users)} users` : "not started";
    clock.textContent = data.started ? `${Math.floor(data.elapsed_s)} / ${Math.round(data.duration_s)} s` : connecting;
    const totals = data.totals;
    const objective = data.objectives.find((o) => o.name === "success_rate");
    const upTo = totals.settled_to === null ? "" : `, to ${totals.settled_to} s`;
    $("#ps-success .k").textContent = `success rate${upTo || " so far"}`;
    $("#ps-p99 .k").textContent = `p99${upTo || " so far"}`;
    setStat("ps-success", pct(totals.success_rate, 2), objective ? (objective.state === "met" ? "good" : objective.state === "failing" ? "bad" : "") : "");
    // The latest complete second whose payments have all ended: its achieved count is final
    // (a later second's would still grow as its payments in flight end).
    const lastFull = Math.floor(data.elapsed_s) - 1;
    const settledTo = totals.settled_to === null ? -1 : Math.min(lastFull, totals.settled_to);
    const settledAt = [...rows.keys()].filter((t) => t <= settledTo && rows.get(t).offered > 0)
      .reduce((a, b) => Math.max(a, b), -1);
    const row = rows.get(settledAt);
    setStat("ps-offered", row ? num(row.offered) : "–");
    setStat("ps-achieved", row ? num(row.succeeded) : "–");
    $("#ps-offered .k").textContent = row ? `offered /s, at ${settledAt} s` : "offered /s";
    $("#ps-achieved .k").textContent = row ? `achieved /s, at ${settledAt} s` : "achieved /s";
    setStat("ps-dropped", num(totals.dropped), totals.dropped ? "bad" : "");
    setStat("ps-inflight", num(data.in_flight));
    setStat("ps-p99", ms(data.latency_ms.p99));
    const active = data.gateway.faults.filter((f) => f.state === "active");
    setStat("ps-active", active.length ? active.map((f) => f.kind).join(", ") : "none", active.length ? "bad" : "");
    const report = $("#ps-report");
    report.replaceChildren(data.results && data.results.report
      ? h("a", { href: data.results.report, target: "_blank", id: "ps-report-link" }, "Report")
      : data.results && !["running", "spawning"].includes(state) && data.started ? h("span", { class: "muted" }, "report being built…") : "");
    $("#ps-stop").disabled = !["running", "spawning"].includes(state);
    $("#ps-new").hidden = state === "ready";
    $("#ps-objectives").replaceChildren(...data.objectives.map((o) =>
      h("span", { class: `ps-objective ${o.state}`, "data-objective": o.name, title: o.meaning },
        `${o.name}: ${o.state === "met" ? "met" : o.state === "failing" ? "failing" : o.state === "later" ? "at the end" : "not yet measured"} — ${o.words}`)));
    showFaults(data.gateway.faults);
    showInternals(data.gateway);
    drawAll();
  }

  // ---- charts --------------------------------------------------------------------------------
  const PALETTE_OFFERED = "#7f7f7f";
  function palette() { return last ? last.palette : { faults: ["#9467bd"], breakers: {} }; }
  function faultKinds(kinds) { return window.paystormCharts.faultKinds(kinds); }
  function faultColour(kind, all) { return window.paystormCharts.faultColour(kind, all, palette().faults); }

  // Drawing is charts.js's; the run's palette is the report's.
  const charts = window.paystormCharts;
  const { niceMax, short } = charts;
  function panel(canvas, opts) { charts.panel(canvas, { faultPalette: palette().faults, ...opts }); }
  function drawBreakers(canvas, channels, gtimes, xMax) {
    charts.drawBreakers(canvas, channels, gtimes, xMax, (t, ch) => gateway.get(t).breakers[ch], palette().breakers);
  }

  function legend(key, items) {
    document.getElementById(`ps-legend-${key}`).replaceChildren(...items.map(([colour, label]) =>
      h("span", {}, h("i", { style: `background:${colour}` }), label)));
  }

  function drawAll() {
    if (!last) return;
    const p = last.palette;
    const now = last.started ? last.elapsed_s : 0;
    const xMax = Math.max(last.duration_s, now, ...rows.keys()) + 1;
    // While the run goes, its current second is still being counted: complete seconds only.
    const running = ["running", "spawning"].includes(state);
    const times = [...rows.keys()].filter((t) => !running || t < Math.floor(now)).sort((a, b) => a - b);
    const series = (f) => times.map((t) => [t, f(rows.get(t))]);
    // Rates and percentiles only where a second's payments have all ended: before, only its
    // fast payments are in, and they flatter it.
    const settledTo = last.totals.settled_to === null ? -1 : last.totals.settled_to;
    const settledSeries = (f) => times.map((t) => [t, t > settledTo ? null : f(rows.get(t))]);
    const windows = last.gateway.windows;
    const common = { xMax, now, windows };
    const kinds = faultKinds(windows.map((wd) => wd.kind));
    const faultLegend = kinds.map((k) => [faultColour(k, kinds), `fault: ${k}`]);

    const load = [
      { colour: p.offered, points: series((r) => r.offered), label: "offered" },
      { colour: p.achieved, points: series((r) => r.succeeded), label: "achieved (succeeded)" },
      { colour: p.failed, points: series((r) => r.dropped), label: "dropped" },
      { colour: p.unknown, points: series((r) => (last.in_flight === null ? null : r.in_flight)), label: "in flight", width: 0.8 },
    ];
    const loadMax = niceMax(Math.max(1, ...load.flatMap((s) => s.points.map(([, v]) => v || 0))));
    panel(document.getElementById("ps-chart-load"), { ...common, series: load, yMax: loadMax });
    legend("load", [...load.map((s) => [s.colour, s.label]), ...faultLegend]);

    const slo = last.objectives.find((o) => o.name === "success_rate");
    panel(document.getElementById("ps-chart-success"), {
      ...common, yMax: 100, fmt: (v) => `${v}%`,
      series: [{ colour: p.success, points: settledSeries((r) => (r.success_rate === null ? null : 100 * r.success_rate)) }],
      hlines: slo ? [{ y: 100 * slo.target, colour: "#000" }] : [],
    });
    legend("success", [[p.success, "success rate"], ...(slo ? [["#000", `SLO ≥ ${pct(slo.target, 2)}`]] : []), ...faultLegend]);

    const colours = last.cause_colours;
    const stacks = times.map((t) => [t, Object.entries(rows.get(t).causes).map(([code, n]) => [colours[code] || "#999", n])]);
    const causeMax = niceMax(Math.max(1, ...times.map((t) => Object.values(rows.get(t).causes).reduce((a, b) => a + b, 0))));
    panel(document.getElementById("ps-chart-causes"), { ...common, stacks, yMax: causeMax });
    legend("causes", Object.entries(last.totals.causes).map(([code, n]) => [colours[code], `${code} ${num(n)}`]));

    const lat = [["p50", p.achieved], ["p95", p.unknown], ["p99", p.failed]].map(([q, colour]) => ({
      colour, label: q, points: settledSeries((r) => (r[`${q}_ms`] === "" ? null : r[`${q}_ms`])),
    }));
    const latTargets = last.objectives.filter((o) => o.name.endsWith("_ms"));
    const latValues = lat.flatMap((s) => s.points.map(([, v]) => v)).filter((v) => v > 0);
    const latMax = niceMax(Math.max(10, ...latValues, ...latTargets.map((o) => o.target * 1.2)));
    const useLog = latValues.length && latMax / Math.max(1, Math.min(...latValues)) > 30;
    panel(document.getElementById("ps-chart-latency"), {
      ...common, series: lat, yMax: latMax, log: useLog, yMin: 1, fmt: (v) => `${short(v)}`,
      hlines: latTargets.map((o) => ({ y: o.target, colour: o.name === "p99_ms" ? p.failed : p.unknown })),
    });
    legend("latency", [...lat.map((s) => [s.colour, s.label]), ...latTargets.map((o) => ["#000", `SLO ${o.name} ≤ ${ms(o.target)}`])]);

    const gtimes = [...gateway.keys()].sort((a, b) => a - b);
    const gseries = (f) => gtimes.map((t) => [t, f(gateway.get(t))]);
    const gw = [
      { colour: p.success, label: "in flight", points: gseries((g) => g.inflight) },
      { colour: p.unknown, label: "queued", points: gseries((g) => g.queued) },
    ];
    panel(document.getElementById("ps-chart-gateway"), { ...common, series: gw, yMax: niceMax(Math.max(1, ...gw.flatMap((s) => s.points.map(([, v]) => v)))) });
    legend("gateway", gw.map((s) => [s.colour, s.label]));

    const shed = [{ colour: p.failed, label: "shed /s", points: gseries((g) => g.shed_per_s) }];
    const channels = [...new Set(gtimes.flatMap((t) => Object.keys(gateway.get(t).breakers)))].sort();
    const breakerStacks = [];
    panel(document.getElementById("ps-chart-shed"), {
      ...common, series: shed, stacks: breakerStacks,
      // Room at the top for a band per channel.
      yMax: niceMax((1 + 0.15 * channels.length) * Math.max(1, ...shed[0].points.map(([, v]) => v))),
    });
    drawBreakers(document.getElementById("ps-chart-shed"), channels, gtimes, xMax);
    legend("shed", [[p.failed, "shed /s"], [p.breakers["1"], "breaker half-open"], [p.breakers["2"], "breaker open"]]);
  }

  function drawShape(canvas, s) {
    const kinds = s.faults.map((f) => f.kind);
    const yMax = niceMax(1.15 * Math.max(1, ...s.shape.map(([, v]) => v)));
    panel(canvas, {
      xMax: s.duration_s, yMax,
      windows: s.faults.map((f) => ({ kind: f.kind, start_s: f.start_s, end_s: f.end_s })),
      series: [{ colour: PALETTE_OFFERED, points: s.shape.map(([t, v]) => [t - 0.5, v]), width: 2 }],
    });
    const { ctx } = { ctx: canvas.getContext("2d") };
    s.faults.forEach((f, i) => {
      ctx.fillStyle = faultColour(f.kind, kinds);
      ctx.fillText(f.kind, 44 + ((canvas.clientWidth - 52) * Math.max(0, f.start_s)) / s.duration_s + 2, 16 + 11 * i);
    });
  }

  // ---- chaos: faults listed, added and cleared where the charts are --------------------------
  function showFaults(faults) {
    const table = $("#ps-faults");
    table.replaceChildren(
      h("tr", {}, h("th", {}, "kind"), h("th", {}, "state"), h("th", {}, "window"), h("th", {}, "params"), h("th", {})),
      ...(faults.length ? faults.map((f) => h("tr", { class: f.state, "data-fault": f.id },
        h("td", { class: "kind" }, f.kind),
        h("td", { class: "state" }, f.state),
        h("td", {}, `+${seconds(f.start_in_s || 0)}, ${f.duration_s === null ? "until removed" : `for ${seconds(f.duration_s)}`}`),
        h("td", { class: "params" }, Object.entries(f.params || {}).map(([k, v]) => `${k}=${v}`).join(" "),
          f.target && f.target.route ? ` on ${f.target.route}` : "", f.target && f.target.channel ? ` on ${f.target.channel}` : ""),
        h("td", {}, f.state === "expired" ? "" : h("button", { type: "button", title: `remove ${f.id}`, onclick: () => removeFault(f.id) }, "✕"))))
        : [h("tr", {}, h("td", { colspan: 5, class: "muted" }, "none"))]));
  }

  function showInternals(g) {
    const latest = g.latest;
    $("#ps-internals").replaceChildren(h("h2", {}, "Gateway now"),
      g.error ? h("div", { class: "error" }, g.error) : "",
      latest ? h("div", {}, `queued ${num(latest.queued)} · in flight ${num(latest.inflight)} · shed ${latest.shed_per_s}/s`) : h("div", { class: "muted" }, "sampled while a run goes"),
      latest ? h("div", {}, ...Object.entries(latest.breakers).map(([ch, st]) =>
        h("span", { class: `ps-breaker b${st}`, "data-breaker": ch }, `${ch}: ${["closed", "half-open", "open"][st]}`))) : "");
  }

  function message(text, cls) {
    const el = $("#ps-message");
    el.textContent = text;
    el.className = cls;
  }

  async function send(method, url, body) {
    const resp = await fetch(url, { method, headers: { "Content-Type": "application/json" }, body: body && JSON.stringify(body) });
    let data = null;
    try { data = await resp.json(); } catch (e) { data = null; }
    return { ok: resp.ok, status: resp.status, data };
  }

  async function removeFault(id) {
    const r = await send("DELETE", `./paystorm/faults/${encodeURIComponent(id)}`);
    message(r.ok ? `removed ${id}` : errorText(r), r.ok ? "ok" : "error");
    poll();
  }

  async function clearFaults() {
    const r = await send("DELETE", "./paystorm/faults");
    message(r.ok ? `cleared ${r.data.removed} fault${r.data.removed === 1 ? "" : "s"}` : errorText(r), r.ok ? "ok" : "error");
    poll();
  }

  function errorText(r) {
    const e = r.data && r.data.error;
    if (!e) return `HTTP ${r.status}`;
    const fields = (e.fields || []).map((f) => `${f.field}: ${f.reason || ""}`).join("; ");
    return `${e.message || e.code}${fields ? ` (${fields})` : ""}`;
  }

  // The form of a kind, built from its params' JSON Schema and its example: a kind added to
  // the gateway appears here with no change to this page.
  async function loadKinds() {
    kinds = await (await fetch("./paystorm/kinds")).json();
    const form = $("#ps-add");
    form.replaceChildren(
      h("label", { for: "ps-kind" }, "Kind"),
      h("select", { id: "ps-kind", onchange: () => kindFields() }, kinds.kinds.map((k) => h("option", { value: k.kind }, k.kind))),
      h("div", { class: "wide muted", id: "ps-kind-doc" }),
      h("div", { class: "wide", id: "ps-fields", style: "display:contents" }),
      h("label", { for: "ps-start-in" }, "Start in (s)"),
      h("input", { id: "ps-start-in", type: "number", min: 0, step: "any", value: 0 }),
      h("label", { for: "ps-duration" }, "Duration (s)"),
      h("input", { id: "ps-duration", type: "number", min: 0, step: "any", placeholder: "empty: until removed", value: 30 }),
      h("div", { class: "wide" }, h("button", { id: "ps-add-button", class: "primary", type: "submit" }, "Add fault")));
    form.addEventListener("submit", (ev) => { ev.preventDefault(); addFault(); });
    kindFields();
  }

  function fieldsOf(schema, example, prefix) {
    const out = [];
    for (const [name, prop] of Object.entries(schema.properties || {})) {
      const id = `ps-${prefix}-${name}`;
      const options = prop.enum || (prop.anyOf || []).flatMap((a) => a.enum || []);
      const type = prop.type || (prop.anyOf || []).map((a) => a.type).find((t) => t && t !== "null");
      const value = example && name in example ? example[name] : prop.default;
      const required = (schema.required || []).includes(name);
      let input;
      if (options.length) {
        input = h("select", { id, "data-field": `${prefix}.${name}`, "data-type": "enum" },
          required ? null : h("option", { value: "" }, "—"),
          options.map((o) => h("option", { value: o, selected: o === value }, o)));
      } else if (type === "boolean") {
        input = h("input", { id, type: "checkbox", "data-field": `${prefix}.${name}`, "data-type": "boolean", checked: !!value });
      } else if (type === "number" || type === "integer") {
        input = h("input", { id, type: "number", step: type === "integer" ? 1 : "any", min: prop.minimum, max: prop.maximum,
          "data-field": `${prefix}.${name}`, "data-type": type, value: value ?? "", placeholder: required ? "required" : "" });
      } else if (type === "string") {
        input = h("input", { id, type: "text", "data-field": `${prefix}.${name}`, "data-type": "string", value: value ?? "" });
      } else {
        input = h("input", { id, type: "text", "data-field": `${prefix}.${name}`, "data-type": "json",
          value: value === undefined || value === null ? "" : JSON.stringify(value), placeholder: "JSON" });
      }
      out.push(h("label", { for: id, title: prop.description || "" }, `${prefix === "params" ? "" : "target "}${name}`), input);
    }
    return out;
  }

  function kindFields() {
    const k = kinds.kinds.find((x) => x.kind === $("#ps-kind").value);
    $("#ps-kind-doc").textContent = k.doc;
    $("#ps-fields").replaceChildren(
      ...fieldsOf(k.params, k.example.params, "params"),
      ...fieldsOf(kinds.target, k.example.target || {}, "target"));
  }

  function collect(prefix) {
    const out = {};
    for (const el of root.querySelectorAll(`[data-field^="${prefix}."]`)) {
      const name = el.dataset.field.slice(prefix.length + 1);
      const kind = el.dataset.type;
      el.classList.remove("bad");
      if (kind === "boolean") { out[name] = el.checked; continue; }
      if (el.value === "") continue;
      if (kind === "number" || kind === "integer") out[name] = Number(el.value);
      else if (kind === "json") {
        try { out[name] = JSON.parse(el.value); } catch (e) { out[name] = el.value; }
      } else out[name] = el.value;
    }
    return out;
  }

  async function addFault() {
    const spec = { kind: $("#ps-kind").value, params: collect("params"), target: collect("target") };
    const start = $("#ps-start-in").value, duration = $("#ps-duration").value;
    if (start !== "") spec.start_in_s = Number(start);
    if (duration !== "") spec.duration_s = Number(duration);
    const r = await send("POST", "./paystorm/faults", spec);
    if (r.ok) {
      message(`added ${r.data.kind} (${r.data.id}), ${r.data.state}`, "ok");
    } else {
      message(errorText(r), "error");
      for (const f of (r.data && r.data.error && r.data.error.fields) || []) {
        const el = root.querySelector(`[data-field="${f.field}"]`);
        if (el) el.classList.add("bad");
      }
    }
    poll();
  }

  // ---- go ------------------------------------------------------------------------------------
  showStart(state === "ready");
  loadKinds();
  poll();
  const tick = () => setTimeout(async () => {
    await poll();
    tick();
  }, ["running", "spawning", "cleanup"].includes(state) ? POLL_MS : STOPPED_POLL_MS);
  tick();
  window.addEventListener("resize", drawAll);
})();
