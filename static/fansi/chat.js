/* Fansi chat client, part 4 of 4: the composer, earlier messages, what bot.js uses, and the start.
 * One websocket, an outbox that never loses a message, no framework. The parts, loaded in order by
 * templates/fans/_chat_scripts.html: chat_thread.js (the thread and the outbox), chat_socket.js (the
 * websocket and sending), chat_inbox.js (the conversation list), then this file.
 *
 * Every piece of user text reaches the DOM through textContent, never innerHTML.
 * Protocol: docs/chat-protocol.md (hello, message.send/ack/new, sync, read, typing, error).
 */
(function () {
  "use strict";

  var C = window.FansiChatParts;
  if (!C) return;
  var S = C.state;
  var $ = Fansi.$, api = Fansi.api;
  var cfg = C.cfg, mySide = C.mySide, convId = C.convId;

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
      if (text.length > (cfg.max_length || 4000)) { C.composerError(gettext("The message is too long.")); return; }
      C.queue("text", { text: text });
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
        if (C.sendFrame({ type: "typing", conversation: convId })) lastTypingSent = now;
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
      if (!/^image\//.test(file.type)) { C.composerError(gettext("The picture could not be sent.")); return; }
      C.uploadImage(file);
    });
  }

  var scroller = C.scroller;
  var earlier = $("load-earlier");
  if (earlier) {
    earlier.hidden = !S.hasMore;
    earlier.addEventListener("click", function () {
      if (!S.firstSeq) return;
      earlier.disabled = true;
      var height = scroller.scrollHeight;
      api("GET", "/api/conversations/" + convId + "/messages/?before_seq=" + S.firstSeq + "&limit=50")
        .then(function (page) {
          var stickTop = scroller.scrollTop;
          (page.results || []).forEach(function (m) { C.insertConfirmed(m); });
          scroller.scrollTop = stickTop + (scroller.scrollHeight - height);
          S.hasMore = page.has_more;
          earlier.hidden = !S.hasMore;
        })
        .catch(function (err) { C.composerError(err.message); })
        .then(function () { earlier.disabled = false; });
    });
  }

  // --- what bot.js uses: send a card through the outbox, fill the composer, show an error ----------
  window.FansiChat = {
    conversation: convId,
    side: mySide,
    renderCard: C.renderCard,
    sendCard: function (kind, card, cardPreview) { C.queue(kind, { card: card, cardPreview: cardPreview }); },
    fill: function (text) {
      if (!textarea) return;
      textarea.value = text;
      autosize();
      textarea.focus();
    },
    error: C.composerError,
  };

  // --- start --------------------------------------------------------------------------------------
  (cfg.messages || []).forEach(function (m) { C.insertConfirmed(m); });
  S.outbox.forEach(function (entry) { C.showPending(entry, entry.failed ? "failed" : "pending", entry.failed ? entry.error : ""); });
  if (convId && mySide === "shop") {
    var active = C.convItem(convId);
    if (active) { C.setBadge(convId, 0); active.classList.add("active"); }
  }
  var convList = C.convList;
  if (convList) {
    // Show list times in the viewer's own time zone, like the message times.
    Array.prototype.forEach.call(convList.querySelectorAll("time.conv-time[datetime]"), function (t) {
      if (t.getAttribute("datetime")) t.textContent = C.timeLabel(t.getAttribute("datetime"));
    });
  }
  C.toBottom();
  C.setStatus(false);
  if (cfg.fan_user) C.setFanPresence(!!cfg.fan_online);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) C.maybeRead(); });
  window.addEventListener("online", C.reconnectNow);
  C.connect();
})();
