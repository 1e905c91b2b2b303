/* "My orders": write a review, pay the balance (one Idempotency-Key per tap, reused on a retry) and pay a box in dunning. */
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
    } else if (action === "review-open") {
      var form = card.querySelector("[data-review-form]");
      form.hidden = !form.hidden;
      return;
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

  /* "Write a review": stars, text, up to 3 photos and the "suits my ..." answers, sent as multipart. */
  page.addEventListener("submit", function (event) {
    var form = event.target.closest("[data-review-form]");
    if (!form) return;
    event.preventDefault();
    var card = form.closest("[data-pledge]");
    var data = new FormData();
    data.append("pledge", card.getAttribute("data-pledge"));
    data.append("stars", form.querySelector("input[name=stars]:checked").value);
    data.append("text", form.querySelector("textarea[name=text]").value);
    var files = form.querySelector("input[name=photos]").files;
    for (var i = 0; i < files.length; i++) data.append("photos", files[i]);
    var suits = {};
    form.querySelectorAll("input[name=suits]:checked").forEach(function (box) { suits[box.value] = true; });
    if (Object.keys(suits).length) data.append("suits", JSON.stringify(suits));
    data.append("show_name", form.querySelector("input[name=show_name]").checked ? "1" : "0");
    var submit = form.querySelector("button[type=submit]");
    submit.disabled = true;
    window.Fansi.api("POST", "/api/reviews/", data).then(function () {
      window.Fansi.toast(gettext("Thank you for your review"));
      window.setTimeout(function () { window.location.reload(); }, 600);
    }).catch(function (error) {
      submit.disabled = false;
      var box = document.getElementById("orders-error");
      box.textContent = (error && error.message) || gettext("Something went wrong");
      box.hidden = false;
    });
  });
})();
