/* Fansi fulfilment pages: the factory board's shipment form and CSV upload, the owner's after-sales desk
 * and the fan's order page (confirm receipt, ask for after-sales help). Vanilla JS on the fulfilment API;
 * user data reaches the DOM through textContent only. */
(function () {
  "use strict";

  var api = Fansi.api, el = Fansi.el;
  var SHIPMENT_STATUS = {
    shipped: gettext("Shipped"), delivered: gettext("Delivered"), lost: gettext("Lost"),
  };

  /* ---------------------------------------------------------------------------------------------------
   * The factory board: tick one recipient's lines, record the parcel; upload a CSV; deliver or lose.
   * --------------------------------------------------------------------------------------------------- */
  function initBoard(root) {
    var base = root.getAttribute("data-board-base");

    function paintParcel(row, line) {
      var cell = row.querySelector("[data-parcel]");
      var box = row.querySelector("input[name=pledge]");
      cell.textContent = "";
      row.setAttribute("data-parcel-status", line.shipment ? line.shipment.status : "");
      if (box) {
        box.disabled = !!line.shipment;
        if (line.shipment) box.checked = false;
      }
      if (!line.shipment) {
        cell.appendChild(el("span", "muted", gettext("Not shipped")));
        return;
      }
      var s = line.shipment;
      cell.appendChild(el("span", "parcel-text", s.carrier + " " + s.tracking_number + " · " + (SHIPMENT_STATUS[s.status] || s.status)));
      if (s.status === "shipped") {
        [["deliver", gettext("Delivered")], ["lost", gettext("Lost")]].forEach(function (pair) {
          var b = el("button", { type: "button", className: "btn btn-ghost btn-small", "data-shipment-action": pair[0], "data-shipment": s.id }, pair[1]);
          cell.appendChild(document.createTextNode(" "));
          cell.appendChild(b);
        });
      }
    }

    function refresh() {
      return api("GET", root.getAttribute("data-orders-api")).then(function (data) {
        data.orders.forEach(function (order) {
          var section = root.querySelector('[data-order="' + order.id + '"]');
          if (!section) return;
          var units = section.querySelector("[data-units]");
          if (units) units.textContent = interpolate(gettext("%(shipped)s of %(units)s units shipped"), { shipped: order.units_shipped, units: order.units }, true);
          order.lines.forEach(function (line) {
            var row = section.querySelector('[data-line="' + line.pledge + '"]');
            if (row) paintParcel(row, line);
          });
        });
      }).catch(Fansi.toastError);
    }

    root.querySelectorAll("[data-ship-form]").forEach(function (form) {
      var section = form.closest("[data-order]");
      var errorBox = form.querySelector("[data-form-error]");
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        errorBox.hidden = true;
        var pledges = Array.prototype.map.call(section.querySelectorAll("input[name=pledge]:checked"), function (b) { return Number(b.value); });
        var body = { pledges: pledges, carrier: form.carrier.value, tracking_number: form.tracking_number.value };
        if (form.shipped_at.value) body.shipped_at = form.shipped_at.value;
        var button = form.querySelector("button[type=submit]");
        button.disabled = true;
        api("POST", section.getAttribute("data-ship-url"), body).then(function (shipment) {
          form.reset();
          Fansi.toast(interpolate(gettext("Parcel %(tracking)s recorded."), { tracking: shipment.tracking_number }, true));
          return refresh();
        }, function (err) {
          errorBox.textContent = err.message;
          errorBox.hidden = false;
        }).then(function () { button.disabled = false; });
      });
    });

    root.querySelectorAll("[data-import-form]").forEach(function (form) {
      var section = form.closest("[data-order]");
      var result = form.querySelector("[data-import-result]");
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var data = new FormData();
        data.append("file", form.file.files[0]);
        var button = form.querySelector("button[type=submit]");
        button.disabled = true;
        api("POST", section.getAttribute("data-import-url"), data).then(function (answer) {
          result.textContent = "";
          result.appendChild(el("p", "import-created", interpolate(ngettext("%(n)s parcel recorded.", "%(n)s parcels recorded.", answer.created), { n: answer.created }, true)));
          if (answer.errors.length) {
            var list = el("ul", "import-errors");
            answer.errors.forEach(function (e) {
              list.appendChild(el("li", { className: "error", "data-row": e.row, "data-code": e.code },
                interpolate(gettext("Row %(row)s: %(message)s"), { row: e.row, message: e.message }, true)));
            });
            result.appendChild(list);
          }
          result.hidden = false;
          form.reset();
          return refresh();
        }, Fansi.toastError).then(function () { button.disabled = false; });
      });
    });

    root.addEventListener("click", function (ev) {
      var b = ev.target.closest("[data-shipment-action]");
      if (!b) return;
      b.disabled = true;
      var url = base + "shipments/" + b.getAttribute("data-shipment") + "/" + b.getAttribute("data-shipment-action") + "/";
      api("POST", url).then(refresh, function (err) { b.disabled = false; Fansi.toastError(err); });
    });

    refresh();
  }

  /* ---------------------------------------------------------------------------------------------------
   * The owner's after-sales desk: approve (refund) or decline with a reason.
   * --------------------------------------------------------------------------------------------------- */
  function initOwnerDesk(root) {
    root.addEventListener("click", function (ev) {
      var b = ev.target.closest("[data-decide]");
      if (!b) return;
      var card = b.closest("[data-request]");
      var form = card.querySelector("[data-decide-form]");
      var what = b.getAttribute("data-decide");
      var reason = form.reason.value.trim();
      if (what === "decline" && !reason) {
        Fansi.toast(gettext("Please give a reason."), true);
        form.reason.focus();
        return;
      }
      form.querySelectorAll("button").forEach(function (x) { x.disabled = true; });
      api("POST", "/api/after-sales/" + card.getAttribute("data-request") + "/" + what + "/", { reason: reason }).then(function (r) {
        card.setAttribute("data-status", r.status);
        var badge = card.querySelector("[data-request-status]");
        badge.textContent = r.status === "approved" ? gettext("Approved") : gettext("Declined");
        badge.className = "status-badge status-" + r.status;
        if (r.decision_reason) {
          card.querySelector("[data-decision-text]").textContent = r.decision_reason;
          card.querySelector("[data-decision]").hidden = false;
        }
        form.remove();
        Fansi.toast(r.status === "approved" ? gettext("Approved; the refund is on its way to the fan.") : gettext("Declined; the fan is told why."));
      }, function (err) {
        form.querySelectorAll("button").forEach(function (x) { x.disabled = false; });
        Fansi.toastError(err);
      });
    });
  }

  /* ---------------------------------------------------------------------------------------------------
   * The fan's order page: confirm receipt, ask for a refund or a return.
   * --------------------------------------------------------------------------------------------------- */
  function initFanPage(root, cfg) {
    root.addEventListener("click", function (ev) {
      var b = ev.target.closest("[data-confirm]");
      if (!b) return;
      b.disabled = true;
      api("POST", b.getAttribute("data-confirm")).then(function () {
        var parcel = b.closest("[data-shipment]");
        parcel.setAttribute("data-status", "confirmed");
        parcel.querySelector("[data-shipment-status]").textContent = gettext("Receipt confirmed");
        b.remove();
        Fansi.toastAfterReload(gettext("Receipt confirmed. Thank you!"));
        window.location.reload();
      }, function (err) { b.disabled = false; Fansi.toastError(err); });
    });
    var form = document.getElementById("after-sales-form");
    if (!form) return;
    var errorBox = document.getElementById("after-sales-error");
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      errorBox.hidden = true;
      var data = new FormData();
      data.append("kind", form.querySelector("input[name=kind]:checked").value);
      data.append("reason", form.reason.value);
      if (form.amount.value) data.append("amount", form.amount.value);
      if (form.photo.files.length) data.append("photo", form.photo.files[0]);
      var button = document.getElementById("after-sales-submit");
      button.disabled = true;
      api("POST", cfg.api, data).then(function () {
        Fansi.toastAfterReload(gettext("Request sent. The shop will answer in chat."));
        window.location.reload();
      }, function (err) {
        button.disabled = false;
        errorBox.textContent = err.message;
        errorBox.hidden = false;
      });
    });
  }

  var cfg = Fansi.config("fulfilment-config", {});
  var board = document.getElementById("board-orders");
  if (board) initBoard(board);
  var desk = document.querySelector("[data-page=after-sales-owner]");
  if (desk) initOwnerDesk(desk);
  var fanPage = document.querySelector("[data-page=after-sales-fan]");
  if (fanPage) initFanPage(fanPage, cfg);
})();
