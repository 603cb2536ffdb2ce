// The review workstation page. Builds the DOM with textContent only (transcript words never
// become markup); talks only to the server it came from (relative URLs under the token).
(function () {
  "use strict";
  const DATA = JSON.parse(document.getElementById("data").textContent);
  const $ = function (id) { return document.getElementById(id); };
  const audio = $("audio");
  const cards = {};
  let order = [];
  let current = -1;
  let STATE = null;
  let stopAt = null;

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  function button(cls, text, title) {
    const b = el("button", cls, text);
    b.type = "button";
    if (title) b.title = title;
    return b;
  }
  function status(msg, bad) {
    const s = $("status");
    s.textContent = msg;
    s.className = bad ? "bad" : "";
  }

  async function api(path, body) {
    const opts = body === undefined ? {} : {
      method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)};
    let r;
    try {
      r = await fetch(path, opts);
    } catch (e) {
      status("The review server is not answering. Start voicenotes review again; your saved decisions are kept.", true);
      throw e;
    }
    const j = await r.json().catch(function () { return {error: "Unexpected answer from the server."}; });
    if (!r.ok) {
      status(j.error || "Something went wrong.", true);
      throw new Error("request failed");
    }
    return j;
  }

  // ------------------------------------------------------------------ audio
  function play(t) {
    if (!DATA.audio || t === null || t === undefined) return;
    audio.currentTime = Math.max(0, t);
    audio.play().catch(function () {});
  }
  if (DATA.audio) {
    audio.src = encodeURIComponent(DATA.audio);
    audio.addEventListener("timeupdate", function () {
      if (stopAt !== null && audio.currentTime >= stopAt) { audio.pause(); stopAt = null; }
    });
  } else {
    audio.hidden = true;
  }

  // ------------------------------------------------------------------ transcript
  function buildTranscript() {
    const box = $("transcript");
    if (!DATA.segments.length) box.appendChild(el("p", "help", "No transcript in this folder."));
    DATA.segments.forEach(function (s) {
      const row = el("p", "seg");
      const t = button("time", s.time || "", "Play from here");
      t.addEventListener("click", function () { play(s.start); });
      row.appendChild(t);
      if (s.speaker) row.appendChild(el("span", "who", s.speaker.charAt(0).toUpperCase() + s.speaker.slice(1) + ":"));
      const span = el("span", "text");
      span.dataset.seg = s.i;
      row.appendChild(span);
      s.pieces.forEach(function (p) {
        if (!p.items.length) { span.appendChild(document.createTextNode(p.text)); return; }
        const m = el("mark", "t-" + (p.type || "").toLowerCase(), p.text);
        m.dataset.items = p.items.join(" ");
        m.addEventListener("click", function () {
          if (window.getSelection().isCollapsed) select(order.indexOf(p.items[0]), true);
        });
        span.appendChild(m);
      });
      if (s.verify) row.appendChild(el("span", "badge verify", "verify audio"));
      box.appendChild(row);
    });
  }

  // ------------------------------------------------------------------ items
  function buildCard(item) {
    const c = el("div", "card" + (item.risk ? " risk" : ""));
    c.dataset.itemId = item.id;
    const head = el("div", "head");
    head.appendChild(el("span", "label", item.label));
    if (item.qualifiers.length) head.appendChild(el("span", "quals", " (" + item.qualifiers.join("; ") + ")"));
    if (item.verify) head.appendChild(el("span", "badge verify", "verify audio"));
    if (item.source === "clinician") head.appendChild(el("span", "badge added", "added by you"));
    c.appendChild(head);
    const q = el("div", "quote", "“" + item.quote + "” ");
    const t = button("time", item.time, "Play this passage");
    q.appendChild(t);
    c.appendChild(q);
    c.appendChild(el("div", "decision"));
    const bar = el("div", "buttons");
    const acc = button("accept", "Accept", "A");
    const edit = button("edit", "Edit", "E");
    const rej = button("reject", "Reject", "R");
    const undo = button("undo", "Undo");
    [acc, edit, rej, undo].forEach(function (b) { bar.appendChild(b); });
    c.appendChild(bar);
    const ebox = el("div", "edit-box");
    ebox.hidden = true;
    const ta = el("textarea");
    ta.rows = 2;
    const save = button("save-edit", "Save wording");
    ebox.appendChild(ta); ebox.appendChild(save);
    c.appendChild(ebox);
    const rbox = el("div", "reject-box");
    rbox.hidden = true;
    const reason = el("input");
    reason.placeholder = "Why is this item wrong? (required)";
    const conf = button("confirm-reject", "Reject with this reason");
    conf.disabled = true;
    rbox.appendChild(reason); rbox.appendChild(conf);
    c.appendChild(rbox);

    c.addEventListener("click", function (ev) {
      if (ev.target.closest("button, input, textarea")) return;
      select(order.indexOf(item.id), false);
      play(item.t_start);
    });
    t.addEventListener("click", function () { select(order.indexOf(item.id), false); play(item.t_start); });
    acc.addEventListener("click", function () { decide(item, {status: "accepted"}); });
    edit.addEventListener("click", function () { openEdit(item); });
    rej.addEventListener("click", function () { openReject(item); });
    undo.addEventListener("click", function () { decide(item, {status: null}); });
    save.addEventListener("click", function () {
      if (ta.value.trim()) decide(item, {status: "edited", edited_text: ta.value});
    });
    reason.addEventListener("input", function () { conf.disabled = !reason.value.trim(); });
    reason.addEventListener("keydown", function (ev) { if (ev.key === "Enter" && reason.value.trim()) conf.click(); });
    conf.addEventListener("click", function () { decide(item, {status: "rejected", reason: reason.value}); });
    cards[item.id] = c;
    return c;
  }
  function openEdit(item) {
    const c = cards[item.id];
    const box = c.querySelector(".edit-box");
    const ta = box.querySelector("textarea");
    const d = STATE && STATE.decisions[item.id];
    ta.value = d && d.edited_text ? d.edited_text : item.label + (item.qualifiers.length ? " (" + item.qualifiers.join("; ") + ")" : "");
    c.querySelector(".reject-box").hidden = true;
    box.hidden = false;
    ta.focus();
  }
  function openReject(item) {
    const c = cards[item.id];
    c.querySelector(".edit-box").hidden = true;
    const box = c.querySelector(".reject-box");
    box.hidden = false;
    box.querySelector("input").focus();
  }
  async function decide(item, body) {
    body.id = item.id;
    const st = await api("api/decide", body);
    applyState(st);
    status("Saved.");
    if (body.status && order.indexOf(item.id) === current) next(1, true);
  }

  function sections() {
    const byType = {};
    DATA.items.forEach(function (i) { (byType[i.type] = byType[i.type] || []).push(i); });
    const types = Object.keys(DATA.type_labels).filter(function (t) { return byType[t]; });
    Object.keys(byType).forEach(function (t) { if (types.indexOf(t) < 0) types.push(t); });
    return types.map(function (t) { return {type: t, title: DATA.type_labels[t] || t, items: byType[t]}; });
  }
  function buildItems() {
    const box = $("items");
    if (!DATA.items.length) box.appendChild(el("p", "help", "No items were found."));
    sections().forEach(function (s) {
      const sec = el("section", "group" + (s.items[0].risk ? " risk" : ""));
      sec.dataset.type = s.type;
      const h = el("h3", null, s.title + " (" + s.items.length + ")");
      sec.appendChild(h);
      if (!s.items[0].risk) {
        const bulk = button("bulk", "Accept the undecided", "Accept every item of this section that has no decision yet");
        bulk.addEventListener("click", async function () {
          const ids = s.items.filter(function (i) { return !STATE.decisions[i.id]; }).map(function (i) { return i.id; });
          if (!ids.length) return;
          applyState(await api("api/bulk", {ids: ids}));
          status("Accepted " + ids.length + " item(s).");
        });
        h.appendChild(bulk);
      } else {
        h.appendChild(el("span", "help", " — each risk item needs its own decision"));
      }
      s.items.forEach(function (i) { sec.appendChild(buildCard(i)); order.push(i.id); });
      box.appendChild(sec);
    });
  }

  function select(i, playIt) {
    if (i < 0 || i >= order.length) return;
    if (current >= 0) cards[order[current]].classList.remove("current");
    current = i;
    const c = cards[order[i]];
    c.classList.add("current");
    c.scrollIntoView({block: "nearest"});
    document.querySelectorAll("mark.current").forEach(function (m) { m.classList.remove("current"); });
    document.querySelectorAll('mark[data-items~="' + order[i] + '"]').forEach(function (m) { m.classList.add("current"); });
    if (playIt) play(DATA.items.find(function (x) { return x.id === order[i]; }).t_start);
  }
  function next(step, undecidedOnly) {
    let i = current;
    for (let n = 0; n < order.length; n++) {
      i += step;
      if (i < 0 || i >= order.length) return;
      if (!undecidedOnly || !STATE.decisions[order[i]]) { select(i, false); return; }
    }
  }

  // ------------------------------------------------------------------ state
  const WORDS = {accepted: "Accepted", edited: "Edited", rejected: "Rejected"};
  function applyState(st) {
    STATE = st;
    DATA.items.forEach(function (i) {
      const c = cards[i.id];
      const d = st.decisions[i.id];
      c.classList.remove("accepted", "edited", "rejected");
      const line = c.querySelector(".decision");
      if (d) {
        c.classList.add(d.status);
        line.textContent = WORDS[d.status] + (d.status === "edited" ? ": " + d.edited_text : d.status === "rejected" ? ": " + d.reason : "");
        c.querySelector(".edit-box").hidden = true;
        c.querySelector(".reject-box").hidden = true;
      } else {
        line.textContent = i.risk ? "Needs a decision" : "";
      }
      c.dataset.status = d ? d.status : "";
    });
    const risk = DATA.items.filter(function (i) { return i.risk; });
    const done = risk.filter(function (i) { return st.decisions[i.id]; }).length;
    $("progress").textContent = done + " of " + risk.length + " risk items decided · " +
      Object.keys(st.decisions).length + " of " + DATA.items.length + " items";
    const blk = $("blockers");
    blk.textContent = "";
    if (!st.signed && st.blockers.length) blk.appendChild(el("p", "help", "Before signing: " + st.blockers.join("; ") + "."));
    $("sign").disabled = !!st.signed || st.blockers.length > 0;
    $("amend").hidden = !st.signed;
    document.body.classList.toggle("signed", !!st.signed);
    document.querySelectorAll("#items button, #clin input, #clin textarea, #template, #swap").forEach(function (b) { b.disabled = !!st.signed; });
    document.querySelectorAll(".time").forEach(function (b) { b.disabled = false; });
    document.querySelectorAll(".reject-box").forEach(function (box) {
      box.querySelector("button").disabled = !!st.signed || !box.querySelector("input").value.trim();
    });
    const box = $("signed-box");
    box.textContent = "";
    if (st.signed) {
      box.appendChild(el("p", "ok", "Signed " + st.signed.signed_at.replace("T", " ").slice(0, 16) + " UTC. This version is read-only."));
      box.appendChild(el("p", "help", "Files in the session folder: " + Object.keys(st.signed.files).join(", ")));
    }
    refreshPreview();
  }
  function fillForm(c) {
    document.querySelectorAll('#clin input[name="risk_level"]').forEach(function (r) { r.checked = r.value === c.risk_level; });
    ["rationale", "narrative", "name", "credentials", "date"].forEach(function (k) { $("f-" + k).value = c[k] || ""; });
    if (!c.date) $("f-date").value = new Date().toISOString().slice(0, 10);
    $("f-attestation").checked = !!c.attestation;
  }
  let pending = {};
  let timer = null;
  function fieldChanged(ev) {
    const f = ev.target.dataset.field;
    if (!f) return;
    pending[f] = ev.target.type === "checkbox" ? ev.target.checked : ev.target.value;
    clearTimeout(timer);
    timer = setTimeout(saveFields, ev.type === "change" ? 0 : 400);
  }
  async function saveFields() {
    const fields = pending;
    pending = {};
    if (!Object.keys(fields).length) return;
    applyState(await api("api/clinician", {fields: fields}));
    status("Saved.");
  }

  // ------------------------------------------------------------------ preview and copy
  let previewSeq = 0;
  async function refreshPreview() {
    const seq = ++previewSeq;
    const p = await api("api/preview?template=" + encodeURIComponent($("template").value));
    if (seq !== previewSeq) return;
    const box = $("preview");
    box.textContent = "";
    let list = null;
    p.blocks.forEach(function (b) {
      const kind = b[0], text = b[1];
      if (kind === "li") {
        if (!list) { list = el("ul"); box.appendChild(list); }
        list.appendChild(el("li", null, text));
        return;
      }
      list = null;
      const tag = {title: "h3", h1: "h4", h2: "h5", banner: "p", footer: "p", p: "p"}[kind] || "p";
      box.appendChild(el(tag, "pv-" + kind, text));
    });
    $("copy-text").value = p.text;
  }
  async function copyNote() {
    await refreshPreview();
    const text = $("copy-text").value;
    try {
      await navigator.clipboard.writeText(text);
    } catch (e) {
      const ta = $("copy-text");
      ta.select();
      document.execCommand("copy");
    }
    status("The note is on the clipboard as plain text.");
  }

  // ------------------------------------------------------------------ selection tools
  let picked = null;
  function onSelect() {
    const sel = window.getSelection();
    if (!sel.rangeCount || sel.isCollapsed) return;
    const r = sel.getRangeAt(0);
    const host = function (n) { return (n.nodeType === 3 ? n.parentElement : n).closest(".text"); };
    const a = host(r.startContainer);
    if (!a || a !== host(r.endContainer)) return;
    const pre = document.createRange();
    pre.selectNodeContents(a);
    pre.setEnd(r.startContainer, r.startOffset);
    const full = a.textContent;
    let s0 = pre.toString().length, e0 = s0 + r.toString().length;
    while (s0 < e0 && /\s/.test(full[s0])) s0++;
    while (e0 > s0 && /\s/.test(full[e0 - 1])) e0--;
    if (e0 <= s0) return;
    picked = {segment: Number(a.dataset.seg), start: s0, end: e0};
    $("sel-text").textContent = full.slice(s0, e0);
    $("sel-correct").value = full.slice(s0, e0);
    $("sel-tools").hidden = !!(STATE && STATE.signed);
  }
  function fillSelect(id, values, labelOf) {
    values.forEach(function (v) { const o = el("option", null, labelOf ? labelOf(v) : v); o.value = v; $(id).appendChild(o); });
  }
  function buildTools() {
    fillSelect("sel-type", Object.keys(DATA.type_labels), function (t) { return DATA.type_labels[t]; });
    fillSelect("sel-polarity", DATA.attributes.polarity);
    fillSelect("sel-experiencer", DATA.attributes.experiencer, function (v) { return "about " + v; });
    fillSelect("sel-temporality", DATA.attributes.temporality);
    $("transcript").addEventListener("mouseup", onSelect);
    $("transcript").addEventListener("keyup", onSelect);
    $("add-item").addEventListener("click", async function () {
      if (!picked) return;
      await api("api/add", Object.assign({type: $("sel-type").value, polarity: $("sel-polarity").value,
        experiencer: $("sel-experiencer").value, temporality: $("sel-temporality").value}, picked));
      location.reload();
    });
    $("correct-words").addEventListener("click", async function () {
      if (!picked || !$("sel-correct").value.trim()) return;
      await api("api/correct", Object.assign({text: $("sel-correct").value}, picked));
      location.reload();
    });
    $("swap").addEventListener("click", async function () {
      await api("api/swap", {});
      location.reload();
    });
  }

  // ------------------------------------------------------------------ keyboard
  function onKey(ev) {
    const tag = (ev.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select") {
      if (ev.key === "Escape") ev.target.blur();
      return;
    }
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const item = current >= 0 ? DATA.items.find(function (x) { return x.id === order[current]; }) : null;
    const k = ev.key;
    if (k === "j" || k === "ArrowDown") { next(1, false); ev.preventDefault(); }
    else if (k === "k" || k === "ArrowUp") { next(-1, false); ev.preventDefault(); }
    else if (k === " ") { if (audio.paused) audio.play().catch(function () {}); else audio.pause(); ev.preventDefault(); }
    else if (k === "ArrowLeft") { audio.currentTime = Math.max(0, audio.currentTime - 5); audio.play().catch(function () {}); ev.preventDefault(); }
    else if (item && !STATE.signed && k === "a") { decide(item, {status: "accepted"}); }
    else if (item && !STATE.signed && k === "e") { openEdit(item); ev.preventDefault(); }
    else if (item && !STATE.signed && k === "r") { openReject(item); ev.preventDefault(); }
  }

  // ------------------------------------------------------------------ start
  async function start() {
    DATA.templates.forEach(function (t) { const o = el("option", null, t); o.value = t; $("template").appendChild(o); });
    buildTranscript();
    buildItems();
    buildTools();
    const st = await api("api/state");
    $("template").value = st.template;
    fillForm(st.clinician);
    applyState(st);
    if (!st.clinician.date && !st.signed) { pending.date = $("f-date").value; saveFields(); }
    if (order.length) select(0, false);
    $("clin").addEventListener("input", fieldChanged);
    $("clin").addEventListener("change", fieldChanged);
    $("template").addEventListener("change", async function () {
      applyState(await api("api/template", {template: $("template").value}));
    });
    $("sign").addEventListener("click", async function () {
      await saveFields();
      $("sign").disabled = true;
      const st2 = await api("api/sign", {template: $("template").value});
      applyState(st2);
      status("Signed. The note and its exports are in the session folder.");
    });
    $("amend").addEventListener("click", async function () {
      const st2 = await api("api/amend", {});
      fillForm(st2.clinician);
      applyState(st2);
      status("Amendment opened: a new version; the signed one is kept.");
    });
    $("copy").addEventListener("click", copyNote);
    document.addEventListener("keydown", onKey);
    setInterval(function () { api("api/state").then(function (s) { STATE = s; }).catch(function () {}); }, DATA.ping_s * 1000);
    document.body.dataset.ready = "1";
  }
  start();
})();
