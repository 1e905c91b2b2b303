/* Fansi chat client, part 1 of 4: the open thread (rendering, the outbox, receipts, the composer's error line).
 *
 * The chat client is four classic scripts sharing window.FansiChatParts, loaded in this order by
 * templates/fans/_chat_scripts.html: chat_thread.js, chat_socket.js, chat_inbox.js, chat.js (the composer
 * and the start). Every piece of user text reaches the DOM through textContent, never innerHTML.
 * Protocol: docs/chat-protocol.md (hello, message.send/ack/new, sync, read, typing, error).
 */
(function () {
  "use strict";

  var cfg = Fansi.config("chat-config", null);
  if (!cfg) return;
  var $ = Fansi.$, el = Fansi.el;
  var lang = document.documentElement.lang || "zh-hans";

  var me = cfg.me;
  var mySide = cfg.side; // "fan" or "shop"
  var convId = cfg.conversation; // the open conversation, or null in an empty inbox
  var OUTBOX_KEY = "fansi.outbox." + me;

  // What the parts share: the config, the state more than one part changes, and each part's functions.
  var C = (window.FansiChatParts = { cfg: cfg, me: me, mySide: mySide, convId: convId });
  var S = (C.state = {
    outbox: [],
    lastSeq: 0,
    firstSeq: null,
    hasMore: !!cfg.has_more,
    otherReadSeq: mySide === "fan" ? cfg.shop_read_seq || 0 : cfg.fan_read_seq || 0,
  });

  // --- small helpers --------------------------------------------------------------------------
  function timeLabel(iso) {
    if (!iso) return "";
    var d = new Date(iso);
    if (isNaN(d.getTime())) return "";
    var now = new Date();
    var opts = { hour: "2-digit", minute: "2-digit" };
    if (d.toDateString() !== now.toDateString()) { opts.month = "2-digit"; opts.day = "2-digit"; }
    try { return d.toLocaleString(lang, opts); } catch (e) { return d.toLocaleString(undefined, opts); }
  }

  function preview(msg) {
    if (msg.kind === "image") return gettext("[Image]");
    if (msg.card && (msg.card.name || msg.card.title)) return "[" + (msg.card.name || msg.card.title) + "]";
    return msg.text || "";
  }

  // --- outbox: unacknowledged messages, persisted so a reload loses nothing ---------------------
  try { S.outbox = JSON.parse(localStorage.getItem(OUTBOX_KEY) || "[]") || []; } catch (e) { S.outbox = []; }
  if (!Array.isArray(S.outbox)) S.outbox = [];

  function saveOutbox() {
    try { localStorage.setItem(OUTBOX_KEY, JSON.stringify(S.outbox)); } catch (e) { /* private mode: memory only */ }
  }
  function outboxFind(clientId) {
    for (var i = 0; i < S.outbox.length; i++) if (S.outbox[i].client_id === clientId) return S.outbox[i];
    return null;
  }
  function outboxRemove(clientId) {
    var before = S.outbox.length;
    S.outbox = S.outbox.filter(function (e) { return e.client_id !== clientId; });
    if (S.outbox.length !== before) saveOutbox();
  }

  // --- the open thread -------------------------------------------------------------------------
  var listEl = $("message-list");
  var scroller = $("messages");
  var bySeq = {}; // seq -> element, for de-duplication and ordering
  var pendingEls = {}; // client_id -> element

  function nearBottom() {
    return !scroller || scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 120;
  }
  function toBottom() { if (scroller) scroller.scrollTop = scroller.scrollHeight; }

  function isOwn(msg) { return msg.side === mySide; }

  function renderCard(card, kind) {
    var box = el("div", "chat-card");
    if (card.image) {
      var img = el("img", "chat-card-img");
      img.alt = "";
      img.src = card.image;
      box.appendChild(img);
    } else {
      box.appendChild(el("div", "chat-card-img", (card.name || card.title || "?").slice(0, 1)));
    }
    var body = el("div", "chat-card-body");
    body.appendChild(el("span", "chat-card-kind", kind === "campaign_card" ? gettext("Campaign") : gettext("Product")));
    body.appendChild(el("span", "chat-card-name", card.name || card.title || ""));
    if (card.price) body.appendChild(el("span", "chat-card-price", (card.currency === "CNY" || !card.currency ? "¥" : card.currency + " ") + card.price));
    if (card.available === false) body.appendChild(el("span", "chat-card-note", gettext("Sold out")));
    if (card.reason) body.appendChild(el("span", "chat-card-note", card.reason));
    box.appendChild(body);
    return box;
  }

  function renderBody(msg) {
    if (msg.kind === "image") {
      var wrap = el("div", "bubble image");
      if (msg.image) {
        var a = el("a");
        a.href = msg.image.url;
        a.target = "_blank";
        a.rel = "noopener";
        var img = el("img");
        img.alt = gettext("[Image]");
        img.src = msg.image.thumbnail_url || msg.image.url;
        img.addEventListener("load", function () { if (nearBottom()) toBottom(); });
        a.appendChild(img);
        wrap.appendChild(a);
      } else if (msg.localUrl) {
        var local = el("img");
        local.alt = gettext("[Image]");
        local.src = msg.localUrl;
        wrap.appendChild(local);
      } else {
        wrap.textContent = gettext("Uploading picture…");
      }
      return wrap;
    }
    if ((msg.kind === "product_card" || msg.kind === "campaign_card") && msg.card) return renderCard(msg.card, msg.kind);
    return el("div", "bubble", msg.text);
  }

  function statusText(msg, state) {
    if (state === "pending") return gettext("Sending…");
    if (state === "failed") return gettext("Not sent");
    return msg.seq <= S.otherReadSeq ? gettext("Read") : gettext("Sent");
  }

  // The platform's order cards (balance due, payment, shipment, compensation): one tap to "my orders".
  function renderOrderCard(card, text) {
    var box = el("div", "chat-card order-card");
    box.setAttribute("data-card", card.card || "");
    var body = el("div", "chat-card-body");
    body.appendChild(el("span", "chat-card-kind", gettext("Order")));
    body.appendChild(el("span", "chat-card-name", card.title || ""));
    if (card.amount) body.appendChild(el("span", "chat-card-price", "¥" + card.amount));
    if (card.tracking_number) body.appendChild(el("span", "chat-card-note", (card.carrier || "") + " " + card.tracking_number));
    if (text) body.appendChild(el("span", "chat-card-note", text));
    if (card.url) {
      var a = el("a", "btn order-card-action", card.action === "pay_balance" ? gettext("Pay the balance") : gettext("View my orders"));
      a.href = card.url;
      body.appendChild(a);
    }
    box.appendChild(body);
    return box;
  }

  function renderMessage(msg, state) {
    if (msg.kind === "order_card" && msg.card) {
      var wrap = el("div", "msg system");
      wrap.setAttribute("data-seq", msg.seq || "");
      wrap.appendChild(renderOrderCard(msg.card, msg.text));
      return wrap;
    }
    if (msg.side === "system" || msg.kind === "system") {
      var sys = el("div", "msg system");
      sys.appendChild(el("div", "notice", msg.text || preview(msg)));
      return sys;
    }
    var own = isOwn(msg);
    var isBot = msg.side === "bot";
    var right = own || (isBot && mySide === "shop"); // the bot speaks for the shop
    var node = el("div", "msg" + (right ? " own" : "") + (isBot ? " bot" : "") + (state ? " " + state : ""));
    if (isBot) {
      var who = el("div", "msg-sender");
      who.appendChild(el("span", "bot-badge", gettext("Bot")));
      node.appendChild(who);
    }
    // Name the shop's staff to the fan, and a colleague's reply in the inbox.
    var showName = own ? mySide === "shop" && msg.sender && msg.sender !== me : msg.side !== "fan" && !isBot;
    if (showName && msg.sender_name) node.appendChild(el("div", "msg-sender", msg.sender_name));
    node.appendChild(renderBody(msg));
    var meta = el("div", "msg-meta");
    meta.appendChild(el("time", "msg-time", timeLabel(msg.created_at)));
    if (own) {
      var st = el("span", "msg-status", statusText(msg, state));
      if (!state && msg.seq <= S.otherReadSeq) st.classList.add("read");
      meta.appendChild(st);
    }
    node.appendChild(meta);
    return node;
  }

  function insertConfirmed(msg) {
    if (!listEl || msg.conversation !== convId) return false;
    if (msg.client_id && pendingEls[msg.client_id]) {
      pendingEls[msg.client_id].remove();
      delete pendingEls[msg.client_id];
    }
    if (bySeq[msg.seq]) return false; // already shown: de-duplicate by seq
    var stick = nearBottom() || isOwn(msg);
    var node = renderMessage(msg, "");
    node.dataset.seq = msg.seq;
    node.dataset.id = msg.id;
    bySeq[msg.seq] = node;
    // Keep seq order; pending messages stay after every confirmed one.
    var next = null;
    var children = listEl.children;
    for (var i = 0; i < children.length; i++) {
      var c = children[i];
      if (!c.dataset.seq || Number(c.dataset.seq) > msg.seq) { next = c; break; }
    }
    listEl.insertBefore(node, next);
    if (msg.seq > S.lastSeq) S.lastSeq = msg.seq;
    if (S.firstSeq === null || msg.seq < S.firstSeq) S.firstSeq = msg.seq;
    if (stick) toBottom();
    return true;
  }

  function showPending(entry, state, errorText) {
    if (!listEl || entry.conversation !== convId) return;
    var old = pendingEls[entry.client_id];
    var msg = {
      side: mySide, kind: entry.kind, text: entry.text, card: entry.cardPreview || entry.card, localUrl: entry.localUrl,
      created_at: entry.created_at, sender: me,
    };
    var node = renderMessage(msg, state || "pending");
    node.dataset.clientId = entry.client_id;
    if (errorText) {
      var err = el("div", "msg-error");
      err.setAttribute("role", "alert");
      err.appendChild(el("span", "", errorText));
      if (state === "failed skipped") {
        var dismiss = el("button", "", gettext("Discard"));
        dismiss.type = "button";
        dismiss.addEventListener("click", function () { C.discardSend(entry.client_id); });
        err.appendChild(dismiss);
      } else if (state === "failed") {
        var retry = el("button", "", gettext("Retry"));
        retry.type = "button";
        retry.addEventListener("click", function () { C.retrySend(entry.client_id); });
        var discard = el("button", "", gettext("Discard"));
        discard.type = "button";
        discard.addEventListener("click", function () { C.discardSend(entry.client_id); });
        err.appendChild(retry);
        err.appendChild(discard);
      }
      node.appendChild(err);
    }
    if (old) listEl.replaceChild(node, old);
    else { listEl.appendChild(node); toBottom(); }
    pendingEls[entry.client_id] = node;
  }

  // A pending message that will not be confirmed (deferred or discarded) leaves the thread.
  function dropPending(clientId) {
    if (pendingEls[clientId]) { pendingEls[clientId].remove(); delete pendingEls[clientId]; }
  }

  function refreshReceipts() {
    if (!listEl) return;
    var nodes = listEl.querySelectorAll(".msg.own[data-seq] .msg-status");
    for (var i = 0; i < nodes.length; i++) {
      var seq = Number(nodes[i].closest(".msg").dataset.seq);
      var read = seq <= S.otherReadSeq;
      nodes[i].textContent = read ? gettext("Read") : gettext("Sent");
      nodes[i].classList.toggle("read", read);
    }
  }

  function composerError(text) {
    var box = $("composer-error");
    if (!box) return;
    box.textContent = text || "";
    box.hidden = !text;
    if (text) setTimeout(function () { if (box.textContent === text) box.hidden = true; }, 8000);
  }

  C.scroller = scroller;
  C.timeLabel = timeLabel;
  C.preview = preview;
  C.saveOutbox = saveOutbox;
  C.outboxFind = outboxFind;
  C.outboxRemove = outboxRemove;
  C.toBottom = toBottom;
  C.isOwn = isOwn;
  C.renderCard = renderCard;
  C.insertConfirmed = insertConfirmed;
  C.showPending = showPending;
  C.dropPending = dropPending;
  C.refreshReceipts = refreshReceipts;
  C.composerError = composerError;
})();
