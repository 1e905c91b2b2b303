/* Fansi fan CRM: /me/privacy/, the fan's own page (personalisation switches, erasing a shop's tags).
 * Needs crm_common.js (window.FansiCrm). */
(function () {
  "use strict";

  var P = window.FansiCrm;
  var api = Fansi.api, flash = Fansi.toast, flashError = Fansi.toastError;

  /* ------------------------------------------------------------------------------------------------
   * /me/privacy/ (fans)
   * ------------------------------------------------------------------------------------------------ */
  function privacyPage() {
    personalisationSwitches();
    document.querySelectorAll("[data-erase-shop]").forEach(function (btn) {
      btn.addEventListener("click", function () {
        if (!window.confirm(interpolate(gettext("Ask %(shop)s to remove every tag it holds on you?"), { shop: btn.dataset.name }, true))) return;
        btn.disabled = true;
        api("POST", "/api/me/shops/" + btn.dataset.eraseShop + "/tags/erase/").then(function (r) {
          Fansi.toastAfterReload(interpolate(gettext("%(n)s tags were removed."), { n: r.removed }, true));
          window.location.reload();
        }).catch(function (err) { btn.disabled = false; flashError(err); });
      });
    });
  }

  function personalisationSwitches() {
    document.querySelectorAll("[data-personalisation-shop]").forEach(function (box) {
      box.addEventListener("change", function () {
        var want = box.checked;
        box.disabled = true;
        api("POST", "/api/me/shops/" + box.dataset.personalisationShop + "/personalisation/", { opt_out: want })
          .then(function (state) {
            box.checked = !!state.opt_out;
            flash(state.opt_out
              ? gettext("Personalised recommendations are off for this shop.")
              : gettext("Personalised recommendations are on again for this shop."));
          })
          .catch(function (err) { box.checked = !want; flashError(err); })
          .then(function () { box.disabled = false; });
      });
    });
  }

  P.pages.privacy = privacyPage;
})();
