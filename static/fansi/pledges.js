/* "My pledges": change a pledge (the deposit difference quoted before confirming), skip, pause, resume and
 * cancel (the refund quoted before confirming), each answered in place. User data goes in with textContent. */
(function () {
  "use strict";
  var page = document.querySelector("[data-page='my-pledges']");
  if (!page || !window.Fansi) return;
  var api = Fansi.api;
  var CFG = Fansi.config("campaign-config", {});
  var LABELS = CFG.status_labels || {};

  function money(value) {
    var n = Math.abs(Number(value || 0));
    return (Math.round(n * 100) / 100).toFixed(2).replace(/\.00$/, "");
  }
  function refundCopy(amount) {
    return interpolate(gettext("¥%(amount)s will be refunded, back to your original payment method in 1–3 working days."),
      { amount: money(amount) }, true);
  }
  function show(el, text) { el.textContent = text; el.hidden = !text; }

  function setStatus(card, status) {
    var badge = card.querySelector("[data-pledge-status]");
    var kind = card.getAttribute("data-kind");
    card.setAttribute("data-status", status);
    badge.className = "status-badge status-" + status;
    badge.textContent = (LABELS[kind] && LABELS[kind][status]) || badge.textContent;
  }
  function note(card, text) { show(card.querySelector("[data-note]"), text); }

  /* Change: every edit asks the server what the deposit becomes (the same checks as the change itself). */
  function initChange(card, id) {
    var form = card.querySelector("[data-change-form]");
    if (!form) return;
    var qty = form.querySelector("[name=quantity]");
    var quote = form.querySelector("[data-change-quote]");
    var error = form.querySelector("[data-change-error]");
    var confirm = form.querySelector("[data-change-confirm]");
    var timer = null, seq = 0;
    function quantity() { return Math.max(1, Math.floor(Number(qty.value) || 1)); }
    function variant() {
      var picked = form.querySelector("[name=variant]:checked");
      return picked ? picked.value : form.getAttribute("data-variant");
    }
    function unchanged() {
      return quantity() === Number(form.getAttribute("data-quantity")) && variant() === form.getAttribute("data-variant");
    }
    function ask() {
      clearTimeout(timer);
      confirm.disabled = true;
      show(error, "");
      if (unchanged()) { show(quote, gettext("Pick a new quantity or variant.")); return; }
      show(quote, gettext("Working out the deposit…"));
      var mine = ++seq;
      timer = setTimeout(function () {
        api("GET", "/api/pledges/" + id + "/change-quote/?quantity=" + quantity() + "&variant=" + encodeURIComponent(variant()))
          .then(function (q) {
            if (mine !== seq) return;
            var diff = Number(q.difference);
            show(quote, diff > 0
              ? interpolate(gettext("Extra deposit to pay now: ¥%(amount)s"), { amount: money(diff) }, true)
              : diff < 0 ? refundCopy(diff) : gettext("The deposit stays the same."));
            quote.setAttribute("data-difference", q.difference);
            confirm.disabled = false;
          })
          .catch(function (err) {
            if (mine !== seq) return;
            show(quote, "");
            show(error, err.message);
          });
      }, 200);
    }
    form.querySelectorAll("[data-step]").forEach(function (b) {
      b.addEventListener("click", function () {
        var n = quantity() + Number(b.getAttribute("data-step"));
        var max = qty.getAttribute("max");
        if (max) n = Math.min(n, Number(max));
        qty.value = String(Math.max(1, n));
        ask();
      });
    });
    form.addEventListener("input", ask);
    form.addEventListener("change", ask);
    card.querySelector("[data-change-box]").addEventListener("toggle", function () { if (this.open) ask(); });
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (confirm.disabled) return;
      confirm.disabled = true;
      show(error, "");
      api("PATCH", "/api/pledges/" + id + "/", { quantity: quantity(), variant: Number(variant()) }).then(function (p) {
        form.setAttribute("data-quantity", String(p.quantity));
        form.setAttribute("data-variant", String(p.variant));
        card.querySelector("[data-line]").textContent = p.quantity + " × " + p.variant_name;
        card.querySelector("[data-deposit]").textContent = p.deposit_amount;
        var diff = Number(p.difference || 0);
        note(card, diff > 0
          ? interpolate(gettext("Changed. Extra deposit of ¥%(amount)s paid."), { amount: money(diff) }, true)
          : diff < 0 ? interpolate(gettext("Changed. %(refund)s"), { refund: refundCopy(diff) }, true) : gettext("Changed."));
        show(quote, "");
        card.querySelector("[data-change-box]").open = false;
        var cancelQuote = card.querySelector("[data-cancel-quote]");
        if (cancelQuote) cancelQuote.removeAttribute("data-amount");
      }).catch(function (err) {
        confirm.disabled = false;
        show(error, err.message);
      });
    });
  }

  /* Cancel: the refund is read from the ledger when the dialog opens, and said again once it is done. */
  function initCancel(card, id) {
    var form = card.querySelector("[data-cancel-form]");
    if (!form) return;
    var quote = form.querySelector("[data-cancel-quote]");
    var error = form.querySelector("[data-cancel-error]");
    var button = form.querySelector("button[type=submit]");
    card.querySelector("[data-cancel-box]").addEventListener("toggle", function () {
      if (!this.open) return;
      show(quote, gettext("Working out the refund…"));
      api("GET", "/api/pledges/" + id + "/cancel-quote/").then(function (q) {
        quote.setAttribute("data-amount", q.refund_amount);
        show(quote, Number(q.refund_amount) > 0 ? refundCopy(q.refund_amount) : gettext("Nothing has been paid, so nothing is refunded."));
      }).catch(function (err) { show(quote, ""); show(error, err.message); button.disabled = true; });
    });
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      button.disabled = true;
      show(error, "");
      api("POST", "/api/pledges/" + id + "/cancel/", { reason: form.reason.value.trim() }).then(function (p) {
        setStatus(card, p.status);
        var refunded = Number(p.refund_amount || 0);
        note(card, refunded > 0 ? interpolate(gettext("Cancelled. %(refund)s"), { refund: refundCopy(refunded) }, true)
          : gettext("Cancelled."));
        card.querySelectorAll("[data-change-box], [data-cancel-box], [data-action]").forEach(function (el) { el.remove(); });
      }).catch(function (err) { button.disabled = false; show(error, err.message); });
    });
  }

  function initActions(card, id) {
    card.querySelectorAll("[data-action]").forEach(function (b) {
      b.addEventListener("click", function () {
        var action = b.getAttribute("data-action");
        b.disabled = true;
        api("POST", "/api/pledges/" + id + "/" + action + "/").then(function (data) {
          if (action === "skip") {
            var list = card.querySelector("[data-skips]");
            if (!list.querySelector('[data-skip="' + data.skipped_cycle + '"]')) {
              var li = document.createElement("li");
              li.setAttribute("data-skip", String(data.skipped_cycle));
              li.textContent = interpolate(gettext("Box %(n)s skipped"), { n: data.skipped_cycle }, true);
              list.appendChild(li);
            }
            list.hidden = false;
            note(card, gettext("The next box is skipped"));
            b.disabled = false;
            return;
          }
          setStatus(card, data.status);
          note(card, action === "pause" ? gettext("Paused") : gettext("Resumed"));
          // The buttons differ by state: redraw from the server.
          setTimeout(function () { window.location.reload(); }, 1200);
        }).catch(function (err) {
          b.disabled = false;
          show(document.getElementById("mine-error"), err.message);
        });
      });
    });
  }

  page.querySelectorAll("[data-pledge]").forEach(function (card) {
    var id = card.getAttribute("data-pledge");
    initChange(card, id);
    initCancel(card, id);
    initActions(card, id);
  });
  // Arriving from a campaign page's "change" link: that pledge's change dialog, open.
  var target = location.hash && document.getElementById(location.hash.slice(1));
  var box = target && target.querySelector("[data-change-box]");
  if (box) { box.open = true; target.scrollIntoView({ block: "start" }); }
})();
