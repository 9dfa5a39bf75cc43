// reason trace explorer: draws the JSON in #reason-data. Every string from the data is written with
// textContent (through el()), never parsed as markup. No network, no libraries.
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("reason-data").textContent);
  const SVG_NS = "http://www.w3.org/2000/svg";
  const XGAP = 270, YGAP = 62, NODE_W = 230, NODE_H = 50;

  function el(tag, attrs) {
    const e = document.createElement(tag);
    for (const key in attrs || {}) {
      const value = attrs[key];
      if (value === undefined || value === null) continue;
      if (key === "class") e.className = value;
      else if (key === "text") e.textContent = String(value);
      else if (key.slice(0, 2) === "on") e.addEventListener(key.slice(2), value);
      else e.setAttribute(key, String(value));
    }
    for (let i = 2; i < arguments.length; i++) {
      const child = arguments[i];
      if (child === undefined || child === null || child === false) continue;
      e.append(child instanceof Node ? child : String(child));
    }
    return e;
  }

  function svg(tag, attrs) {
    const e = document.createElementNS(SVG_NS, tag);
    for (const key in attrs || {}) e.setAttribute(key, String(attrs[key]));
    return e;
  }

  function fmt(value, digits) {
    if (value === undefined || value === null) return "-";
    if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toFixed(digits === undefined ? 3 : digits);
    return String(value);
  }

  function table(headers, rows, onRow) {
    const t = el("table", null, el("tr", null, ...headers.map((h) => el("th", { text: h }))));
    rows.forEach((row, i) => {
      const tr = el("tr", onRow ? { class: "clickable", onclick: () => onRow(i, tr) } : null,
        ...row.map((cell) => (cell instanceof Node ? el("td", null, cell)
          : el("td", { class: typeof cell === "number" ? "num" : null, text: fmt(cell) }))));
      t.append(tr);
    });
    return t;
  }

  function badge(kind, text) { return el("span", { class: "badge " + (kind || ""), text: text || kind }); }

  function verdictBadge(verdict) { return verdict ? badge(verdict, verdict === "pass" ? "pass" : verdict) : "-"; }

  // ---- one search: tree, candidates, samples, ledger ----

  function TreeView(tree, onSelect) {
    const nodes = tree.nodes;
    const byId = new Map();
    nodes.forEach((n) => { n.kids = []; byId.set(n.id, n); });
    nodes.forEach((n) => { if (n.parent !== null && n.parent !== undefined && byId.has(n.parent)) byId.get(n.parent).kids.push(n); });
    const root = nodes.find((n) => n.parent === null || n.parent === undefined) || nodes[0];
    const chosen = new Set(tree.chosen || []);
    const collapsed = new Set();
    const view = { x: 20, y: 20, k: 1 };

    const canvas = el("div", { class: "canvas" });
    const edgeLayer = svg("svg");
    const edges = svg("path", { class: "edge" });
    const chosenEdges = svg("path", { class: "edge chosen" });
    edgeLayer.append(edges, chosenEdges);
    canvas.append(edgeLayer);
    const viewport = el("div", { class: "viewport" }, canvas);

    for (const n of nodes) {
      n.elem = nodeElement(n);
      canvas.append(n.elem);
    }

    function nodeElement(n) {
      const classes = ["node"];
      if (n === root) classes.push("root");
      if (n.terminal) classes.push("terminal");
      if (n.pruned) classes.push("pruned");
      if (n.verdict === "pass" || n.verdict === "fail") classes.push(n.verdict);
      if (chosen.has(n.id)) classes.push("chosen");
      const stats = [];
      if (n.score !== undefined) stats.push("s " + fmt(n.score, 2));
      if (n.value !== undefined && n.value !== n.score) stats.push("v " + fmt(n.value, 2));
      if (n.visits) stats.push("n " + n.visits);
      stats.push((n.tokens || 0) + " tok");
      if (n.cached_tokens) stats.push("c " + n.cached_tokens);
      const head = el("div", { class: "head" });
      if (n.kids.length) {
        head.append(el("button", { class: "toggle", "data-toggle": n.id, title: "collapse / expand", text: "-",
          onclick: (ev) => { ev.stopPropagation(); toggle(n); } }));
      }
      head.append(el("b", { text: n === root ? "prompt" : "#" + n.id }), " " + stats.join(" · "));
      const snippet = n === root ? n.kids.length + " children" : (n.text || "").replace(/\s+/g, " ").trim() || "(empty step)";
      const box = el("div", { class: classes.join(" "), "data-node": n.id, onclick: () => select(n) },
        head, el("div", { class: "snip", text: snippet.slice(0, 160) }),
        n.terminal ? el("div", { class: "ans", text: "→ " + (n.answer === undefined ? "no answer" : n.answer) +
          (n.verdict === "pass" ? "  ✓" : n.verdict === "fail" ? "  ✗" : "") }) : null);
      return box;
    }

    let selected = null;
    function select(n) {
      if (selected) selected.elem.classList.remove("selected");
      selected = n;
      n.elem.classList.add("selected");
      onSelect(n, pathTo(n));
    }

    function pathTo(n) {
      const path = [];
      for (let m = n; m && m !== root; m = byId.get(m.parent)) path.push(m);
      return path.reverse();
    }

    function toggle(n) {
      if (collapsed.has(n.id)) collapsed.delete(n.id); else collapsed.add(n.id);
      n.elem.classList.toggle("collapsed", collapsed.has(n.id));
      n.elem.querySelector("button.toggle").textContent = collapsed.has(n.id) ? "+" : "-";
      layout();
    }

    function setAll(collapse, depth) {
      collapsed.clear();
      for (const n of nodes) {
        const shut = collapse && n.kids.length > 0 && (n.depth || 0) >= depth;
        if (shut) collapsed.add(n.id);
        n.elem.classList.toggle("collapsed", shut);
        const button = n.elem.querySelector("button.toggle");
        if (button) button.textContent = shut ? "+" : "-";
      }
      layout();
    }

    // A tidy layered layout: depth across, leaves down in order, a parent centred on its visible children.
    function layout() {
      for (const n of nodes) n.shown = false;
      let row = 0, maxDepth = 0;
      const stack = [[root, 0]];
      while (stack.length) {
        const [n, state] = stack.pop();
        const open = !collapsed.has(n.id) && n.kids.length > 0;
        if (state === 0) {
          n.shown = true;
          if (open) {
            stack.push([n, 1]);
            for (let i = n.kids.length - 1; i >= 0; i--) stack.push([n.kids[i], 0]);
            continue;
          }
          n.y = row++ * YGAP;
        } else {
          n.y = (n.kids[0].y + n.kids[n.kids.length - 1].y) / 2;
        }
        n.x = (n.depth || 0) * XGAP;
        maxDepth = Math.max(maxDepth, n.depth || 0);
      }
      let plain = "", bold = "";
      for (const n of nodes) {
        n.elem.style.display = n.shown ? "" : "none";
        if (!n.shown) continue;
        n.elem.style.left = n.x + "px";
        n.elem.style.top = n.y + "px";
        const parent = byId.get(n.parent);
        if (!parent || !parent.shown) continue;
        const x0 = parent.x + NODE_W, y0 = parent.y + NODE_H / 2, x1 = n.x, y1 = n.y + NODE_H / 2, mid = (x0 + x1) / 2;
        const d = "M" + x0 + "," + y0 + "C" + mid + "," + y0 + " " + mid + "," + y1 + " " + x1 + "," + y1;
        if (chosen.has(n.id)) bold += d; else plain += d;
      }
      edges.setAttribute("d", plain);
      chosenEdges.setAttribute("d", bold);
      const width = (maxDepth + 1) * XGAP, height = Math.max(row, 1) * YGAP;
      edgeLayer.setAttribute("width", width);
      edgeLayer.setAttribute("height", height);
      canvas.style.width = width + "px";
      canvas.style.height = height + "px";
      view.width = width; view.height = height;
    }

    function apply() { canvas.style.transform = "translate(" + view.x + "px," + view.y + "px) scale(" + view.k + ")"; }

    function fit() {
      const w = viewport.clientWidth || 900, h = viewport.clientHeight || 560;
      // the whole tree when it fits at a legible size; otherwise its start, legible, to pan from
      view.k = Math.max(0.55, Math.min(1, (w - 40) / view.width, (h - 40) / view.height));
      view.x = 20; view.y = 20;
      apply();
    }

    viewport.addEventListener("wheel", (ev) => {
      ev.preventDefault();
      const box = viewport.getBoundingClientRect();
      const cx = ev.clientX - box.left, cy = ev.clientY - box.top;
      const k = Math.max(0.05, Math.min(3, view.k * Math.exp(-ev.deltaY * 0.0015)));
      view.x = cx - (cx - view.x) * (k / view.k);
      view.y = cy - (cy - view.y) * (k / view.k);
      view.k = k;
      apply();
    }, { passive: false });
    let drag = null;
    viewport.addEventListener("pointerdown", (ev) => {
      if (ev.target.closest("button")) return;
      drag = { x: ev.clientX - view.x, y: ev.clientY - view.y, moved: false };
      viewport.classList.add("dragging");
    });
    window.addEventListener("pointermove", (ev) => {
      if (!drag) return;
      view.x = ev.clientX - drag.x; view.y = ev.clientY - drag.y; drag.moved = true;
      apply();
    });
    window.addEventListener("pointerup", () => { drag = null; viewport.classList.remove("dragging"); });

    layout();
    apply();
    const toolbar = el("div", { class: "toolbar" },
      el("button", { text: "fit", onclick: fit }),
      el("button", { text: "100%", onclick: () => { view.k = 1; apply(); } }),
      el("button", { text: "expand all", onclick: () => setAll(false, 0) }),
      el("button", { text: "collapse below depth 2", onclick: () => setAll(true, 2) }),
      el("span", { class: "hint", text: nodes.length + " nodes · drag to pan, wheel to zoom, click a node for its detail" }));
    const legend = el("div", { class: "legend" },
      el("span", { text: "s = PRM score, v = value (shown when it differs from s), n = visits, tok = generated tokens, c = prompt tokens from the prefix cache" }),
      el("span", { text: "orange: chosen path · green/red: answer right/wrong · dashed: pruned" }));
    return { toolbar, viewport, legend, fit, nodes: nodes.length };
  }

  function nodeDetails(n, path) {
    const rows = [["node", n.parent === null || n.parent === undefined ? "root (the prompt)" : "#" + n.id],
      ["depth", n.depth || 0], ["generated tokens", n.tokens || 0], ["prefix-cache hits (prompt tokens)", n.cached_tokens || 0],
      ["PRM score", n.score], ["value", n.value]];
    if (n.visits) rows.push(["visits", n.visits], ["value sum", n.value_sum], ["mean value", (n.value_sum || 0) / n.visits]);
    rows.push(["terminal", n.terminal ? "yes" : "no"], ["pruned", n.pruned ? "yes" : "no"]);
    if (n.terminal) rows.push(["answer", n.answer === undefined ? "no answer" : n.answer]);
    if (n.verdict) rows.push(["verdict", n.verdict]);
    if (n.detail) rows.push(["verifier detail", n.detail]);
    if (n.run !== undefined) rows.push(["from run", n.run]);
    const steps = path.map((m) => "#" + m.id + (m.score !== undefined ? " (s " + fmt(m.score, 2) + ")" : "") + "\n" + (m.text || ""));
    return el("div", null, table(["field", "value"], rows), el("h3", { text: "step text" }), el("pre", { text: n.text || "" }),
      path.length > 1 ? el("details", null, el("summary", { text: "the path to here (" + path.length + " steps)" }),
        el("pre", { text: steps.join("\n\n") })) : null);
  }

  function searchView(s) {
    const box = el("div", { class: "search" });
    box.append(el("h2", null, "Problem ", el("span", { text: s.id })),
      el("pre", { text: s.question }),
      el("div", null,
        el("span", { class: "kv", text: "strategy: " + (s.strategy || "-") + (s.vote ? " (vote: " + s.vote + ")" : "") }),
        el("span", { class: "kv", text: "reference: " + fmt(s.reference) }),
        el("span", { class: "kv", text: "answer: " + (s.answer === null ? "no answer" : s.answer) }),
        badge(s.status)));
    if (s.verdict_detail) box.append(el("div", { class: "kv", text: "verifier: " + s.verdict_detail }));
    box.append(el("h3", { text: "Candidates" }), s.candidates.length
      ? table(["answer", "votes", "score", "verdict"], s.candidates.map((c) => [c.answer, c.votes, c.score, verdictBadge(c.verdict)]))
      : el("div", { class: "kv", text: "no candidate answers" }));
    box.append(el("h3", { text: "Compute" }), table(["spent", "amount"], s.ledger));
    if (s.tree && s.tree.nodes.length) {
      const details = el("div", { class: "details" }, el("div", { class: "empty", text: "Click a node to see its step and scores." }));
      const tree = TreeView(s.tree, (n, path) => details.replaceChildren(nodeDetails(n, path)));
      box.append(el("h3", { text: "Search tree" }), tree.toolbar, el("div", { class: "treebox" }, tree.viewport, details), tree.legend);
      requestAnimationFrame(tree.fit);
    }
    if (s.samples.length) {
      const list = el("div");
      s.samples.forEach((x, i) => list.append(el("details", null,
        el("summary", null, "sample " + i + ": ", el("b", { text: x.answer === null ? "no answer" : x.answer }),
          " · " + fmt(x.tokens) + " tokens · " + x.finish + (x.score !== null && x.score !== undefined ? " · score " + fmt(x.score) : "") + " ",
          x.verdict ? badge(x.verdict) : null),
        x.thinking ? el("details", null, el("summary", { text: "thinking" }), el("pre", { text: x.thinking })) : null,
        el("pre", { text: x.text }))));
      box.append(el("h3", { text: "Samples (" + s.samples.length + ")" }), list);
    }
    if (s.reasoning) box.append(el("h3", { text: "Reasoning shown" }), el("pre", { text: s.reasoning }));
    if (s.trace && Object.keys(s.trace).length) {
      box.append(el("details", null, el("summary", { text: "searcher trace (JSON)" }), el("pre", { text: JSON.stringify(s.trace, null, 2) })));
    }
    return box;
  }

  // ---- a run: summary, filterable problem list ----

  function runView(run) {
    const box = el("div", { class: "run" });
    if (run.summary) box.append(el("h2", { text: "Run: " + run.name }), table(["metric", "value"], run.summary));
    if (run.searches.length === 1 && !run.summary) {
      box.append(searchView(run.searches[0]));
      return box;
    }
    const detail = el("div", { class: "content" }, el("div", { class: "kv", text: "Pick a problem to see its search." }));
    const counts = { all: run.searches.length, correct: 0, wrong: 0, none: 0 };
    run.searches.forEach((s) => { if (counts[s.status] !== undefined) counts[s.status] += 1; });
    let filter = "all", query = "", selected = null;
    const items = run.searches.map((s) => {
      const li = el("li", { "data-status": s.status, "data-problem": s.id },
        el("span", { class: "dot " + s.status }), el("b", { text: s.id }),
        " → " + (s.answer === null ? "no answer" : s.answer) + (s.reference !== null && s.reference !== undefined ? " (ref " + s.reference + ")" : ""),
        el("span", { class: "q", text: s.question }));
      li.addEventListener("click", () => {
        if (selected) selected.classList.remove("selected");
        selected = li; li.classList.add("selected");
        detail.replaceChildren(searchView(s));
      });
      li.searchText = [s.id, s.question, s.answer, s.reference].join("\n").toLowerCase();
      return li;
    });
    const list = el("ul", { class: "problems" }, ...items);
    const buttons = ["all", "correct", "wrong", "none"].map((name) => el("button", {
      "data-filter": name, class: name === "all" ? "on" : "",
      text: (name === "none" ? "no answer" : name) + " (" + counts[name] + ")",
      onclick: () => { filter = name; buttons.forEach((b) => b.classList.toggle("on", b.dataset.filter === name)); apply(); } }));
    const search = el("input", { type: "search", placeholder: "search id, question, answer", oninput: () => { query = search.value.toLowerCase(); apply(); } });
    function apply() {
      items.forEach((li, i) => {
        const s = run.searches[i];
        li.hidden = !((filter === "all" || s.status === filter) && (!query || li.searchText.indexOf(query) >= 0));
      });
    }
    box.append(el("h2", { text: "Problems" }), el("div", { class: "layout" },
      el("div", { class: "sidebar" }, el("div", { class: "filters" }, ...buttons, search), list), detail));
    return box;
  }

  // ---- a sweep: accuracy against generated tokens, one line per strategy ----

  function sweepView(points, onRun) {
    const W = 640, H = 340, L = 56, R = 150, T = 16, B = 42;
    const xs = points.map((p) => p.mean_generated_tokens), ys = points.map((p) => 100 * p.accuracy);
    const xmax = Math.max(1, ...xs) * 1.05, ymax = Math.max(5, ...ys) * 1.1;
    const px = (x) => L + (x / xmax) * (W - L - R), py = (y) => H - B - (y / ymax) * (H - T - B);
    const plot = svg("svg", { class: "plot", width: W, height: H, viewBox: "0 0 " + W + " " + H });
    for (let i = 0; i <= 4; i++) {
      const y = (ymax * i) / 4, x = (xmax * i) / 4;
      plot.append(svg("line", { class: "grid", x1: L, x2: W - R, y1: py(y), y2: py(y) }));
      const ty = svg("text", { x: L - 6, y: py(y) + 4, "text-anchor": "end" }); ty.textContent = y.toFixed(0); plot.append(ty);
      const tx = svg("text", { x: px(x), y: H - B + 16, "text-anchor": "middle" }); tx.textContent = x.toFixed(0); plot.append(tx);
    }
    plot.append(svg("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }), svg("line", { class: "axis", x1: L, x2: L, y1: T, y2: H - B }));
    const xl = svg("text", { x: (L + W - R) / 2, y: H - 6, "text-anchor": "middle" }); xl.textContent = "mean generated tokens per problem"; plot.append(xl);
    const yl = svg("text", { x: 14, y: (T + H - B) / 2, transform: "rotate(-90 14 " + (T + H - B) / 2 + ")", "text-anchor": "middle" });
    yl.textContent = "accuracy (%)"; plot.append(yl);
    const colours = ["#2563eb", "#d97706", "#1a7f37", "#c62828", "#7c3aed", "#0891b2", "#be185d", "#4b5563"];
    const strategies = [...new Set(points.map((p) => p.strategy))];
    strategies.forEach((name, i) => {
      const colour = colours[i % colours.length];
      const line = points.filter((p) => p.strategy === name).sort((a, b) => a.mean_generated_tokens - b.mean_generated_tokens);
      plot.append(svg("polyline", { fill: "none", stroke: colour, "stroke-width": 2,
        points: line.map((p) => px(p.mean_generated_tokens) + "," + py(100 * p.accuracy)).join(" ") }));
      line.forEach((p) => {
        const dot = svg("circle", { cx: px(p.mean_generated_tokens), cy: py(100 * p.accuracy), r: 4.5, fill: colour });
        const tip = svg("title"); tip.textContent = name + " " + JSON.stringify(p.params) + ": " + (100 * p.accuracy).toFixed(1) + "% at " + p.mean_generated_tokens.toFixed(0) + " tokens";
        dot.append(tip); dot.addEventListener("click", () => onRun(p.run)); plot.append(dot);
      });
      const label = svg("text", { x: W - R + 10, y: T + 14 + 16 * i, fill: colour }); label.textContent = name; plot.append(label);
    });
    const rows = points.map((p) => [p.strategy, Object.entries(p.params).map(([k, v]) => k + "=" + JSON.stringify(v)).join(", ") || "-",
      p.budget === null ? "-" : p.budget, Number(p.mean_generated_tokens.toFixed(1)), (100 * p.accuracy).toFixed(1) + "%", p.problems]);
    const t = table(["strategy", "parameters", "budget", "mean generated tokens", "accuracy", "problems"], rows, (i, tr) => {
      t.querySelectorAll("tr.selected").forEach((r) => r.classList.remove("selected"));
      tr.classList.add("selected");
      onRun(points[i].run);
    });
    return el("div", null, el("h2", { text: "Accuracy against compute" }), plot, t,
      el("div", { class: "kv", text: "Click a point or a row to open that run." }));
  }

  function main() {
    const started = performance.now();
    const app = document.getElementById("app");
    const header = el("header", null, el("h1", { text: DATA.title || "reason" }),
      el("div", { class: "sub", text: "reason trace explorer" + (DATA.generated_by ? " · " + DATA.generated_by : "") }));
    const body = el("main");
    app.replaceChildren(header, body);
    if (DATA.sweep && DATA.sweep.length) {
      const runBox = el("div");
      body.append(sweepView(DATA.sweep, (i) => runBox.replaceChildren(runView(DATA.runs[i]))), runBox);
    } else {
      DATA.runs.forEach((run) => body.append(runView(run)));
    }
    document.documentElement.dataset.renderMs = (performance.now() - started).toFixed(1);
  }

  main();
})();
