/* Fansi: an owner's controls on a live group campaign (templates/preorders/_campaign_controls.html): close now
 * once the target is reached, extend the deadline once, cancel with refunds. Each shows its result in place;
 * errors show next to the control. User text reaches the DOM through textContent only. */
(function () {
  "use strict";

  var $ = Fansi.$, api = Fansi.api;
  var CFG = Fansi.config("campaign-config", {});
  var box = $("campaign-controls");
  if (!box || CFG.page !== "detail") return;
  var root = document.querySelector("[data-page=campaign-detail]");
  var closeNow = $("close-now");
  var STATUS = { succeeded: gettext("Succeeded"), cancelled: gettext("Cancelled"), live: gettext("Live"),
    closing: gettext("Closing"), failed: gettext("Failed") };

  function showError(id, err) {
    var el = $(id);
    el.textContent = (err && err.message) || gettext("Something went wrong; please retry.");
    el.hidden = false;
  }
  function hideErrors() { box.querySelectorAll(".field-error").forEach(function (el) { el.hidden = true; }); }

  function badge(status) {
    root.querySelectorAll("[data-status-badge]").forEach(function (el) {
      el.className = "status-badge status-" + status;
      el.textContent = STATUS[status] || status;
    });
  }
  function done(status, message) {
    badge(status);
    box.hidden = true;
    var result = $("manage-result");
    result.textContent = message;
    result.hidden = false;
  }

  /* The close-now button follows the live progress (campaign.js keeps data-committed on the page). */
  function syncClose() {
    var committed = Number(root.getAttribute("data-committed") || CFG.committed_quantity || 0);
    var reached = committed >= Number(CFG.target_quantity);
    closeNow.disabled = !reached;
    $("close-now-hint").hidden = reached;
  }
  new MutationObserver(syncClose).observe(root, { attributes: true, attributeFilter: ["data-committed"] });
  syncClose();

  closeNow.addEventListener("click", function () {
    hideErrors();
    closeNow.disabled = true;
    api("POST", CFG.close_api).then(function (c) {
      done(c.status === "succeeded" ? "succeeded" : "closing",
        c.status === "succeeded" ? gettext("Closed early: the fans have been asked for their balance.")
          : gettext("Closing: the last deposits are being settled."));
    }).catch(function (err) { syncClose(); showError("manage-error", err); });
  });

  function toggle(form, opener) {
    var open = form.hidden;
    box.querySelectorAll(".manage-form").forEach(function (f) { f.hidden = true; });
    box.querySelectorAll("[aria-expanded]").forEach(function (b) { b.setAttribute("aria-expanded", "false"); });
    form.hidden = !open;
    opener.setAttribute("aria-expanded", String(open));
    if (open) { var first = form.querySelector("input"); if (first) first.focus(); }
  }
  box.querySelectorAll("[data-close-form]").forEach(function (b) {
    b.addEventListener("click", function () {
      b.closest("form").hidden = true;
      box.querySelectorAll("[aria-expanded]").forEach(function (o) { o.setAttribute("aria-expanded", "false"); });
    });
  });

  var extendForm = $("extend-form");
  if (extendForm) {
    $("extend-open").addEventListener("click", function () { hideErrors(); toggle(extendForm, $("extend-open")); });
    extendForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      hideErrors();
      var value = extendForm.deadline.value;
      if (!value) { showError("extend-error", { message: gettext("Choose the new deadline.") }); return; }
      var button = $("extend-submit");
      button.disabled = true;
      // The picker shows the shop's wall time; the API reads a time without an offset the same way.
      api("POST", CFG.extend_api, { deadline: value }).then(function () {
        extendForm.remove();
        $("extend-open").remove();
        var result = $("manage-result");
        result.textContent = interpolate(gettext("Extended to %(when)s. Every fan who pledged is told."),
          { when: value.replace("T", " ") }, true);
        result.hidden = false;
        root.querySelectorAll("[data-deadline-text]").forEach(function (el) { el.textContent = value.replace("T", " "); });
      }).catch(function (err) { button.disabled = false; showError("extend-error", err); });
    });
  }

  var cancelForm = $("cancel-form");
  $("cancel-open").addEventListener("click", function () { hideErrors(); toggle(cancelForm, $("cancel-open")); });
  cancelForm.addEventListener("submit", function (ev) {
    ev.preventDefault();
    hideErrors();
    var button = $("cancel-confirm");
    button.disabled = true;
    api("POST", CFG.cancel_api, { reason: cancelForm.reason.value.trim() }).then(function () {
      done("cancelled", gettext("Cancelled: every deposit is refunded."));
    }).catch(function (err) { button.disabled = false; showError("cancel-error", err); });
  });
})();
