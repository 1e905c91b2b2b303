/* Fansi: the owner's new-campaign form (/campaigns/new/): every error at once under its field, the variants on
 * offer, and a live preview of the tier ladder. User text reaches the DOM through textContent only. */
(function () {
  "use strict";

  var $ = Fansi.$, api = Fansi.api;
  var CFG = Fansi.config("campaign-config", {});
  if (CFG.page !== "new") return;

  function money(value) {
    var n = Number(value || 0);
    return (Math.round(n * 100) / 100).toFixed(2).replace(/\.00$/, "");
  }

  /* ---------------------------------------------------------------------------------------------------
   * Owner: create form.
   * --------------------------------------------------------------------------------------------------- */
  var FIELD_FOR_CODE = {
    deadline_past: "deadline", deadline_invalid: "deadline", tiers_invalid: "tiers", tiers_not_increasing: "tiers",
    deposit_percent_invalid: "deposit_percent", target_quantity_invalid: "target_quantity", below_moq: "target_quantity",
    cap_below_target: "cap", cap_invalid: "cap", per_fan_limit_invalid: "per_fan_limit", cadence_invalid: "cadence",
    cycles_invalid: "cycles", cutoff_hours_invalid: "cutoff_hours", title_invalid: "title", kind_invalid: "kind",
    balance_deadline_required: "balance_deadline", balance_deadline_before_deadline: "balance_deadline",
    balance_deadline_invalid: "balance_deadline", balance_deadline_too_far: "balance_deadline",
    lapse_rule_invalid: "lapse_rule", ship_by_before_balance_deadline: "ship_by", ship_by_invalid: "ship_by",
    ship_by_too_far: "ship_by", late_compensation_percent_invalid: "late_compensation_percent"
  };

  /* datetime-local values are local wall time ("2026-12-03T18:00"): add days to one and format it back. */
  function localInputPlusDays(value, days) {
    var d = value ? new Date(value) : null;
    if (!d || isNaN(d)) return "";
    d.setDate(d.getDate() + days);
    function pad(n) { return (n < 10 ? "0" : "") + n; }
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }
  function isoOrNull(value) {
    if (!value) return null;
    var d = new Date(value);
    return isNaN(d) ? value : d.toISOString();
  }

  function initNew() {
    var form = $("campaign-form");
    if (!form) return;
    var rows = $("tier-rows");
    var tpl = $("tier-row");
    function addTier(q, price) {
      var row = tpl.content.firstElementChild.cloneNode(true);
      row.querySelector('[name="min_quantity"]').value = q || "";
      row.querySelector('[name="unit_price"]').value = price || "";
      row.querySelector("[data-remove-tier]").addEventListener("click", function () { row.remove(); previewLadder(); });
      rows.appendChild(row);
      previewLadder();
    }
    /* The tier ladder as fans will see it, redrawn as the owner types; a tier that does not start higher,
     * or costs more than the one before, is flagged here before the server refuses it. */
    function previewLadder() {
      var list = $("tier-preview");
      if (!list) return;
      list.textContent = "";
      var base = Number(CFG.price || 0);
      var steps = [{ q: 1, price: base }];
      rows.querySelectorAll("tr").forEach(function (tr) {
        var q = tr.querySelector("[name=min_quantity]").value.trim();
        var p = tr.querySelector("[name=unit_price]").value.trim();
        if (q !== "" && p !== "") steps.push({ q: Number(q), price: Number(p) });
      });
      var target = Number(form.target_quantity.value || 0);
      var bad = false;
      steps.forEach(function (step, i) {
        var prev = steps[i - 1];
        var wrong = prev && (step.q <= prev.q || step.price > prev.price);
        bad = bad || wrong;
        var li = document.createElement("li");
        li.className = "tier" + (wrong ? " tier-wrong" : "") + (i && step.q <= target ? " reached-at-target" : "");
        var off = base > 0 && i ? Math.round(100 * (base - step.price) / base) : 0;
        var q = document.createElement("span");
        q.className = "tier-q";
        q.textContent = i === 0 ? gettext("Base price") : interpolate(gettext("From %(n)s units"), { n: step.q }, true);
        var p = document.createElement("span");
        p.className = "tier-p";
        p.textContent = "¥" + money(step.price) + (off > 0 ? " (-" + off + "%)" : "");
        li.appendChild(q);
        li.appendChild(p);
        list.appendChild(li);
      });
      $("tier-preview-warning").hidden = !bad;
    }
    rows.addEventListener("input", previewLadder);
    form.target_quantity.addEventListener("input", previewLadder);
    $("add-tier").addEventListener("click", function () {
      var last = rows.querySelector("tr:last-child [name=min_quantity]");
      addTier(last && last.value ? String(Number(last.value) * 2) : form.target_quantity.value, "");
      rows.querySelector("tr:last-child [name=unit_price]").focus();
    });
    function syncKind() {
      var sub = form.querySelector('[name="kind"]:checked').value === "subscription";
      form.querySelectorAll(".sub-only").forEach(function (el) { el.hidden = !sub; });
      form.querySelectorAll(".group-only").forEach(function (el) { el.hidden = sub; });
      form.querySelector("[data-label-group]").hidden = sub;
      form.querySelector("[data-label-sub]").hidden = !sub;
    }
    form.querySelectorAll('[name="kind"]').forEach(function (r) { r.addEventListener("change", syncKind); });

    // Money terms: the balance deadline follows the deadline (+3 days) and ship-by follows the balance
    // deadline (+ lead time + 3 days) until the owner edits them; a full deposit needs no balance deadline.
    var leadDays = Number(form.getAttribute("data-lead-days") || 0);
    var edited = { balance_deadline: false, ship_by: false };
    function syncBalanceRequired() {
      var full = Number(form.deposit_percent.value) >= 100;
      form.balance_deadline.required = !full;
      form.querySelector("[data-balance-required]").hidden = full;
    }
    function followShipBy() {
      if (!edited.ship_by) form.ship_by.value = localInputPlusDays(form.balance_deadline.value || form.deadline.value, leadDays + 3);
    }
    form.deadline.addEventListener("change", function () {
      if (!edited.balance_deadline) form.balance_deadline.value = localInputPlusDays(form.deadline.value, 3);
      followShipBy();
    });
    form.balance_deadline.addEventListener("input", function () { edited.balance_deadline = true; followShipBy(); });
    form.ship_by.addEventListener("input", function () { edited.ship_by = true; });
    form.deposit_percent.addEventListener("input", syncBalanceRequired);
    syncBalanceRequired();
    syncKind();
    previewLadder();

    function clearErrors() {
      $("form-error").hidden = true;
      form.querySelectorAll(".field-invalid").forEach(function (el) { el.classList.remove("field-invalid"); });
      form.querySelectorAll(".field-errors").forEach(function (el) { el.remove(); });
    }
    function fieldError(name, message) {
      var box = form.querySelector('[data-field="' + name + '"]');
      if (!box) return false;
      box.classList.add("field-invalid");
      var ul = box.querySelector(":scope > .field-errors");
      if (!ul) {
        ul = document.createElement("ul");
        ul.className = "field-errors";
        box.appendChild(ul);
      }
      var li = document.createElement("li");
      li.textContent = message;
      ul.appendChild(li);
      return true;
    }
    // An edited field loses its stale error.
    form.addEventListener("input", function (ev) {
      var box = ev.target.closest(".field-invalid");
      if (!box) return;
      box.classList.remove("field-invalid");
      box.querySelectorAll(".field-errors").forEach(function (el) { el.remove(); });
    });
    function num(name) {
      var v = form[name].value.trim();
      if (v === "") return null;
      var n = Number(v);
      return isNaN(n) ? v : n;
    }
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      clearErrors();
      var kind = form.querySelector('[name="kind"]:checked').value;
      var tiers = [];
      rows.querySelectorAll("tr").forEach(function (tr) {
        var q = tr.querySelector("[name=min_quantity]").value.trim();
        var p = tr.querySelector("[name=unit_price]").value.trim();
        if (q || p) tiers.push({ min_quantity: q === "" ? null : Number(q), unit_price: p });
      });
      var deadline = form.deadline.value ? new Date(form.deadline.value) : null;
      var body = {
        kind: kind, product: CFG.product, title: form.title.value.trim(),
        target_quantity: num("target_quantity"), cap: num("cap"),
        deadline: deadline && !isNaN(deadline) ? deadline.toISOString() : form.deadline.value,
        deposit_percent: num("deposit_percent"), per_fan_limit: num("per_fan_limit"), tiers: tiers
      };
      body.late_compensation_percent = num("late_compensation_percent");
      var picks = form.querySelectorAll('[name="variant"]');
      if (picks.length) {
        var chosen = Array.prototype.filter.call(picks, function (c) { return c.checked; })
          .map(function (c) { return Number(c.value); });
        if (!chosen.length) {
          fieldError("variants", gettext("Choose at least one variant."));
          form.querySelector('[name="variant"]').focus();
          return;
        }
        // All of them: none named, so variants added later are offered too.
        body.variants = chosen.length === picks.length ? null : chosen;
      }
      if (kind === "group") {
        body.balance_deadline = isoOrNull(form.balance_deadline.value);
        body.lapse_rule = form.lapse_rule.value;
        body.ship_by = isoOrNull(form.ship_by.value);
      }
      if (kind === "subscription") {
        body.cadence = form.cadence.value;
        body.cycles = num("cycles");
        body.cutoff_hours = num("cutoff_hours") || 0;
      }
      var button = $("create-campaign");
      button.disabled = true;
      api("POST", "/api/campaigns/", body).then(function (c) {
        window.location.href = "/campaigns/" + c.id + "/";
      }).catch(function (err) {
        button.disabled = false;
        var shown = false;
        // Every field's errors at once (detail.fields), each under its field.
        var fields = err.detail && err.detail.fields;
        if (fields && typeof fields === "object") {
          Object.keys(fields).forEach(function (key) {
            (Array.isArray(fields[key]) ? fields[key] : [fields[key]]).forEach(function (msg) {
              if (typeof msg === "string" && fieldError(key, msg)) shown = true;
            });
          });
        } else if (err.detail && typeof err.detail === "object" && !Array.isArray(err.detail)) {
          Object.keys(err.detail).forEach(function (key) {
            var msg = err.detail[key];
            if (Array.isArray(msg)) msg = msg.join(" ");
            if (typeof msg === "string" && fieldError(key, msg)) shown = true;
          });
        }
        var field = FIELD_FOR_CODE[err.code];
        if (!shown && field) shown = fieldError(field, err.message);
        if (!shown) { $("form-error").textContent = err.message; $("form-error").hidden = false; }
        var first = form.querySelector(".field-invalid input, .field-invalid select");
        if (first) first.focus();
      });
    });
  }

  initNew();
})();
