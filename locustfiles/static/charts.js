// paystorm's charts for the web UI: one canvas panel of seconds against a linear or log
// axis, with fault windows shaded under lines or stacked bars, and breaker bands. Plain
// canvas, no library, nothing loaded from anywhere: live.js draws with window.paystormCharts.
"use strict";
(() => {
  const LEFT = 44, RIGHT = 8, TOP = 6, BOTTOM = 16;

  function faultKinds(kinds) { return [...new Set(kinds)].sort(); }
  // A colour per fault kind, by sorted kind, as contract/palette.py's fault_colours.
  function faultColour(kind, all, faultPalette) {
    return faultPalette[faultKinds(all).indexOf(kind) % faultPalette.length];
  }

  function setup(canvas) {
    const ratio = window.devicePixelRatio || 1;
    const w = canvas.clientWidth, hgt = canvas.clientHeight;
    if (canvas.width !== Math.round(w * ratio)) canvas.width = Math.round(w * ratio);
    if (canvas.height !== Math.round(hgt * ratio)) canvas.height = Math.round(hgt * ratio);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, w, hgt);
    ctx.font = "10px system-ui, sans-serif";
    return { ctx, w, h: hgt };
  }

  // One panel: x in seconds, y linear or log; series drawn as lines or stacked bars.
  function panel(canvas, opts) {
    const faultPalette = opts.faultPalette || ["#9467bd"];
    const { ctx, w, h: hgt } = setup(canvas);
    const left = LEFT, right = RIGHT, top = TOP, bottom = BOTTOM;
    const pw = w - left - right, ph = hgt - top - bottom;
    const xMax = Math.max(opts.xMax || 1, 1);
    let yMax = opts.yMax;
    const yMin = opts.log ? opts.yMin || 1 : 0;
    const y = (v) => {
      if (opts.log) {
        const lv = Math.log10(Math.max(v, yMin));
        return top + ph - (ph * (lv - Math.log10(yMin))) / (Math.log10(yMax) - Math.log10(yMin));
      }
      return top + ph - (ph * v) / yMax;
    };
    const x = (t) => left + (pw * t) / xMax;
    // fault windows first, under everything
    const kindsSeen = (opts.windows || []).map((wd) => wd.kind);
    for (const wd of opts.windows || []) {
      const a = Math.max(0, wd.start_s), b = wd.end_s === null ? opts.now : wd.end_s;
      if (b <= 0 || a >= xMax) continue;
      ctx.fillStyle = faultColour(wd.kind, kindsSeen, faultPalette);
      ctx.globalAlpha = 0.18;
      ctx.fillRect(x(a), top, Math.max(1, x(Math.min(b, xMax)) - x(a)), ph);
      ctx.globalAlpha = 1;
    }
    // axes and grid
    ctx.strokeStyle = "#ddd";
    ctx.fillStyle = "#555";
    ctx.lineWidth = 1;
    const ticks = opts.log ? logTicks(yMin, yMax) : linTicks(yMax);
    for (const v of ticks) {
      ctx.beginPath(); ctx.moveTo(left, y(v)); ctx.lineTo(left + pw, y(v)); ctx.stroke();
      ctx.fillText(opts.fmt ? opts.fmt(v) : short(v), 2, y(v) + 3);
    }
    for (const t of linTicks(xMax, 8)) ctx.fillText(`${t}s`, x(t) - 6, hgt - 3);
    if (opts.now !== undefined && opts.now <= xMax) {
      ctx.strokeStyle = "#999"; ctx.setLineDash([2, 3]);
      ctx.beginPath(); ctx.moveTo(x(opts.now), top); ctx.lineTo(x(opts.now), top + ph); ctx.stroke();
      ctx.setLineDash([]);
    }
    for (const line of opts.hlines || []) {
      ctx.strokeStyle = line.colour; ctx.setLineDash([5, 4]);
      ctx.beginPath(); ctx.moveTo(left, y(line.y)); ctx.lineTo(left + pw, y(line.y)); ctx.stroke();
      ctx.setLineDash([]);
    }
    if (opts.stacks) {
      const bw = Math.max(1, pw / xMax - 1);
      for (const [t, parts] of opts.stacks) {
        let base = 0;
        for (const [colour, v] of parts) {
          ctx.fillStyle = colour;
          ctx.fillRect(x(t), y(base + v), bw, y(base) - y(base + v));
          base += v;
        }
      }
    }
    for (const s of opts.series || []) {
      ctx.strokeStyle = s.colour; ctx.lineWidth = s.width || 1.4;
      ctx.beginPath();
      let pen = false;
      for (const [t, v] of s.points) {
        if (v === null || v === undefined) { pen = false; continue; }
        const px = x(t + 0.5), py = y(Math.min(v, yMax));
        if (pen) ctx.lineTo(px, py); else ctx.moveTo(px, py);
        pen = true;
      }
      ctx.stroke();
    }
    ctx.lineWidth = 1;
  }
  function linTicks(max, count = 4) {
    const raw = max / count, mag = 10 ** Math.floor(Math.log10(raw || 1));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || mag;
    const out = [];
    for (let v = 0; v <= max + 1e-9; v += step) out.push(Math.round(v * 1000) / 1000);
    return out;
  }
  function logTicks(min, max) {
    const out = [];
    for (let e = Math.floor(Math.log10(min)); 10 ** e <= max; e++) if (10 ** e >= min) out.push(10 ** e);
    return out;
  }
  function short(v) { return v >= 1000 ? `${(v / 1000).toLocaleString("en")}k` : String(v); }
  function niceMax(v) {
    const mag = 10 ** Math.floor(Math.log10(v));
    return [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10].map((m) => m * mag).find((s) => s >= v) || v;
  }

  // Breakers as bands along the top of a panel, one row per channel, named at left;
  // stateAt(t, channel) is 0 closed, 1 half-open, 2 open.
  function drawBreakers(canvas, channels, times, xMax, stateAt, colours) {
    const ctx = canvas.getContext("2d");
    const pw = canvas.clientWidth - LEFT - RIGHT, band = 9;
    channels.forEach((ch, i) => {
      const yb = 8 + i * (band + 2);
      for (const t of times) {
        const st = stateAt(t, ch);
        if (!st) continue;
        ctx.fillStyle = colours[String(st)];
        ctx.fillRect(LEFT + (pw * t) / xMax, yb, Math.max(1, pw / xMax), band);
      }
      ctx.fillStyle = "#333";
      ctx.fillText(ch, LEFT + 3, yb + band - 1);
    });
  }

  window.paystormCharts = { panel, niceMax, short, faultKinds, faultColour, drawBreakers };
})();
