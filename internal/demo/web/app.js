// The customer simulator of `switchboard demo`: plain JavaScript, no build
// step, no libraries. It writes as a WhatsApp customer through the
// simulator's API, follows its event stream, and tells the simulator when
// a reply was received (delivered) and seen on screen (read), which the
// simulator reports to Switchboard as Meta's status webhooks.
"use strict";

const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};

const store = {
  business: { name: "the business", number: "" },
  chats: new Map(),    // wa_id -> {wa_id, name, number}
  messages: new Map(), // id -> message
  current: null,       // wa_id of the open chat
  reported: new Map(), // reply id -> highest status this page asked for
  unread: new Map(),   // wa_id -> count of replies not yet seen
};

const saved = (() => {
  try { return JSON.parse(localStorage.getItem("switchboard-demo-customer") || "null"); } catch { return null; }
})();
$("name").value = (saved && saved.name) || "Sam Taylor";
$("number").value = (saved && saved.number) || "+44 7700 900123";

function remember(name, number) {
  try { localStorage.setItem("switchboard-demo-customer", JSON.stringify({ name, number })); } catch { /* private mode */ }
}

// digits turns a typed number into its digits, as the simulator does, to
// find its chat before the first message.
function digits(number) {
  let d = number.replace(/[^0-9]/g, "");
  if (!number.trim().startsWith("+") && d.startsWith("00")) d = d.slice(2);
  return d;
}

async function api(path, body) {
  const resp = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  let data = {};
  try { data = await resp.json(); } catch { /* empty */ }
  if (!resp.ok) throw new Error(data.error || `The simulator answered ${resp.status}.`);
  return data;
}

// ---- statuses and ticks

const customerStatus = {
  sent: ["✓", "sent", "Sent: the simulator took it and is posting it to Switchboard's webhook."],
  delivered: ["✓✓", "delivered", "Delivered: Switchboard's webhook answered 200, so the message is stored."],
  read: ["✓✓", "read", "Read: the business marked it read."],
  retrying: ["⟳", "retrying", "Switchboard did not take it yet; the simulator tries again, as Meta does."],
  failed: ["⚠", "not delivered", "The simulator gave up posting it to Switchboard."],
};
const replyStatus = {
  queued: ["…", "sending", "Meta took the reply; its first status is on the way to Switchboard."],
  sent: ["✓", "sent", "Switchboard was told: sent."],
  delivered: ["✓✓", "delivered", "Switchboard was told: delivered (this page received it)."],
  read: ["✓✓", "read", "Switchboard was told: read (the reply was on screen)."],
  failed: ["⚠", "failed", "The status could not be reported to Switchboard."],
};
const rank = { sent: 1, delivered: 2, read: 3 };

