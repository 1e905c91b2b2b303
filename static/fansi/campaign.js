/* Fansi campaign pages (owner list / new / detail, fan campaign page, my pledges): vanilla JS on the campaign
 * REST API. User data is rendered with textContent only. */
(function () {
  "use strict";

  var $ = Fansi.$, api = Fansi.api;
  var CFG = Fansi.config("campaign-config", {});
  var POLL_MS = 5000;
  var CAMPAIGN_STATUS = {
    draft: gettext("Draft"), live: gettext("Live"), succeeded: gettext("Succeeded"), failed: gettext("Failed"),
    ended: gettext("Ended"), active: gettext("Active"), closing: gettext("Closing"), cancelled: gettext("Cancelled"),
  };
  var PLEDGE_STATUS = {
    pending: gettext("Paying deposit"), active: gettext("Active"), paused: gettext("Paused"),
    cancelled: gettext("Cancelled"), confirmed: gettext("Confirmed"), refunded: gettext("Refunded"),
  };

  function money(value) {
    var n = Number(value || 0);
    return (Math.round(n * 100) / 100).toFixed(2).replace(/\.00$/, "");
  }

  /* ---------------------------------------------------------------------------------------------------
   * Progress: the bar, the numbers, the ladder (active tier, how many to the next), the price.
   * --------------------------------------------------------------------------------------------------- */
  function renderProgress(root, c) {
    var box = root.querySelector("[data-progress]") || root;
    var committed = Number(c.committed_quantity || 0);
    var target = Number(c.target_quantity || 1);
    var pct = Math.max(0, Math.min(100, Math.round(100 * committed / target)));
    var bar = box.querySelector("[data-bar]");
    if (bar) {
      Fansi.setProgress(bar.parentNode, committed, target);
      bar.parentNode.classList.toggle("reached", committed >= target);
    }
    var text = box.querySelector("[data-committed-text]");
    if (text) text.textContent = interpolate(gettext("%(n)s of %(target)s committed"), { n: committed, target: target }, true);
    var pctEl = box.querySelector("[data-percent]");
    if (pctEl) pctEl.textContent = committed >= target ? gettext("Target reached") + " · " + pct + "%" : pct + "%";
    root.setAttribute("data-committed", String(committed));
    root.querySelectorAll("[data-price-now]").forEach(function (el) {
      if (c.current_unit_price !== undefined) el.textContent = "¥" + money(c.current_unit_price);
    });
    var ladder = root.querySelector("[data-ladder]");
    if (ladder) {
      var tiers = Array.prototype.slice.call(ladder.querySelectorAll(".tier"));
      var active = null;
      var next = null;
      tiers.forEach(function (li) {
        var min = Number(li.getAttribute("data-min"));
        li.classList.remove("active");
        li.classList.toggle("reached", committed >= min && min > 0);
        if (committed >= min) active = li;
        else if (!next) next = li;
      });
      if (active) active.classList.add("active");
      var nextEl = root.querySelector("[data-next-tier]");
      if (nextEl) {
        nextEl.textContent = next
          ? interpolate(gettext("%(n)s more to ¥%(price)s"),
            { n: Number(next.getAttribute("data-min")) - committed, price: money(next.getAttribute("data-price")) }, true)
          : (tiers.length > 1 ? gettext("Lowest price reached") : "");
      }
    }
    if (c.status) {
      // As a person reads it: past its deadline a live group campaign is closing; an ended-early one cancelled.
      var shown = c.cancelled_at ? "cancelled" : c.status;
      var deadline = c.deadline || CFG.deadline;
      if (shown === "live" && (c.kind || CFG.kind) === "group" && deadline && new Date(deadline) <= new Date()) shown = "closing";
      root.querySelectorAll("[data-status-badge]").forEach(function (el) {
        el.className = "status-badge status-" + shown;
        if (CAMPAIGN_STATUS[shown]) el.textContent = CAMPAIGN_STATUS[shown];
      });
    }
  }

  function countdown() {
    var els = document.querySelectorAll("[data-countdown]");
    if (!els.length || !CFG.deadline) return;
    function tick() {
      var left = new Date(CFG.deadline).getTime() - Date.now();
      var text;
      if (left <= 0) text = gettext("Deadline passed");
      else {
        var mins = Math.floor(left / 60000);
        var d = Math.floor(mins / 1440), h = Math.floor((mins % 1440) / 60), m = mins % 60;
        var parts = [];
        if (d) parts.push(interpolate(gettext("%(n)sd"), { n: d }, true));
        if (d || h) parts.push(interpolate(gettext("%(n)sh"), { n: h }, true));
        if (!d) parts.push(interpolate(gettext("%(n)smin"), { n: m }, true));
        text = interpolate(gettext("Ends in %(time)s"), { time: parts.join(" ") }, true);
      }
      els.forEach(function (el) { el.textContent = text; });
    }
    tick();
    setInterval(tick, 30000);
  }

  /* Live updates: campaign.progress frames on the staff socket, and a 5 s poll of the API as the source of truth
   * (the channel layer is at-most-once). */
  function watch(campaigns, onUpdate) {
    var byId = {};
    campaigns.forEach(function (c) { byId[c.id] = c; });
    function poll() {
      if (document.hidden) return;
      campaigns.forEach(function (c) {
        if (c.status === "draft" && CFG.page === "list") return;
        api("GET", c.api).then(function (data) { c.status = data.status; onUpdate(data); }).catch(function () {});
      });
    }
    setInterval(poll, POLL_MS);
    document.addEventListener("visibilitychange", function () { if (!document.hidden) poll(); });
    if (CFG.page === "fan" || !("WebSocket" in window)) return;
    var delay = 1000;
    function connect() {
      var ws;
      try { ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/chat/"); }
      catch (e) { return; }
      ws.onopen = function () { delay = 1000; var dot = $("live-dot"); if (dot) dot.hidden = false; };
      ws.onmessage = function (ev) {
        var frame;
        try { frame = JSON.parse(ev.data); } catch (e) { return; }
        if (frame && frame.type === "campaign.progress" && byId[frame.campaign]) {
          onUpdate({ id: frame.campaign, committed_quantity: frame.committed_quantity,
                     current_unit_price: frame.current_unit_price, status: frame.status });
        }
      };
      ws.onclose = function () {
        var dot = $("live-dot"); if (dot) dot.hidden = true;
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 30000);
      };
    }
    connect();
  }

  /* ---------------------------------------------------------------------------------------------------
   * Owner: campaign list.
   * --------------------------------------------------------------------------------------------------- */
  function initList() {
    var cards = {};
    document.querySelectorAll("[data-campaign]").forEach(function (el) { cards[el.getAttribute("data-campaign")] = el; });
    (CFG.campaigns || []).forEach(function (c) { if (cards[c.id]) renderProgress(cards[c.id], c); });
    watch(CFG.campaigns || [], function (data) { if (cards[data.id]) renderProgress(cards[data.id], data); });
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
      row.querySelector("[data-remove-tier]").addEventListener("click", function () { row.remove(); });
      rows.appendChild(row);
    }
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

    function clearErrors() {
      $("form-error").hidden = true;
      form.querySelectorAll(".field-invalid").forEach(function (el) { el.classList.remove("field-invalid"); });
      form.querySelectorAll(".field-errors").forEach(function (el) { el.remove(); });
    }
    function fieldError(name, message) {
      var box = form.querySelector('[data-field="' + name + '"]');
      if (!box) return false;
      box.classList.add("field-invalid");
      var ul = document.createElement("ul");
      ul.className = "field-errors";
      var li = document.createElement("li");
      li.textContent = message;
      ul.appendChild(li);
      box.appendChild(ul);
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
        if (err.detail && typeof err.detail === "object" && !Array.isArray(err.detail)) {
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

  /* ---------------------------------------------------------------------------------------------------
   * Owner: detail page (launch, live progress).
   * --------------------------------------------------------------------------------------------------- */
  function initDetail() {
    var root = document.querySelector("[data-page=campaign-detail]");
    renderProgress(root, CFG);
    countdown();
    var launch = $("launch-campaign");
    if (launch) {
      launch.addEventListener("click", function () {
        if (!window.confirm(gettext("Launch this campaign? The goal and deadline cannot be changed afterwards."))) return;
        launch.disabled = true;
        api("POST", CFG.launch_api).then(function () {
          Fansi.toastAfterReload(gettext("Campaign launched"));
          window.location.reload();
        }).catch(function (err) { launch.disabled = false; Fansi.toastError(err); });
      });
    }
    // The owner's answer to a MOQ shortfall after lapses: ship anyway, or cancel with full refunds.
    document.querySelectorAll("#moq-shortfall [data-decision]").forEach(function (button) {
      button.addEventListener("click", function () {
        var decision = button.getAttribute("data-decision");
        var question = decision === "cancel"
          ? gettext("Cancel this campaign and refund every fan in full?")
          : decision === "top_up"
            ? gettext("Offer the missing units to the waitlist, at the final price, for 48 hours?")
            : gettext("Ship anyway below the factory minimum, at the same price?");
        if (!window.confirm(question)) return;
        var buttons = document.querySelectorAll("#moq-shortfall [data-decision]");
        buttons.forEach(function (b) { b.disabled = true; });
        api("POST", CFG.moq_api, { decision: decision }).then(function () {
          Fansi.toastAfterReload(decision === "cancel" ? gettext("Cancelled; every fan is refunded")
            : decision === "top_up" ? gettext("Waitlisted fans have been offered a place")
            : gettext("The factory order will be built"));
          window.location.reload();
        }).catch(function (err) {
          buttons.forEach(function (b) { b.disabled = false; });
          Fansi.toastError(err);
        });
      });
    });
    var last = CFG.committed_quantity;
    watch([{ id: CFG.id, api: CFG.api, status: CFG.status }], function (data) {
      renderProgress(root, data);
      // Refresh the poster when the numbers move, so a download is current.
      if (data.committed_quantity !== last) {
        last = data.committed_quantity;
        var img = $("poster-preview");
        if (img) img.src = img.src.split("?")[0] + "?t=" + Date.now();
      }
    });
  }

  /* ---------------------------------------------------------------------------------------------------
   * Fan: campaign page with the join form.
   * --------------------------------------------------------------------------------------------------- */
  function initFan() {
    var root = document.querySelector("[data-page=campaign-fan]");
    renderProgress(root, CFG);
    countdown();
    watch([{ id: CFG.id, api: CFG.api, status: CFG.status }], function (data) {
      CFG.current_unit_price = data.current_unit_price;
      renderProgress(root, data);
      updateDeposit();
    });
    var form = $("pledge-form");
    if (!form) return;
    var qty = $("pledge-qty");
    var limit = CFG.per_fan_limit ? Number(CFG.per_fan_limit) : null;
    function quantity() { return Math.max(1, Math.floor(Number(qty.value) || 1)); }
    function updateDeposit() {
      var amount = quantity() * Number(CFG.current_unit_price) * Number(CFG.deposit_percent) / 100;
      $("deposit-line").textContent = interpolate(gettext("Deposit now: ¥%(amount)s"), { amount: money(amount) }, true);
    }
    form.querySelectorAll("[data-step]").forEach(function (b) {
      b.addEventListener("click", function () {
        var n = quantity() + Number(b.getAttribute("data-step"));
        if (limit) n = Math.min(n, limit);
        qty.value = String(Math.max(1, n));
        updateDeposit();
      });
    });
    qty.addEventListener("input", updateDeposit);
    updateDeposit();
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var variant = form.querySelector('[name="variant"]:checked');
      if (!variant) return;
      var button = $("pledge-submit");
      button.disabled = true;
      $("pledge-error").hidden = true;
      var body = { variant: Number(variant.value), quantity: quantity() };
      // A fresh key per attempt; a network retry of this same request would reuse it.
      var key = Fansi.uuid();
      api("POST", CFG.pledge_api, body, { "Idempotency-Key": key }).then(function (p) {
        form.hidden = true;
        var label = variant.parentNode.querySelector("span").textContent;
        $("pledge-success-text").textContent = interpolate(gettext("You are in! %(n)s × %(variant)s, deposit ¥%(amount)s paid."),
          { n: p.quantity, variant: label, amount: money(p.deposit_amount) }, true);
        $("pledge-success").hidden = false;
        api("GET", CFG.api).then(function (data) { renderProgress(root, data); }).catch(function () {});
      }).catch(function (err) {
        button.disabled = false;
        $("pledge-error").textContent = err.message;
        $("pledge-error").hidden = false;
      });
    });
  }

  /* ---------------------------------------------------------------------------------------------------
   * Fan: my pledges and subscriptions.
   * --------------------------------------------------------------------------------------------------- */
  function initMine() {
    var ACTION_DONE = { skip: gettext("The next box is skipped"), pause: gettext("Paused"), resume: gettext("Resumed") };
    function done(card, data, note) {
      var badge = card.querySelector("[data-pledge-status]");
      if (data && data.status) {
        badge.className = "status-badge status-" + data.status;
        badge.textContent = PLEDGE_STATUS[data.status] || data.status;
      }
      var n = card.querySelector("[data-note]");
      n.textContent = note;
      n.hidden = false;
      setTimeout(function () { window.location.reload(); }, 1200);
    }
    function fail(err) {
      $("mine-error").textContent = err.message;
      $("mine-error").hidden = false;
    }
    document.querySelectorAll("[data-pledge]").forEach(function (card) {
      var id = card.getAttribute("data-pledge");
      card.querySelectorAll("[data-action]").forEach(function (b) {
        b.addEventListener("click", function () {
          var action = b.getAttribute("data-action");
          b.disabled = true;
          api("POST", "/api/pledges/" + id + "/" + action + "/").then(function (data) {
            done(card, data, ACTION_DONE[action]);
          }).catch(function (err) { b.disabled = false; fail(err); });
        });
      });
      var cancel = card.querySelector("[data-cancel-form]");
      if (cancel) {
        cancel.addEventListener("submit", function (ev) {
          ev.preventDefault();
          var button = cancel.querySelector("button");
          button.disabled = true;
          api("POST", "/api/pledges/" + id + "/cancel/", { reason: cancel.reason.value.trim() }).then(function (data) {
            done(card, data, gettext("Cancelled"));
          }).catch(function (err) { button.disabled = false; fail(err); });
        });
      }
    });
  }

  /* ---------------------------------------------------------------------------------------------------
   * Factory: the public demand board (committed demand against each MOQ), refreshed every 10 s.
   * --------------------------------------------------------------------------------------------------- */
  function initBoard(root) {
    function paint(data) {
      data.products.forEach(function (p) {
        [p].concat(p.variants).forEach(function (row, i) {
          var el = document.querySelector('[data-product="' + p.id + '"] [data-row="' + (i === 0 ? "p" : row.id) + '"]');
          if (!el) return;
          // No MOQ means nothing to wait for: a full bar.
          Fansi.setProgress(el.querySelector(".board-bar"), row.moq ? row.committed : 1, row.moq || 1);
          el.querySelector("[data-count]").textContent = row.committed + " / " + row.moq;
          el.classList.toggle("reached", row.committed >= row.moq);
        });
      });
    }
    setInterval(function () { api("GET", root.dataset.boardApi).then(paint).catch(function () {}); }, 10000);
  }

  var pages = { list: initList, "new": initNew, detail: initDetail, fan: initFan, mine: initMine };
  if (pages[CFG.page]) pages[CFG.page]();
  var board = document.querySelector("[data-board-api]");
  if (board) initBoard(board);
})();

/* The fan's "join the waitlist" on a full or closed campaign. */
(function () {
  "use strict";
  var form = document.getElementById("waitlist-form");
  if (!form || !window.Fansi) return;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var picked = form.querySelector("input[name='waitlist-variant']:checked");
    var button = document.getElementById("waitlist-submit");
    var note = document.getElementById("waitlist-note");
    button.disabled = true;
    window.Fansi.api("POST", form.getAttribute("data-api"), { variant: picked ? Number(picked.value) : null, quantity: 1 })
      .then(function () {
        note.textContent = gettext("You are on the waitlist. We will message you if a place opens.");
        note.hidden = false;
      })
      .catch(function (err) {
        button.disabled = false;
        note.textContent = (err && err.message) || gettext("Something went wrong");
        note.hidden = false;
      });
  });
})();
