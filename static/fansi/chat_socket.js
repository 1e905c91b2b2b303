/* Fansi chat client, part 2 of 4: the websocket (connect, heartbeat, frames), sending through the outbox,
 * read receipts, typing, and pictures by REST upload. Needs chat_thread.js (window.FansiChatParts). */
(function () {
  "use strict";

  var C = window.FansiChatParts;
  if (!C) return;
  var S = C.state;
  var $ = Fansi.$, uuid = Fansi.uuid, api = Fansi.api;
  var cfg = C.cfg, me = C.me, mySide = C.mySide, convId = C.convId;
  var RETRYABLE = { rate_limited: true, internal: true };
  var OVER_BUDGET = gettext("This fan already received a promotion today; skipped.");
  var myReadSeq = mySide === "fan" ? cfg.fan_read_seq || 0 : cfg.shop_read_seq || 0;
  var uploads = {}; // client_id -> File, for retrying a failed picture

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

  // The browser is back online: reconnect now instead of waiting out the backoff.
  function reconnectNow() {
    if (!ready) { attempts = 0; connect(); }
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
    S.outbox.forEach(function (entry) {
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
        if (convId) sendFrame({ type: "sync", conversation: convId, after_seq: S.lastSeq });
        flushOutbox();
        maybeRead();
        break;
      case "pong":
        clearTimeout(pongTimer);
        break;
      case "message.ack":
        C.outboxRemove(frame.client_id);
        if (frame.message) onMessage(frame.message);
        break;
      case "message.new":
        onMessage(frame.message);
        break;
      case "sync.result":
        (frame.messages || []).forEach(onMessage);
        if (frame.has_more && frame.conversation === convId) {
          sendFrame({ type: "sync", conversation: convId, after_seq: S.lastSeq });
        }
        break;
      case "read":
        onRead(frame);
        break;
      case "typing":
        onTyping(frame);
        break;
      case "conversation.assigned":
        C.onAssigned(frame.conversation, frame.assigned_to);
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
    if (msg.sender === me && msg.client_id && C.outboxFind(msg.client_id)) C.outboxRemove(msg.client_id);
    C.insertConfirmed(msg);
    if (mySide === "shop") C.inboxBump(msg);
    if (msg.conversation === convId && !C.isOwn(msg)) {
      hideTyping();
      maybeRead();
    }
  }

  function maybeRead() {
    if (!convId || document.hidden || S.lastSeq <= myReadSeq) return;
    if (sendFrame({ type: "read", conversation: convId, seq: S.lastSeq })) myReadSeq = S.lastSeq;
  }

  function onRead(frame) {
    if (frame.side !== mySide) {
      if (frame.conversation === convId && frame.seq > S.otherReadSeq) {
        S.otherReadSeq = frame.seq;
        C.refreshReceipts();
      }
    } else {
      if (frame.conversation === convId && frame.seq > myReadSeq) myReadSeq = frame.seq;
      if (mySide === "shop") C.setBadge(frame.conversation, 0);
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
    C.outboxRemove(frame.client_id);
    C.dropPending(frame.client_id);
    C.composerError(interpolate(gettext("Quiet hours for this fan: it will be sent at %s."),
      [C.timeLabel(frame.deferred_until)]));
    document.dispatchEvent(new CustomEvent("fansi:scheduled", { detail: frame.scheduled_message }));
  }

  function onError(frame) {
    var entry = frame.client_id ? C.outboxFind(frame.client_id) : null;
    if (!entry) { C.composerError(frame.message || gettext("Something went wrong; please retry.")); return; }
    if (frame.code === "over_budget") {
      C.outboxRemove(entry.client_id);
      var why = frame.message || OVER_BUDGET;
      C.showPending(entry, "failed skipped", why);
      C.composerError(OVER_BUDGET + (frame.message && frame.message !== OVER_BUDGET ? " · " + frame.message : ""));
      return;
    }
    if (RETRYABLE[frame.code]) {
      C.showPending(entry, "pending", frame.code === "rate_limited"
        ? gettext("You are sending too fast; it will be retried shortly.") : frame.message);
      setTimeout(function () { if (C.outboxFind(entry.client_id)) sendFrame(frameFor(entry)); }, 4000);
      return;
    }
    entry.failed = true;
    entry.error = frame.code === "too_long" ? gettext("The message is too long.")
      : frame.message || gettext("Something went wrong; please retry.");
    C.saveOutbox();
    C.showPending(entry, "failed", entry.error);
  }

  function retrySend(clientId) {
    var entry = C.outboxFind(clientId);
    if (entry) {
      entry.failed = false;
      entry.error = "";
      C.saveOutbox();
      C.showPending(entry, "pending");
      sendFrame(frameFor(entry));
      return;
    }
    if (uploads[clientId]) uploadImage(uploads[clientId], clientId);
  }

  function discardSend(clientId) {
    C.outboxRemove(clientId);
    delete uploads[clientId];
    C.dropPending(clientId);
  }

  function queue(kind, fields) {
    if (!convId) return;
    var entry = {
      conversation: convId, client_id: uuid(), kind: kind, text: fields.text || "", card: fields.card || null,
      cardPreview: fields.cardPreview || null, created_at: new Date().toISOString(), failed: false,
    };
    S.outbox.push(entry);
    C.saveOutbox();
    C.showPending(entry, "pending");
    sendFrame(frameFor(entry));
  }

  // --- pictures: REST multipart upload ----------------------------------------------------------
  function uploadImage(file, clientId) {
    clientId = clientId || uuid();
    uploads[clientId] = file;
    var entry = { conversation: convId, client_id: clientId, kind: "image", created_at: new Date().toISOString() };
    try { entry.localUrl = URL.createObjectURL(file); } catch (e) { /* preview is optional */ }
    C.showPending(entry, "pending", gettext("Uploading picture…"));
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
        C.showPending(entry, "failed", gettext("The picture could not be sent.") + " " + err.message);
      });
  }

  C.setStatus = setStatus;
  C.setFanPresence = setFanPresence;
  C.sendFrame = sendFrame;
  C.connect = connect;
  C.reconnectNow = reconnectNow;
  C.maybeRead = maybeRead;
  C.retrySend = retrySend;
  C.discardSend = discardSend;
  C.queue = queue;
  C.uploadImage = uploadImage;
})();
