/* Fansi campaign pages (owner list / new / detail, fan campaign page; my pledges: pledges.js): vanilla JS on the campaign
 * REST API. User data is rendered with textContent only. */
(function () {
  "use strict";

  var $ = Fansi.$, api = Fansi.api;
  var CFG = Fansi.config("campaign-config", {});
  var POLL_MS = 5000;
  var CAMPAIGN_STATUS = {
    draft: gettext("Draft"), live: gettext("Live"), succeeded: pgettext("campaign status", "Succeeded"), failed: pgettext("campaign status", "Failed"),
    ended: gettext("Ended"), active: gettext("Active"), closing: gettext("Closing"), cancelled: gettext("Cancelled"),
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
    // One campaign's page reads the numbers at once too: a pledge between render and socket is not missed.
    if (campaigns.length === 1) poll();
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

  // The create form (/campaigns/new/) is static/fansi/campaign_form.js.

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

  /* Who joined, counts and initials only (the public campaign answer carries no names). */
  function renderJoined(root, c) {
    var box = root.querySelector("[data-joined]");
    if (!box || c.pledger_count === undefined) return;
    var n = Number(c.pledger_count);
    box.querySelector("[data-joined-count]").textContent =
      interpolate(ngettext("%(n)s person has joined", "%(n)s people have joined", n), { n: n }, true);
    var initials = box.querySelector(".fc-initials");
    if (!initials) {
      initials = Fansi.el("span", { className: "fc-initials", "aria-hidden": "true" });
      box.insertBefore(initials, box.firstChild);
    }
    initials.textContent = "";
    (c.pledger_initials || []).forEach(function (i) { initials.appendChild(Fansi.el("span", "", i)); });
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
      renderJoined(root, data);
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
    // Logged out, "join" opens the phone sign-up in place; signed in, the visitor follows the shop (through
    // the share link's referral code) and the same form goes on to the deposit.
    var signup = CFG.anonymous && window.FansiSignup ? FansiSignup.attach($("signup-panel"), function () {
      CFG.anonymous = false;
      follow().then(function () {
        var button = $("pledge-submit");
        button.textContent = button.getAttribute("data-pay-label");
        var hint = $("password-login");
        if (hint) hint.hidden = true;
        Fansi.toast(gettext("Welcome! You now follow this shop. Check your choice and pay the deposit."));
        button.focus();
      }).catch(function (err) { Fansi.toastError(err); });
    }) : null;
    function follow() {
      if (CFG.following) return Promise.resolve(null);
      return api("POST", CFG.follow_api, { shop: CFG.shop, ref: CFG.ref || "", via: "campaign" }).then(function (data) {
        CFG.following = true;
        return data;
      });
    }
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (CFG.anonymous) {
        if (signup) signup.open();
        return;
      }
      var variant = form.querySelector('[name="variant"]:checked');
      if (!variant) return;
      var button = $("pledge-submit");
      button.disabled = true;
      $("pledge-error").hidden = true;
      var body = { variant: Number(variant.value), quantity: quantity() };
      // A fresh key per attempt; a network retry of this same request would reuse it.
      var key = Fansi.uuid();
      // Placing a pledge follows the shop anyway; through a share link, follow first so the referral counts.
      (CFG.ref ? follow() : Promise.resolve(null)).then(function () {
        return api("POST", CFG.pledge_api, body, { "Idempotency-Key": key });
      }).then(function (p) {
        form.hidden = true;
        var label = variant.parentNode.querySelector("span").textContent;
        $("pledge-success-text").textContent = interpolate(CFG.kind === "subscription"
          ? gettext("Subscribed! %(n)s × %(variant)s, deposit ¥%(amount)s paid.")
          : gettext("You are in! %(n)s × %(variant)s, deposit ¥%(amount)s paid."),
          { n: p.quantity, variant: label, amount: money(p.deposit_amount) }, true);
        $("pledge-success").hidden = false;
        api("GET", CFG.api).then(function (data) { renderProgress(root, data); renderJoined(root, data); }).catch(function () {});
      }).catch(function (err) {
        button.disabled = false;
        $("pledge-error").textContent = err.message;
        $("pledge-error").hidden = false;
      });
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

  var pages = { list: initList, detail: initDetail, fan: initFan };
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
