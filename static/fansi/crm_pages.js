/* Fansi fan CRM: the staff's smaller pages: /fans/<id>/ (tags, notes), /segments/ and /team/.
 * Needs crm_common.js (window.FansiCrm). User data is rendered with textContent only. */
(function () {
  "use strict";

  var P = window.FansiCrm;
  var $ = Fansi.$, api = Fansi.api, flash = Fansi.toast, flashError = Fansi.toastError;
  var CFG = P.cfg;

  /* ------------------------------------------------------------------------------------------------
   * /fans/<id>/: tag editing and private notes.
   * ------------------------------------------------------------------------------------------------ */
  function fanPage() {
    document.querySelectorAll("[data-fan-tag]").forEach(function (chip) {
      chip.addEventListener("click", function () {
        var tag = chip.dataset.fanTag;
        var body = chip.dataset.held === "1" ? { add: [], remove: [tag] } : { add: [tag], remove: [] };
        chip.disabled = true;
        api("POST", "/api/fans/" + CFG.fan + "/tags/", body).then(function () {
          try { sessionStorage.setItem("crm-open-editor", "1"); } catch (e) { /* ignore */ }
          window.location.reload();
        }).catch(function (err) { chip.disabled = false; flashError(err); });
      });
    });
    try {
      if (sessionStorage.getItem("crm-open-editor")) {
        sessionStorage.removeItem("crm-open-editor");
        $("tag-editor").open = true;
      }
    } catch (e) { /* ignore */ }
    $("notes-form").addEventListener("submit", function (e) {
      e.preventDefault();
      var status = $("notes-status");
      status.textContent = "";
      api("PATCH", "/api/fans/" + CFG.fan + "/", { notes: $("notes").value })
        .then(function () { status.textContent = gettext("Saved."); })
        .catch(flashError);
    });
  }

  /* ------------------------------------------------------------------------------------------------
   * /segments/
   * ------------------------------------------------------------------------------------------------ */
  function segmentsPage() {
    document.querySelectorAll("[data-delete-segment]").forEach(function (btn) {
      btn.addEventListener("click", function () {
        if (!window.confirm(interpolate(gettext("Delete the segment “%(name)s”? The fans are not affected."), { name: btn.dataset.name }, true))) return;
        api("DELETE", "/api/segments/" + btn.dataset.deleteSegment + "/").then(function () {
          var li = btn.closest("li");
          if (li) li.remove();
        }).catch(flashError);
      });
    });
  }

  /* ------------------------------------------------------------------------------------------------
   * /team/
   * ------------------------------------------------------------------------------------------------ */
  function teamPage() {
    var memberForm = $("member-form");
    if (memberForm) memberForm.addEventListener("submit", function (e) {
      e.preventDefault();
      var username = $("member-username").value.trim();
      if (!username) return;
      api("POST", "/api/team/", { shop: CFG.shop, username: username, role: $("member-role").value }).then(function (m) {
        Fansi.toastAfterReload(interpolate(gettext("%(name)s joined the team."), { name: m.name }, true));
        window.location.reload();
      }).catch(flashError);
    });
    document.querySelectorAll("[data-role-member]").forEach(function (select) {
      var before = select.value;
      select.addEventListener("change", function () {
        api("PATCH", "/api/team/" + select.dataset.roleMember + "/", { role: select.value })
          .then(function () { before = select.value; flash(gettext("Saved.")); })
          .catch(function (err) { select.value = before; flashError(err); });
      });
    });
    document.querySelectorAll("[data-remove-member]").forEach(function (btn) {
      btn.addEventListener("click", function () {
        if (!window.confirm(interpolate(gettext("Remove %(name)s from the team?"), { name: btn.dataset.name }, true))) return;
        api("DELETE", "/api/team/" + btn.dataset.removeMember + "/").then(function () { window.location.reload(); })
          .catch(flashError);
      });
    });
    var handover = $("handover-form");
    if (handover) handover.addEventListener("submit", function (e) {
      e.preventDefault();
      var from = $("handover-from").value;
      var to = $("handover-to").value;
      if (from === to) { flash(gettext("Choose two different people."), true); return; }
      api("POST", "/api/team/handover/", { shop: CFG.shop, from_user: Number(from), to_user: to ? Number(to) : null })
        .then(function (r) { Fansi.toastAfterReload(interpolate(gettext("Handed over %(n)s fans."), { n: r.moved }, true)); window.location.reload(); })
        .catch(flashError);
    });
  }

  P.pages.fan = fanPage;
  P.pages.segments = segmentsPage;
  P.pages.team = teamPage;
})();