function timeOf(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function sizeOf(n) {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

// ---- rendering

const items = new Map(); // message id -> <li>
let observer = null;

function renderMessage(m) {
  const mine = m.from === "customer";
  const li = el("li", `msg ${mine ? "mine" : "theirs"}`);
  li.dataset.id = m.id;
  li.dataset.from = m.from;
  li.dataset.status = m.status;
  if (!mine) li.appendChild(el("p", "from", store.business.name));
  if (m.template) li.appendChild(el("p", "template", `Template message “${m.template}”`));
  if (m.document) {
    const d = el("div", "doc");
    d.appendChild(el("span", "doc-icon", "📄")).setAttribute("aria-hidden", "true");
    const info = el("div");
    if (m.document.deleted) {
      info.appendChild(el("span", "", m.document.filename));
      info.appendChild(el("br"));
      info.appendChild(el("span", "gone", "Deleted at Meta by Switchboard"));
    } else {
      const a = el("a", "", m.document.filename);
      a.href = `/sim/media/${encodeURIComponent(m.document.media_id)}`;
      a.setAttribute("download", m.document.filename);
      a.setAttribute("aria-label", `Download ${m.document.filename}, ${sizeOf(m.document.size)}`);
      info.appendChild(a);
      info.appendChild(el("br"));
      info.appendChild(el("span", "", `${sizeOf(m.document.size)} · ${m.document.mime}`));
    }
    d.appendChild(info);
    li.appendChild(d);
  }
  if (m.text) li.appendChild(el("p", "body", m.text));
  const meta = el("p", "meta");
  const t = el("time", "", timeOf(m.at));
  t.dateTime = new Date(m.at).toISOString();
  meta.appendChild(t);
  const [ticks, word, title] = (mine ? customerStatus : replyStatus)[m.status] || ["", m.status, ""];
  const tk = el("span", `ticks ${m.status}`, ticks);
  tk.setAttribute("aria-hidden", "true");
  meta.appendChild(tk);
  const w = el("span", `status-word ${m.status}`, word);
  w.title = title;
  meta.appendChild(w);
  meta.title = title;
  li.appendChild(meta);
  if (m.detail) li.appendChild(el("p", "detail", m.detail));
  return li;
}

function atBottom(list) {
  return list.scrollHeight - list.scrollTop - list.clientHeight < 40;
}

function showChat() {
  const list = $("messages");
  list.replaceChildren();
  items.clear();
  if (observer) observer.disconnect();
  observer = new IntersectionObserver(onVisible, { root: list, threshold: seenAt });
  const chat = store.current && store.chats.get(store.current);
  $("chat-sub").textContent = chat
    ? `${store.business.number} · WhatsApp Business · you are ${chat.name} (${chat.number})`
    : `${store.business.number} · WhatsApp Business`;
  const msgs = [...store.messages.values()].filter((m) => m.wa_id === store.current).sort((a, b) => a.at - b.at);
  if (msgs.length === 0) {
    list.appendChild(el("li", "empty", "Write a message below to start the chat."));
  }
  for (const m of msgs) place(m);
  list.scrollTop = list.scrollHeight;
  store.unread.set(store.current, 0);
  showChats();
}

// place adds or replaces a message of the open chat in the list.
function place(m) {
  const list = $("messages");
  const stick = atBottom(list);
  const li = renderMessage(m);
  const old = items.get(m.id);
  if (old) {
    old.replaceWith(li);
  } else {
    const empty = list.querySelector(".empty");
    if (empty) empty.remove();
    list.appendChild(li);
  }
  items.set(m.id, li);
  if (m.from === "business" && (rank[store.reported.get(m.id)] || 0) < rank.read && (rank[m.status] || 0) < rank.read) {
    if (!observer) observer = new IntersectionObserver(onVisible, { root: list, threshold: seenAt });
    observer.observe(li);
  }
  if (!old && stick) list.scrollTop = list.scrollHeight;
}

function showChats() {
  const ul = $("chats");
  ul.replaceChildren();
  $("no-chats").hidden = store.chats.size > 0;
  for (const c of store.chats.values()) {
    const li = el("li");
    const b = el("button");
    b.type = "button";
    const who = el("span");
    who.appendChild(el("span", "", c.name));
    who.appendChild(el("br"));
    who.appendChild(el("span", "num", c.number));
    b.appendChild(who);
    const n = store.unread.get(c.wa_id) || 0;
    if (n > 0 && c.wa_id !== store.current) {
      const u = el("span", "unread", String(n));
      u.setAttribute("aria-label", `${n} new`);
      b.appendChild(u);
    }
    b.setAttribute("aria-current", c.wa_id === store.current ? "true" : "false");
    b.addEventListener("click", () => {
      $("name").value = c.name;
      $("number").value = c.number;
      remember(c.name, c.number);
      store.current = c.wa_id;
      showChat();
      $("text").focus();
    });
    li.appendChild(b);
    ul.appendChild(li);
  }
}

function showWire(e) {
  const li = el("li");
  const det = el("details");
  const sum = el("summary");
  sum.appendChild(el("span", "dir", e.dir === "to-bot" ? "→ Switchboard " : "← from Switchboard "));
  sum.appendChild(el("code", "", e.request));
  sum.appendChild(document.createTextNode(" "));
  sum.appendChild(el("span", e.status >= 200 && e.status < 300 ? "code-ok" : "code-bad", e.status ? String(e.status) : "no answer"));
  sum.appendChild(el("span", "sum", `${timeOf(e.at)} · ${e.summary}`));
  det.appendChild(sum);
  if (e.body) det.appendChild(el("pre", "", e.body));
  else det.appendChild(el("p", "help", "No JSON body to show."));
  li.appendChild(det);
  const list = $("wire");
  list.prepend(li);
  while (list.children.length > 200) list.lastChild.remove();
}

// ---- receipts: delivered on arrival, read once on screen

function report(m, status) {
  if ((rank[store.reported.get(m.id)] || 0) >= rank[status] || (rank[m.status] || 0) >= rank[status]) return;
  store.reported.set(m.id, status);
  api("/sim/api/receipts", { id: m.id, status }).catch(() => store.reported.delete(m.id));
}

const seenTimers = new Map();
const seenAt = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1];
// A reply counts as on screen when most of it shows, or, for one taller
// than the chat, when it fills half of the chat.
function onVisible(entries) {
  for (const en of entries) {
    const id = en.target.dataset.id;
    const fills = en.rootBounds && en.intersectionRect.height >= en.rootBounds.height * 0.5;
    if (en.isIntersecting && (en.intersectionRatio >= 0.6 || fills)) {
      if (!seenTimers.has(id)) seenTimers.set(id, setTimeout(() => markRead(id), 800));
    } else {
      clearTimeout(seenTimers.get(id));
      seenTimers.delete(id);
    }
  }
}

function markRead(id) {
  seenTimers.delete(id);
  const m = store.messages.get(id);
  if (!m || document.visibilityState !== "visible" || m.wa_id !== store.current) return;
  report(m, "read");
}

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && store.current) showChat();
});

