// The playground page: shows what the workspace holds (GET /ui/state, long poll) and sends what you do
// (POST /ui/...) — the server turns it into signed Slack requests to costbot. No framework, no build step.
"use strict";

const EMOJI = {
  white_check_mark: "✅", zzz: "💤", x: "❌", warning: "⚠️", red_circle: "🔴", no_entry: "⛔",
  large_yellow_circle: "🟡", label: "🏷️", hourglass: "⌛", bulb: "💡", arrow_down_small: "🔽", arrow_up_small: "🔼",
  white_circle: "⚪", rotating_light: "🚨", raised_hand: "✋", no_entry_sign: "🚫", moneybag: "💰",
  large_green_circle: "🟢", handshake: "🤝", gear: "⚙️", clock3: "🕒", calendar: "📅", chart_with_upwards_trend: "📈",
  information_source: "ℹ️", tada: "🎉", mag: "🔍",
};

const ui = {
  state: null, person: null, view: null, tab: "messages", seen: {}, seq: -1,
  el: (id) => document.getElementById(id),
};

function esc(text) {
  return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function unescapeSlack(text) {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

function personName(id) {
  const p = ui.state && ui.state.people.find((q) => q.id === id);
  if (p) return p.name;
  if (ui.state && id === ui.state.bot.id) return ui.state.bot.name;
  return id;
}

function channelName(id) {
  const c = ui.state && ui.state.channels.find((q) => q.id === id);
  return c ? c.name : id;
}

// Slack mrkdwn -> HTML: <...> control sequences first (mentions, channels, links), then the entities Slack
// escapes, then *bold* _italic_ ~strike~ `code` ```pre``` > quotes and :emoji:. Everything else is escaped.
function mrkdwn(source) {
  const tokens = [];
  const keep = (html) => { tokens.push(html); return "\u0000" + (tokens.length - 1) + "\u0000"; };
  let text = String(source || "").replace(/<([^<>\n]+)>/g, (_, inner) => {
    const [target, label] = inner.split("|", 2);
    if (target.startsWith("@")) return keep(`<span class="mention">@${esc(personName(target.slice(1)))}</span>`);
    if (target.startsWith("#")) return keep(`<span class="mention">#${esc(label || channelName(target.slice(1)))}</span>`);
    if (target.startsWith("!date^")) return keep(esc(unescapeSlack(label || target)));
    if (target.startsWith("!")) return keep(`<span class="mention">@${esc(label || target.slice(1))}</span>`);
    if (/^(https?:|mailto:)/.test(target)) {
      return keep(`<a href="${esc(target)}" target="_blank" rel="noopener noreferrer">${esc(unescapeSlack(label || target))}</a>`);
    }
    return keep(esc(unescapeSlack(inner)));
  });
  text = esc(unescapeSlack(text));
  text = text.replace(/```([\s\S]*?)```/g, (_, code) => keep(`<pre><code>${code.replace(/^\n/, "")}</code></pre>`));
  text = text.replace(/`([^`\n]+)`/g, (_, code) => keep(`<code>${code}</code>`));
  text = text.replace(/(^|[\s(])\*([^*\n]+)\*(?=$|[\s).,:;!?])/gm, "$1<strong>$2</strong>");
  text = text.replace(/(^|[\s(])_([^_\n]+)_(?=$|[\s).,:;!?])/gm, "$1<em>$2</em>");
  text = text.replace(/(^|[\s(])~([^~\n]+)~(?=$|[\s).,:;!?])/gm, "$1<s>$2</s>");
  text = text.replace(/:([a-z0-9_+-]+):/g, (all, name) => EMOJI[name] || all);
  text = text.replace(/^&gt; ?(.*)$/gm, "<blockquote>$1</blockquote>");
  text = text.replace(/\n/g, "<br>");
  return text.replace(/\u0000(\d+)\u0000/g, (_, n) => tokens[Number(n)]);
}

function textObject(obj) {
  if (!obj) return "";
  return obj.type === "mrkdwn" ? mrkdwn(obj.text) : esc(obj.text).replace(/\n/g, "<br>");
}

function node(tag, cls, html) {
  const el = document.createElement(tag);
  if (cls) el.className = cls;
  if (html !== undefined) el.innerHTML = html;
  return el;
}

function button(element, where) {
  const b = node("button", "btn" + (element.style ? " " + element.style : ""), textObject(element.text));
  b.type = "button";
  b.dataset.actionId = element.action_id;
  b.addEventListener("click", async () => {
    if (element.confirm && !(await confirmed(element.confirm))) return;
    b.disabled = true;
    try {
      await send("/ui/action", { ...where(), action_id: element.action_id, block_id: b.closest("[data-block-id]").dataset.blockId });
    } finally {
      setTimeout(() => { b.disabled = false; }, 600);
    }
  });
  return b;
}

function renderBlocks(blocks, where) {
  const out = document.createDocumentFragment();
  for (const block of blocks || []) {
    const el = node("div", "block block-" + block.type);
    el.dataset.blockId = block.block_id || "";
    if (block.type === "header") {
      el.classList.add("block-header");
      el.innerHTML = textObject(block.text);
    } else if (block.type === "section") {
      el.classList.add("section");
      const content = node("div", "content");
      if (block.text) content.appendChild(node("div", "text", textObject(block.text)));
      if (block.fields) {
        const fields = node("div", "fields");
        for (const f of block.fields) fields.appendChild(node("div", "text", textObject(f)));
        content.appendChild(fields);
      }
      el.appendChild(content);
      if (block.accessory && block.accessory.type === "button") el.appendChild(button(block.accessory, where));
      if (block.accessory && block.accessory.type === "image") {
        const img = node("img");
        img.src = block.accessory.image_url; img.alt = block.accessory.alt_text || ""; img.width = 72;
        el.appendChild(img);
      }
    } else if (block.type === "context") {
      el.classList.add("context");
      for (const e of block.elements || []) {
        if (e.type === "image") {
          const img = node("img"); img.src = e.image_url; img.alt = e.alt_text || ""; img.width = 16; el.appendChild(img);
        } else {
          el.appendChild(node("span", "text", textObject(e)));
        }
      }
    } else if (block.type === "divider") {
      el.appendChild(node("hr", "divider"));
    } else if (block.type === "image") {
      el.classList.add("blockimg");
      if (block.title) el.appendChild(node("div", "file-title", textObject(block.title)));
      const img = node("img"); img.src = block.image_url; img.alt = block.alt_text || ""; el.appendChild(img);
    } else if (block.type === "actions") {
      el.classList.add("actions");
      for (const e of block.elements || []) if (e.type === "button") el.appendChild(button(e, where));
    } else {
      el.appendChild(node("div", "text", `<em>(a ${esc(block.type)} block)</em>`));
    }
    out.appendChild(el);
  }
  return out;
}

function confirmed(c) {
  const dialog = ui.el("confirm");
  ui.el("confirm-title").innerHTML = textObject(c.title);
  ui.el("confirm-text").innerHTML = textObject(c.text);
  ui.el("confirm-ok").innerHTML = textObject(c.confirm) || "Yes";
  ui.el("confirm-deny").innerHTML = textObject(c.deny) || "Cancel";
  ui.el("confirm-ok").className = c.style === "danger" ? "primary danger" : "primary";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
    ui.el("confirm-ok").focus();
  });
}

function visible(m) {
  return m.channel === ui.view && (!m.ephemeral_to || m.ephemeral_to === ui.person);
}

function renderMessage(m) {
  const bot = m.user === ui.state.bot.id;
  const el = node("article", "msg" + (m.ephemeral_to ? " ephemeral" : ""));
  el.dataset.ts = m.ts;
  const avatar = node("div", "avatar" + (bot ? " bot" : ""), bot ? "$" : esc(personName(m.user).slice(0, 1).toUpperCase()));
  avatar.setAttribute("aria-hidden", "true");
  const body = node("div", "body");
  const when = new Date(Number(m.ts) * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  let head = `<span class="who">${esc(personName(m.user))}</span>` + (bot ? '<span class="app-tag">APP</span>' : "")
    + `<span class="when">${esc(when)}</span>` + (m.edited ? ' <span class="edited">(edited)</span>' : "");
  if (m.ephemeral_to) head = '<span class="only-you">👁 Only visible to you</span>' + head;
  body.appendChild(node("div", "head", head));
  if (m.text && (!m.blocks || !m.blocks.length || m.files.length)) body.appendChild(node("div", "text", mrkdwn(m.text)));
  body.appendChild(renderBlocks(m.blocks, () => ({ user: ui.person, channel: m.channel, ts: m.ts })));
  for (const f of m.files || []) {
    const box = node("figure", "file");
    box.appendChild(node("figcaption", "file-title", esc(f.title)));
    const img = node("img"); img.src = f.url; img.alt = f.title; img.loading = "lazy";
    box.appendChild(img);
    body.appendChild(box);
  }
  el.append(avatar, body);
  return el;
}

function renderSidebar() {
  const list = ui.el("channels");
  list.replaceChildren();
  const dm = ui.state.dms[ui.person];
  const convos = ui.state.channels.map((c) => ({ id: c.id, label: "# " + c.name }));
  for (const c of convos) list.appendChild(sideItem(c.id, c.label));
  const apps = ui.el("apps");
  apps.replaceChildren(sideItem(dm, "$ costbot"));
  ui.el("calls").replaceChildren(...ui.state.calls.slice().reverse().map((m) => node("li", "", esc(m))));
}

function unread(id) {
  const count = ui.state.messages.filter((m) => m.channel === id && (!m.ephemeral_to || m.ephemeral_to === ui.person)).length;
  const seen = ui.seen[ui.person + id] || 0;
  return id === ui.view ? 0 : Math.max(0, count - seen);
}

function sideItem(id, label) {
  const li = node("li");
  const b = node("button", "", esc(label));
  b.type = "button";
  b.dataset.conversation = id;
  if (id === ui.view) b.setAttribute("aria-current", "true");
  const n = unread(id);
  if (n) b.appendChild(node("span", "badge", String(n)));
  b.addEventListener("click", () => {
    ui.view = id; ui.tab = "messages"; ui.jump = true; render(); if (isDm()) openHomeIfNeeded();
  });
  li.appendChild(b);
  return li;
}

function isDm() { return ui.view === ui.state.dms[ui.person]; }

function render() {
  if (!ui.state) return;
  const dm = ui.state.dms[ui.person];
  if (!ui.view || (ui.view.startsWith("D") && ui.view !== dm)) ui.view = ui.view && ui.view.startsWith("D") ? dm : ui.state.channels[0].id;
  const p = ui.state.people.find((q) => q.id === ui.person);
  ui.el("person-role").textContent = p ? `${p.id} · ${p.role}` : "";
  ui.el("title").textContent = isDm() ? "costbot" : "#" + channelName(ui.view);
  ui.el("box").placeholder = isDm() ? "Message costbot — try /cost help" : `Message #${channelName(ui.view)} — try /cost team-ml last-week`;
  ui.el("tabs").hidden = !isDm();
  const home = isDm() && ui.tab === "home";
  ui.el("tab-home").setAttribute("aria-selected", String(home));
  ui.el("tab-messages").setAttribute("aria-selected", String(!home));
  ui.el("home").hidden = !home;
  ui.el("messages").hidden = home;
  ui.el("composer").hidden = home;
  const shown = ui.state.messages.filter(visible);
  ui.seen[ui.person + ui.view] = shown.length;
  renderSidebar();
  if (home) {
    renderHome();
    return;
  }
  const box = ui.el("messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  box.replaceChildren(...shown.map(renderMessage));
  if (!shown.length) box.appendChild(node("p", "empty", "Nothing here yet. Type <code>/cost team-ml last-week</code> below, or press Fast forward."));
  if (atBottom || ui.jump) box.scrollTop = box.scrollHeight;
  ui.jump = false;
}

function renderHome() {
  const view = ui.state.homes[ui.person];
  const box = ui.el("home");
  if (!view) {
    box.replaceChildren(node("p", "empty", "Opening App Home…"));
    return;
  }
  box.replaceChildren(renderBlocks(view.blocks, () => ({ user: ui.person, home: true })));
}

function openHomeIfNeeded() {
  if (ui.tab === "home") send("/ui/home", { user: ui.person });
}

async function send(path, body) {
  const response = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const answer = await response.json().catch(() => ({ ok: false, error: `HTTP ${response.status}` }));
  if (!answer.ok) status(answer.error || "failed");
  return answer;
}

let statusTimer = 0;
function status(text) {
  const el = ui.el("status");
  el.textContent = text;
  el.classList.add("shown");
  clearTimeout(statusTimer);
  statusTimer = setTimeout(() => el.classList.remove("shown"), 5000);
}

async function poll() {
  for (;;) {
    try {
      const response = await fetch(`/ui/state?after=${ui.seq}`);
      if (response.ok) {
        const state = await response.json();
        const first = ui.state === null;
        ui.state = state;
        ui.seq = state.seq;
        if (first) setup();
        render();
        document.body.dataset.seq = String(state.seq);
        continue;
      }
    } catch (err) {
      // the server restarted or the network blinked: try again shortly
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function setup() {
  const select = ui.el("person");
  for (const p of ui.state.people) {
    const o = node("option", "", esc(`${p.name} (${p.id})`));
    o.value = p.id;
    select.appendChild(o);
  }
  ui.person = ui.state.people[0].id;
  ui.el("hint-usage").textContent = ui.state.usage_hint;
  select.addEventListener("change", () => { ui.person = select.value; render(); if (isDm()) openHomeIfNeeded(); });
}

function updateHint() {
  const value = ui.el("box").value;
  const show = value.startsWith("/") && "/cost".startsWith(value.split(" ")[0]) && !value.includes(" ");
  ui.el("hint").hidden = !show;
  ui.el("box").setAttribute("aria-expanded", String(show));
}

function wire() {
  const box = ui.el("box");
  box.addEventListener("input", updateHint);
  box.addEventListener("keydown", (e) => {
    if ((e.key === "Tab" || e.key === "Enter") && !ui.el("hint").hidden) {
      e.preventDefault();
      box.value = "/cost ";
      updateHint();
    } else if (e.key === "Escape") {
      ui.el("hint").hidden = true;
    }
  });
  ui.el("hint-option").addEventListener("click", () => { box.value = "/cost "; updateHint(); box.focus(); });
  ui.el("composer").addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = box.value.trim();
    if (!text) return;
    if (!text.startsWith("/cost")) {
      status("Only costbot is in this workspace: start with /cost (try /cost help).");
      return;
    }
    box.value = "";
    updateHint();
    ui.jump = true;
    await send("/ui/command", { user: ui.person, channel: ui.view, text });
  });
  ui.el("tab-home").addEventListener("click", () => { ui.tab = "home"; render(); openHomeIfNeeded(); });
  ui.el("tab-messages").addEventListener("click", () => { ui.tab = "messages"; render(); });
  ui.el("fast-forward").addEventListener("click", async (e) => {
    const b = e.currentTarget;
    b.disabled = true;
    status("Running the scheduler's jobs now…");
    try {
      const answer = await send("/ui/fast-forward", {});
      if (answer.ok) status("Ran: " + answer.ran.join(", "));
    } finally {
      b.disabled = false;
    }
  });
  poll();
}

document.addEventListener("DOMContentLoaded", wire);
