/* The inbox's triage chips (待回复, 分配给我, 未读): their counts follow the live frames (chat.js dispatches
 * them as "fansi:frame"), refreshed from the server at most once a second. */
(function () {
  "use strict";

  var chips = document.querySelector(".triage-chips");
  var cfg = Fansi.config("chat-config", null);
  if (!chips || !cfg || !cfg.shop) return;
  var timer = null;

  function refresh() {
    timer = null;
    Fansi.api("GET", "/api/conversations/counts/?shop=" + cfg.shop).then(function (counts) {
      Object.keys(counts).forEach(function (name) {
        var span = chips.querySelector('[data-count="' + name + '"]');
        if (span) span.textContent = String(counts[name]);
      });
    }).catch(function () { /* keep the last counts */ });
  }

  document.addEventListener("fansi:frame", function (ev) {
    var type = (ev.detail || {}).type;
    // reminder.*: reach's follow-ups move the 跟进提醒 chip (docs/reach.md).
    var counted = { "message.new": 1, read: 1, "conversation.assigned": 1, "reminder.due": 1, "reminder.closed": 1 };
    if (!counted[type]) return;
    if (!timer) timer = setTimeout(refresh, 1000);
  });
})();