// ---- the event stream

function upsert(m, chat) {
  const newChat = chat && !store.chats.has(chat.wa_id);
  if (chat) store.chats.set(chat.wa_id, chat);
  const old = store.messages.get(m.id);
  if (old && old.rev > m.rev) return; // an older view of it, arriving late
  const had = Boolean(old);
  store.messages.set(m.id, m);
  if (newChat) {
    if (m.wa_id === store.current) showChat();
    else showChats();
  }
  if (m.from === "business") {
    report(m, "delivered");
    if (!had && m.wa_id !== store.current) store.unread.set(m.wa_id, (store.unread.get(m.wa_id) || 0) + 1);
  }
  if (m.wa_id === store.current) place(m);
  else showChats();
}

function connect() {
  const es = new EventSource("/sim/api/events");
  const conn = $("conn");
  es.addEventListener("state", (ev) => {
    const st = JSON.parse(ev.data);
    store.business = st.business;
    for (const n of document.querySelectorAll(".biz-name")) n.textContent = st.business.name;
    document.title = `Customer simulator · ${st.business.name} · Switchboard demo`;
    const hint = $("staff-hint");
    hint.replaceChildren();
    if (st.staff_hint) {
      hint.appendChild(el("strong", "", "Staff side: "));
      hint.appendChild(document.createTextNode(st.staff_hint + " "));
      if (st.staff_command) hint.appendChild(el("code", "", st.staff_command));
    }
    store.chats = new Map(st.chats.map((c) => [c.wa_id, c]));
    store.messages = new Map(st.messages.map((m) => [m.id, m]));
    if (!store.current) {
      const d = digits($("number").value);
      if (store.chats.has(d) || store.chats.size === 0) store.current = d;
      else store.current = st.chats[st.chats.length - 1].wa_id;
    }
    showChat();
    $("wire").replaceChildren();
    for (const e of st.wire) showWire(e);
    for (const m of store.messages.values()) if (m.from === "business") report(m, "delivered");
    conn.textContent = "Connected to the demo";
    conn.className = "conn ok";
  });
  es.addEventListener("message", (ev) => {
    const { chat, message } = JSON.parse(ev.data);
    upsert(message, chat);
  });
  es.addEventListener("chat", (ev) => {
    const c = JSON.parse(ev.data);
    store.chats.set(c.wa_id, c);
    showChats();
  });
  es.addEventListener("wire", (ev) => showWire(JSON.parse(ev.data)));
  es.onerror = () => {
    conn.textContent = "Reconnecting to the demo… (is it still running?)";
    conn.className = "conn down";
  };
}

// ---- forms

$("who").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("who-error").textContent = "";
  try {
    const c = await api("/sim/api/chats", { name: $("name").value, number: $("number").value });
    remember(c.name, c.number);
    $("number").value = c.number;
    store.chats.set(c.wa_id, c);
    store.current = c.wa_id;
    showChat();
    $("text").focus();
  } catch (e) {
    $("who-error").textContent = e.message;
  }
});

async function send() {
  const text = $("text").value;
  if (!text.trim()) return;
  $("send-error").textContent = "";
  $("send").disabled = true;
  try {
    const r = await api("/sim/api/messages", { name: $("name").value, number: $("number").value, text });
    remember(r.chat.name, r.chat.number);
    $("text").value = "";
    autosize();
    if (store.current !== r.chat.wa_id) {
      store.current = r.chat.wa_id;
      store.chats.set(r.chat.wa_id, r.chat);
      const old = store.messages.get(r.message.id);
      if (!old || old.rev < r.message.rev) store.messages.set(r.message.id, r.message);
      showChat();
    } else {
      upsert(r.message, r.chat);
    }
  } catch (e) {
    $("send-error").textContent = e.message;
  } finally {
    $("send").disabled = false;
    $("text").focus();
  }
}

$("compose").addEventListener("submit", (ev) => {
  ev.preventDefault();
  send();
});
$("text").addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
    ev.preventDefault();
    send();
  }
});
function autosize() {
  const t = $("text");
  t.style.height = "auto";
  t.style.height = `${Math.min(t.scrollHeight + 2, 128)}px`;
}
$("text").addEventListener("input", autosize);
for (const b of document.querySelectorAll(".chip")) {
  b.addEventListener("click", () => {
    $("text").value = b.dataset.text;
    autosize();
    $("text").focus();
  });
}

connect();
