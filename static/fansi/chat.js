/* Fansi chat client: one websocket, an outbox that never loses a message, no framework.
 *
 * Every piece of user text reaches the DOM through textContent, never innerHTML.
 * Protocol: docs/chat-protocol.md (hello, message.send/ack/new, sync, read, typing, error).
 */
(function () {
  "use strict";

  var cfg = Fansi.config("chat-config", null);
  if (!cfg) return;
  var $ = Fansi.$, el = Fansi.el, uuid = Fansi.uuid, api = Fansi.api;
  var lang = document.documentElement.lang || "zh-hans";

  var me = cfg.me;
  var mySide = cfg.side; // "fan" or "shop"
  var convId = cfg.conversation; // the open conversation, or null in an empty inbox
  var OUTBOX_KEY = "fansi.outbox." + me;
  var RETRYABLE = { rate_limited: true, internal: true };
  var OVER_BUDGET = gettext("This fan already received a promotion today; skipped.");

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
  var outbox = [];
  try { outbox = JSON.parse(localStorage.getItem(OUTBOX_KEY) || "[]") || []; } catch (e) { outbox = []; }
  if (!Array.isArray(outbox)) outbox = [];

  function saveOutbox() {
    try { localStorage.setItem(OUTBOX_KEY, JSON.stringify(outbox)); } catch (e) { /* private mode: memory only */ }
  }
  function outboxFind(clientId) {
    for (var i = 0; i < outbox.length; i++) if (outbox[i].client_id === clientId) return outbox[i];
    return null;
  }
  function outboxRemove(clientId) {
    var before = outbox.length;
    outbox = outbox.filter(function (e) { return e.client_id !== clientId; });
    if (outbox.length !== before) saveOutbox();
  }

  // --- the open thread -------------------------------------------------------------------------
  var listEl = $("message-list");
  var scroller = $("messages");
  var bySeq = {}; // seq -> element, for de-duplication and ordering
  var lastSeq = 0;
  var firstSeq = null;
  var hasMore = !!cfg.has_more;
  var otherReadSeq = mySide === "fan" ? cfg.shop_read_seq || 0 : cfg.fan_read_seq || 0;
  var myReadSeq = mySide === "fan" ? cfg.fan_read_seq || 0 : cfg.shop_read_seq || 0;
  var pendingEls = {}; // client_id -> element
  var uploads = {}; // client_id -> File, for retrying a failed picture

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
    return msg.seq <= otherReadSeq ? gettext("Read") : gettext("Sent");
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
      if (!state && msg.seq <= otherReadSeq) st.classList.add("read");
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
    if (msg.seq > lastSeq) lastSeq = msg.seq;
    if (firstSeq === null || msg.seq < firstSeq) firstSeq = msg.seq;
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
        dismiss.addEventListener("click", function () { discardSend(entry.client_id); });
        err.appendChild(dismiss);
      } else if (state === "failed") {
        var retry = el("button", "", gettext("Retry"));
        retry.type = "button";
        retry.addEventListener("click", function () { retrySend(entry.client_id); });
        var discard = el("button", "", gettext("Discard"));
        discard.type = "button";
        discard.addEventListener("click", function () { discardSend(entry.client_id); });
        err.appendChild(retry);
        err.appendChild(discard);
      }
      node.appendChild(err);
    }
    if (old) listEl.replaceChild(node, old);
    else { listEl.appendChild(node); toBottom(); }
    pendingEls[entry.client_id] = node;
  }

  function refreshReceipts() {
    if (!listEl) return;
    var nodes = listEl.querySelectorAll(".msg.own[data-seq] .msg-status");
    for (var i = 0; i < nodes.length; i++) {
      var seq = Number(nodes[i].closest(".msg").dataset.seq);
      var read = seq <= otherReadSeq;
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

  // --- websocket -------------------------------------------------------------------------------
  var ws = null;
  var ready = false; // true after "hello"
  var attempts = 0;
  var pingTimer = null;
  var pongTimer = null;
  var reconnectTimer = null;

  function setStatus(online) {
    var s = $("conn-status");
    if (!s) return;
    s.textContent = online ? (s.dataset.online || gettext("Online")) : gettext("Connecting…");
    s.classList.toggle("online", online);
  }

  /* The fan's presence under their name in the inbox: from the server and its "presence" frames only,
   * never this page's own socket. */
  function setFanPresence(online) {
    var p = $("fan-presence");
    if (!p) return;
    p.textContent = online ? gettext("Online") : gettext("Offline");
    p.classList.toggle("online", !!online);
  }

  function sendFrame(frame) {
    if (!ws || ws.readyState !== WebSocket.OPEN || !ready) return false;
    ws.send(JSON.stringify(frame));
    return true;
  }

  function connect() {
    clearTimeout(reconnectTimer);
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/chat/";
    try { ws = new WebSocket(url); } catch (e) { scheduleReconnect(); return; }
    ready = false;
    ws.onmessage = function (ev) {
      var frame;
      try { frame = JSON.parse(ev.data); } catch (e) { return; }
      handleFrame(frame);
      try { document.dispatchEvent(new CustomEvent("fansi:frame", { detail: frame })); } catch (e) { /* old browser */ }
    };
    ws.onclose = function (ev) {
      ready = false;
      setStatus(false);
      clearInterval(pingTimer);
      clearTimeout(pongTimer);
      if (ev.code === 4401) { location.reload(); return; } // the session ended: the page will ask to log in
      scheduleReconnect();
    };
    ws.onerror = function () { /* onclose follows and reconnects */ };
  }

  function scheduleReconnect() {
    attempts += 1;
    var delay = Math.min(30000, 500 * Math.pow(2, Math.min(attempts, 6))) + Math.floor(Math.random() * 400);
    reconnectTimer = setTimeout(connect, delay);
  }

  function startHeartbeat() {
    clearInterval(pingTimer);
    pingTimer = setInterval(function () {
      if (!sendFrame({ type: "ping" })) return;
      clearTimeout(pongTimer);
      // No answer means a dead connection the browser has not noticed yet.
      pongTimer = setTimeout(function () { if (ws) ws.close(); }, 10000);
    }, 25000);
  }

  function flushOutbox() {
    outbox.forEach(function (entry) {
      if (!entry.failed) sendFrame(frameFor(entry));
    });
  }

  function frameFor(entry) {
    var f = { type: "message.send", conversation: entry.conversation, client_id: entry.client_id, kind: entry.kind };
    if (entry.text) f.text = entry.text;
    if (entry.card) f.card = entry.card;
    return f;
  }

  function handleFrame(frame) {
    switch (frame.type) {
      case "hello":
        ready = true;
        attempts = 0;
        setStatus(true);
        startHeartbeat();
        if (convId) sendFrame({ type: "sync", conversation: convId, after_seq: lastSeq });
        flushOutbox();
        maybeRead();
        break;
      case "pong":
        clearTimeout(pongTimer);
        break;
      case "message.ack":
        outboxRemove(frame.client_id);
        if (frame.message) onMessage(frame.message);
        break;
      case "message.new":
        onMessage(frame.message);
        break;
      case "sync.result":
        (frame.messages || []).forEach(onMessage);
        if (frame.has_more && frame.conversation === convId) {
          sendFrame({ type: "sync", conversation: convId, after_seq: lastSeq });
        }
        break;
      case "read":
        onRead(frame);
        break;
      case "typing":
        onTyping(frame);
        break;
      case "conversation.assigned":
        onAssigned(frame.conversation, frame.assigned_to);
        break;
      case "presence":
        if (cfg.fan_user && frame.user === cfg.fan_user) setFanPresence(frame.online);
        break;
      case "error":
        onError(frame);
        break;
      case "message.deferred":
        onDeferred(frame);
        break;
    }
  }

  function onMessage(msg) {
    if (!msg) return;
    if (msg.sender === me && msg.client_id && outboxFind(msg.client_id)) outboxRemove(msg.client_id);
    insertConfirmed(msg);
    if (mySide === "shop") inboxBump(msg);
    if (msg.conversation === convId && !isOwn(msg)) {
      hideTyping();
      maybeRead();
    }
  }

  function maybeRead() {
    if (!convId || document.hidden || lastSeq <= myReadSeq) return;
    if (sendFrame({ type: "read", conversation: convId, seq: lastSeq })) myReadSeq = lastSeq;
  }

  function onRead(frame) {
    if (frame.side !== mySide) {
      if (frame.conversation === convId && frame.seq > otherReadSeq) {
        otherReadSeq = frame.seq;
        refreshReceipts();
      }
    } else {
      if (frame.conversation === convId && frame.seq > myReadSeq) myReadSeq = frame.seq;
      if (mySide === "shop") setBadge(frame.conversation, 0);
    }
  }

  var typingTimer = null;
  function onTyping(frame) {
    if (frame.conversation !== convId || frame.user === me) return;
    var t = $("typing");
    if (!t) return;
    t.hidden = false;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(hideTyping, 4000);
  }
  function hideTyping() {
    var t = $("typing");
    if (t) t.hidden = true;
  }

  // A card sent in the fan's quiet hours is not refused: it is scheduled for their end (reach lists it).
  function onDeferred(frame) {
    outboxRemove(frame.client_id);
    if (pendingEls[frame.client_id]) { pendingEls[frame.client_id].remove(); delete pendingEls[frame.client_id]; }
    composerError(interpolate(gettext("Quiet hours for this fan: it will be sent at %s."),
      [timeLabel(frame.deferred_until)]));
    document.dispatchEvent(new CustomEvent("fansi:scheduled", { detail: frame.scheduled_message }));
  }

  function onError(frame) {
    var entry = frame.client_id ? outboxFind(frame.client_id) : null;
    if (!entry) { composerError(frame.message || gettext("Something went wrong; please retry.")); return; }
    if (frame.code === "over_budget") {
      outboxRemove(entry.client_id);
      var why = frame.message || OVER_BUDGET;
      showPending(entry, "failed skipped", why);
      composerError(OVER_BUDGET + (frame.message && frame.message !== OVER_BUDGET ? " · " + frame.message : ""));
      return;
    }
    if (RETRYABLE[frame.code]) {
      showPending(entry, "pending", frame.code === "rate_limited"
        ? gettext("You are sending too fast; it will be retried shortly.") : frame.message);
      setTimeout(function () { if (outboxFind(entry.client_id)) sendFrame(frameFor(entry)); }, 4000);
      return;
    }
    entry.failed = true;
    entry.error = frame.code === "too_long" ? gettext("The message is too long.")
      : frame.message || gettext("Something went wrong; please retry.");
    saveOutbox();
    showPending(entry, "failed", entry.error);
  }

  function retrySend(clientId) {
    var entry = outboxFind(clientId);
    if (entry) {
      entry.failed = false;
      entry.error = "";
      saveOutbox();
      showPending(entry, "pending");
      sendFrame(frameFor(entry));
      return;
    }
    if (uploads[clientId]) uploadImage(uploads[clientId], clientId);
  }

  function discardSend(clientId) {
    outboxRemove(clientId);
    delete uploads[clientId];
    if (pendingEls[clientId]) { pendingEls[clientId].remove(); delete pendingEls[clientId]; }
  }

  function queue(kind, fields) {
    if (!convId) return;
    var entry = {
      conversation: convId, client_id: uuid(), kind: kind, text: fields.text || "", card: fields.card || null,
      cardPreview: fields.cardPreview || null, created_at: new Date().toISOString(), failed: false,
    };
    outbox.push(entry);
    saveOutbox();
    showPending(entry, "pending");
    sendFrame(frameFor(entry));
  }

  // --- pictures: REST multipart upload ----------------------------------------------------------
  function uploadImage(file, clientId) {
    clientId = clientId || uuid();
    uploads[clientId] = file;
    var entry = { conversation: convId, client_id: clientId, kind: "image", created_at: new Date().toISOString() };
    try { entry.localUrl = URL.createObjectURL(file); } catch (e) { /* preview is optional */ }
    showPending(entry, "pending", gettext("Uploading picture…"));
    var form = new FormData();
    form.append("client_id", clientId);
    form.append("kind", "image");
    form.append("image", file);
    api("POST", "/api/conversations/" + convId + "/messages/", form)
      .then(function (msg) {
        delete uploads[clientId];
        onMessage(msg);
      })
      .catch(function (err) {
        showPending(entry, "failed", gettext("The picture could not be sent.") + " " + err.message);
      });
  }

  // --- the composer -----------------------------------------------------------------------------
  var form = $("composer");
  var textarea = $("composer-text");
  var lastTypingSent = 0;
  if (form && textarea) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var text = textarea.value.trim();
      if (!text) return;
      if (mySide === "shop" && /^\/\w+/.test(text) && window.FansiBot && window.FansiBot.command(text)) {
        textarea.value = "";
        autosize();
        return;
      }
      if (text.length > (cfg.max_length || 4000)) { composerError(gettext("The message is too long.")); return; }
      queue("text", { text: text });
      textarea.value = "";
      autosize();
      textarea.focus();
    });
    textarea.addEventListener("keydown", function (ev) {
      // Enter sends; Shift+Enter is a new line; never interrupt an IME composition.
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
        ev.preventDefault();
        form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit", { cancelable: true }));
      }
    });
    textarea.addEventListener("input", function () {
      autosize();
      var now = Date.now();
      if (convId && textarea.value && now - lastTypingSent > 2500) {
        if (sendFrame({ type: "typing", conversation: convId })) lastTypingSent = now;
      }
    });
  }
  function autosize() {
    if (!textarea) return;
    textarea.style.height = "auto";
    textarea.style.height = Math.min(textarea.scrollHeight + 2, 140) + "px";
  }

  var imageInput = $("image-input");
  if (imageInput) {
    imageInput.addEventListener("change", function () {
      var file = imageInput.files && imageInput.files[0];
      imageInput.value = "";
      if (!file) return;
      if (!/^image\//.test(file.type)) { composerError(gettext("The picture could not be sent.")); return; }
      uploadImage(file);
    });
  }

  var earlier = $("load-earlier");
  if (earlier) {
    earlier.hidden = !hasMore;
    earlier.addEventListener("click", function () {
      if (!firstSeq) return;
      earlier.disabled = true;
      var height = scroller.scrollHeight;
      api("GET", "/api/conversations/" + convId + "/messages/?before_seq=" + firstSeq + "&limit=50")
        .then(function (page) {
          var stickTop = scroller.scrollTop;
          (page.results || []).forEach(function (m) { insertConfirmed(m); });
          scroller.scrollTop = stickTop + (scroller.scrollHeight - height);
          hasMore = page.has_more;
          earlier.hidden = !hasMore;
        })
        .catch(function (err) { composerError(err.message); })
        .then(function () { earlier.disabled = false; });
    });
  }

  // --- inbox: the live conversation list, assignment, product cards ------------------------------
  var convList = $("conv-list");

  function assignedTo(name) { return name ? interpolate(gettext("Assigned to %(name)s"), { name: name }, true) : ""; }

  function convItem(id) { return convList ? convList.querySelector('li[data-conversation="' + id + '"]') : null; }

  function setBadge(id, n) {
    var li = convItem(id);
    if (!li) return;
    var badge = li.querySelector(".badge");
    badge.dataset.unread = String(n);
    badge.textContent = String(n);
    badge.hidden = n <= 0;
  }

  function buildConvItem(conv) {
    var li = el("li", "conv-item");
    li.dataset.conversation = conv.id;
    var a = el("a");
    a.href = "/inbox/c/" + conv.id + "/?shop=" + cfg.shop;
    a.appendChild(el("span", "avatar", (conv.fan_name || "?").slice(0, 1)));
    var main = el("span", "conv-main");
    var top = el("span", "conv-top");
    top.appendChild(el("span", "conv-name", conv.fan_name));
    top.appendChild(el("time", "conv-time", ""));
    var bottom = el("span", "conv-bottom");
    bottom.appendChild(el("span", "conv-preview", conv.last_message_preview || ""));
    var badge = el("span", "badge", "0");
    badge.hidden = true;
    bottom.appendChild(badge);
    main.appendChild(top);
    main.appendChild(bottom);
    main.appendChild(el("span", "conv-assignee muted small", assignedTo(conv.assigned_to_name)));
    a.appendChild(main);
    li.appendChild(a);
    return li;
  }

  function inboxBump(msg) {
    if (!convList) return;
    var li = convItem(msg.conversation);
    if (!li) {
      if (cfg.filtered) return; // a filtered list only shows what the server matched
      if (msg.moves_inbox === false) return; // a broadcast or notice does not bring a conversation up
      api("GET", "/api/conversations/" + msg.conversation + "/").then(function (conv) {
        if (conv.shop !== cfg.shop || convItem(conv.id)) return;
        var empty = $("conv-empty");
        if (empty) empty.remove();
        var item = buildConvItem(conv);
        convList.insertBefore(item, convList.firstChild);
        updateItem(item, msg, conv.unread);
      }).catch(function () { /* not ours to show */ });
      return;
    }
    var unread = Number(li.querySelector(".badge").dataset.unread || 0);
    if (msg.side === "shop") unread = 0; // a reply from the team means the fan has been read
    else if (msg.side === "fan") unread = msg.conversation === convId && !document.hidden ? 0 : unread + 1;
    updateItem(li, msg, unread);
  }

  var bumped = {}; // conversation -> last seq counted, so a duplicate delivery does not double the badge
  if (convList) {
    Array.prototype.forEach.call(convList.querySelectorAll("li[data-last-seq]"), function (li) {
      bumped[li.dataset.conversation] = Number(li.dataset.lastSeq);
    });
  }
  function updateItem(li, msg, unread) {
    var id = msg.conversation;
    if (bumped[id] && bumped[id] >= msg.seq) return;
    bumped[id] = msg.seq;
    li.querySelector(".conv-preview").textContent = preview(msg);
    li.querySelector(".conv-time").textContent = timeLabel(msg.created_at);
    setBadge(id, unread);
    setAwaiting(li, msg.awaiting_reply);
    // Only the fan writing or a person answering moves a conversation up (not broadcasts or notices).
    if (msg.moves_inbox !== false && convList.firstChild !== li) convList.insertBefore(li, convList.firstChild);
  }

  function setAwaiting(li, awaiting) {
    if (awaiting === undefined || awaiting === null) return;
    var label = li.querySelector(".conv-awaiting");
    if (!label && awaiting) {
      label = el("span", "conv-awaiting small", gettext("Awaiting reply"));
      li.querySelector(".conv-main").appendChild(label);
    }
    if (label) label.hidden = !awaiting;
  }

  function onAssigned(id, userId) {
    var name = userId ? (cfg.team || {})[String(userId)] || "" : "";
    var li = convItem(id);
    if (li) {
      var label = li.querySelector(".conv-assignee");
      if (label) label.textContent = assignedTo(name);
    }
    if (id === convId) {
      var select = $("assign-select");
      if (select) select.value = userId ? String(userId) : "";
      cfg.assigned_to = userId;
    }
  }

  var assignSelect = $("assign-select");
  if (assignSelect) {
    assignSelect.addEventListener("change", function () {
      var value = assignSelect.value ? Number(assignSelect.value) : null;
      api("POST", "/api/conversations/" + convId + "/assign/", { staff: value })
        .then(function (conv) { onAssigned(conv.id, conv.assigned_to); })
        .catch(function (err) {
          assignSelect.value = cfg.assigned_to ? String(cfg.assigned_to) : "";
          composerError(gettext("Could not assign the conversation.") + " " + err.message);
        });
    });
  }

  var cardButton = $("card-button");
  var picker = $("card-picker");
  var pickerList = $("card-picker-list");
  var productsLoaded = false;
  if (cardButton && picker) {
    cardButton.addEventListener("click", function () {
      picker.hidden = !picker.hidden;
      if (!picker.hidden && !productsLoaded) loadProducts();
    });
    $("card-picker-close").addEventListener("click", function () { picker.hidden = true; });
  }
  function loadProducts() {
    api("GET", "/api/products/?shop=" + cfg.shop)
      .then(function (products) {
        productsLoaded = true;
        pickerList.textContent = "";
        if (!products.length) { pickerList.appendChild(el("li", "empty", gettext("No products yet."))); return; }
        products.forEach(function (p) {
          var li = el("li");
          var b = el("button");
          b.type = "button";
          b.appendChild(el("span", "", p.name));
          b.appendChild(el("span", "chat-card-price", "¥" + p.price));
          b.addEventListener("click", function () {
            picker.hidden = true;
            queue("product_card", {
              card: { product: p.id },
              cardPreview: { name: p.name, price: p.price, currency: p.currency, image: p.image, available: p.is_available },
            });
          });
          li.appendChild(b);
          pickerList.appendChild(li);
        });
      })
      .catch(function (err) { composerError(err.message); });
  }

  // --- what bot.js uses: send a card through the outbox, fill the composer, show an error ----------
  window.FansiChat = {
    conversation: convId,
    side: mySide,
    renderCard: renderCard,
    sendCard: function (kind, card, cardPreview) { queue(kind, { card: card, cardPreview: cardPreview }); },
    fill: function (text) {
      if (!textarea) return;
      textarea.value = text;
      autosize();
      textarea.focus();
    },
    error: composerError,
  };

  // --- start --------------------------------------------------------------------------------------
  (cfg.messages || []).forEach(function (m) { insertConfirmed(m); });
  outbox.forEach(function (entry) { showPending(entry, entry.failed ? "failed" : "pending", entry.failed ? entry.error : ""); });
  if (convId && mySide === "shop") {
    var active = convItem(convId);
    if (active) { setBadge(convId, 0); active.classList.add("active"); }
  }
  if (convList) {
    // Show list times in the viewer's own time zone, like the message times.
    Array.prototype.forEach.call(convList.querySelectorAll("time.conv-time[datetime]"), function (t) {
      if (t.getAttribute("datetime")) t.textContent = timeLabel(t.getAttribute("datetime"));
    });
  }
  toBottom();
  setStatus(false);
  if (cfg.fan_user) setFanPresence(!!cfg.fan_online);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) maybeRead(); });
  window.addEventListener("online", function () { if (!ready) { attempts = 0; connect(); } });
  connect();
})();
