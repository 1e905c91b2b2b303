/* Fansi lifecycle tags: the thresholds form and "recompute now" on the shop settings page (templates/fans/crm/
 * _lifecycle_settings.html). The recompute runs in the worker; this polls the settings for its progress and
 * redraws the bar chart. User text reaches the DOM through textContent only. */
(function () {
  "use strict";
  var $ = Fansi.$, api = Fansi.api, toastError = Fansi.toastError;

  function url(path, shop) { return "/api/lifecycle/" + path + "/?shop=" + encodeURIComponent(shop); }

  function draw(state) {
    var bars = $("lifecycle-bars");
    var counts = state.counts || {}, top = 1;
    Object.keys(counts).forEach(function (k) { top = Math.max(top, counts[k] || 0); });
    bars.querySelectorAll("li").forEach(function (li) {
      var n = counts[li.dataset.code] || 0;
      li.querySelector("[data-count]").textContent = String(n);
      li.querySelector(".lifecycle-fill").style.width = Math.round(100 * n / top) + "%";
    });
    var computed = $("lifecycle-computed");
    if (state.computed_at) {
      computed.textContent = interpolate(gettext("Last computed %s"), [new Date(state.computed_at).toLocaleString()]);
    }
  }

  function init() {
    var section = $("lifecycle"), form = $("lifecycle-form");
    if (!section || !form) return;
    var shop = section.dataset.shop, status = $("lifecycle-status"), bar = $("lifecycle-progress");
    var recompute = $("lifecycle-recompute");
    var say = function (text) { if (status) status.textContent = text; };

    function follow() {
      if (!bar) return;
      bar.hidden = false;
      if (recompute) recompute.disabled = true;
      say(gettext("Recomputing…"));
      var timer = setInterval(function () {
        api("GET", url("settings", shop)).then(function (state) {
          Fansi.setProgress(bar, state.progress, 1);
          if (state.running) return;
          clearInterval(timer);
          Fansi.setProgress(bar, 1, 1);
          draw(state);
          var r = state.result || {};
          say(interpolate(gettext("Done: %(fans)s fans, %(added)s tags added, %(removed)s removed."), {
            fans: r.fans || 0, added: r.added || 0, removed: r.removed || 0,
          }, true));
          if (recompute) recompute.disabled = false;
        }).catch(function (err) { clearInterval(timer); if (recompute) recompute.disabled = false; toastError(err); });
      }, 1000);
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = {};
      ["new_days", "at_risk_after_days", "lapsed_after_days", "vip_percentile"].forEach(function (name) {
        body[name] = Number(form.elements[name].value);
      });
      api("PATCH", url("settings", shop), body).then(function (state) {
        ["new_days", "at_risk_after_days", "lapsed_after_days", "vip_percentile"].forEach(function (name) {
          form.elements[name].value = state[name];
        });
        say(gettext("Saved. The new thresholds apply from the next computation."));
      }).catch(toastError);
    });
    if (recompute) {
      recompute.addEventListener("click", function () {
        api("POST", url("recompute", shop)).then(follow).catch(toastError);
      });
    }
    if (section.dataset.running) follow();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
