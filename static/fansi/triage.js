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
    if (type !== "message.new" && type !== "read" && type !== "conversation.assigned") return;
    if (!timer) timer = setTimeout(refresh, 1000);
  });
})();
