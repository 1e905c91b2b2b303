/* "My orders": pay the balance (one Idempotency-Key per tap, reused on a retry) and pay a box in dunning. */
(function () {
  "use strict";
  var page = document.querySelector("[data-page='my-orders']");
  if (!page || !window.Fansi) return;

  function key() {
    return (window.crypto && window.crypto.randomUUID) ? window.crypto.randomUUID() : String(Date.now()) + Math.random();
  }

  page.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-action]");
    if (!button) return;
    var card = button.closest("[data-pledge]");
    var action = button.getAttribute("data-action");
    var url, headers = {};
    if (action === "pay-balance") {
      button.dataset.key = button.dataset.key || key();
      url = "/api/pledges/" + card.getAttribute("data-pledge") + "/pay-balance/";
      headers["Idempotency-Key"] = button.dataset.key;
    } else if (action === "pay-now") {
      url = "/api/cycle-deliveries/" + button.closest("[data-delivery]").getAttribute("data-delivery") + "/pay/";
    } else {
      return;
    }
    button.disabled = true;
    window.Fansi.api("POST", url, undefined, headers).then(function (body) {
      window.Fansi.toast(body.status === "paid" || body.status === "charged" ? gettext("Paid") : gettext("Payment in progress…"));
      window.setTimeout(function () { window.location.reload(); }, 600);
    }).catch(function (error) {
      button.disabled = false;
      var box = document.getElementById("orders-error");
      box.textContent = (error && error.message) || gettext("Something went wrong");
      box.hidden = false;
    });
  });
})();
