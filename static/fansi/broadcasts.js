/* Fansi broadcasts (/broadcasts/): compose with a live audience count and a confirmation that says how many
 * fans it goes to, follow each broadcast's delivery, list the fans it skipped and why, and send those later.
 *
 * Vanilla JS on top of the bot REST API. Every piece of user text reaches the DOM through textContent.
 */
(function () {
  "use strict";

  var $ = Fansi.$, el = Fansi.el, api = Fansi.api, toast = Fansi.toast, withShop = Fansi.withShop;
  var CFG = Fansi.config("bot-config", {});
  var STATUS = {
    queued: gettext("Queued"), running: gettext("Sending"), succeeded: gettext("Done"),
    failed: gettext("Failed"), cancelled: gettext("Cancelled"),
  };
  var COUNTS = ["queued", "sent", "skipped_budget", "skipped_opt_out", "skipped_quiet", "read"];

  function willReach(n) {
    return interpolate(ngettext("Will be sent to %(n)s person", "Will be sent to %(n)s people", n), { n: n }, true);
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function shortTime(iso) {
    var d = new Date(iso);
    return pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }
  /* Tomorrow 10:00 in the browser's time, as a datetime-local value: after quiet hours, in a new day's budget. */
  function tomorrowMorning() {
    var d = new Date();
    d.setDate(d.getDate() + 1);
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T10:00";
  }

  var list = $("broadcast-list");
  var template = $("broadcast-row-template");

  function setRow(li, stats) {
    li.dataset.status = stats.status;
    COUNTS.forEach(function (k) {
      var dd = li.querySelector('[data-field="' + k + '"]');
      if (dd && stats[k] !== undefined) dd.textContent = String(stats[k]);
    });
    var pill = li.querySelector('[data-field="status"]');
    pill.textContent = stats.scheduled_at && stats.status === "queued" ? gettext("Scheduled") : (STATUS[stats.status] || stats.status);
    pill.className = "pill bc-status status-" + stats.status;
    Fansi.setProgress(li.querySelector(".progress"), stats.progress);
    var running = stats.status === "queued" || stats.status === "running";
    var stop = li.querySelector(".bc-cancel");
    if (stop) stop.hidden = !running;
    if (stats.skipped_budget !== undefined) {
      var skipped = stats.skipped_budget + stats.skipped_opt_out + stats.skipped_quiet;
      li.querySelector('[data-field="skipped"]').textContent = String(skipped);
      li.querySelector(".bc-skipped-toggle").hidden = running || skipped === 0;
    }
  }

  /* Running: follow closely. Done: reads keep coming in, more slowly. */
  function follow(li) {
    Fansi.pollJob("/api/broadcasts/" + li.dataset.broadcast + "/", {
      immediate: true, every: 1000, thenEvery: 10000, retryEvery: 15000,
      onUpdate: function (stats) { setRow(li, stats); },
      onError: function () { /* keep the last numbers; try again later */ },
    });
  }

  // --- the fans a broadcast skipped, and "send later" -----------------------------------------------

  function showLater(li, later) {
    var done = li.querySelector(".bc-later-done");
    li.querySelector(".bc-later-form").hidden = !!later;
    done.hidden = !later;
    if (later) done.querySelector("time").textContent = shortTime(later.scheduled_at);
  }

  function loadSkipped(li) {
    var ul = li.querySelector(".bc-skipped-list");
    ul.textContent = "";
    ul.appendChild(el("li", "muted small", gettext("Loading…")));
    api("GET", "/api/broadcasts/" + li.dataset.broadcast + "/skipped/?limit=200").then(function (page) {
      ul.textContent = "";
      page.results.forEach(function (row) {
        var item = el("li", "bc-skipped-fan");
        item.dataset.fan = row.fan;
        item.dataset.reason = row.reason;
        item.appendChild(el("a", { href: "/fans/" + row.fan + "/", className: "bc-skipped-name" }, row.fan_name));
        item.appendChild(el("span", "muted small bc-skipped-reason", row.reason_label));
        ul.appendChild(item);
      });
      var more = li.querySelector(".bc-skipped-more");
      more.hidden = page.count <= page.results.length;
      more.textContent = interpolate(gettext("and %(n)s more"), { n: page.count - page.results.length }, true);
      var retryable = page.results.some(function (r) { return r.retryable; }) || page.count > page.results.length;
      showLater(li, page.send_later);
      if (!page.send_later && !retryable) li.querySelector(".bc-later-form").hidden = true;
    }).catch(function (err) { ul.textContent = ""; Fansi.toastError(err); });
  }

  list.addEventListener("click", function (e) {
    var li = e.target.closest("li[data-broadcast]");
    if (!li || !li.dataset.broadcast) return;
    var toggle = e.target.closest(".bc-skipped-toggle");
    if (toggle) {
      var box = li.querySelector(".bc-skipped");
      box.hidden = !box.hidden;
      toggle.setAttribute("aria-expanded", box.hidden ? "false" : "true");
      var at = li.querySelector(".bc-later-at");
      if (!at.value) at.value = tomorrowMorning();
      if (!box.hidden) loadSkipped(li);
      return;
    }
    var stop = e.target.closest(".bc-cancel");
    if (!stop) return;
    // Stop a broadcast that is still going out; fans already reached keep their message.
    if (!window.confirm(gettext("Stop this broadcast? Fans already reached keep the message."))) return;
    stop.disabled = true;
    api("POST", "/api/broadcasts/" + li.dataset.broadcast + "/cancel/").then(function (stats) {
      setRow(li, stats);
      toast(gettext("The broadcast was stopped."));
    }).catch(Fansi.toastError).then(function () { stop.disabled = false; });
  });

  list.addEventListener("submit", function (e) {
    var form = e.target.closest(".bc-later-form");
    if (!form) return;
    e.preventDefault();
    var li = form.closest("li[data-broadcast]");
    var value = form.querySelector(".bc-later-at").value;
    if (!value) return;
    var button = form.querySelector(".bc-later-send");
    button.disabled = true;
    api("POST", "/api/broadcasts/" + li.dataset.broadcast + "/send-later/", { at: new Date(value).toISOString() })
      .then(function (later) {
        showLater(li, later);
        toast(gettext("The skipped fans will get the message then."));
        addRow(later, li.querySelector(".bc-title").textContent);
      })
      .catch(Fansi.toastError)
      .then(function () { button.disabled = false; });
  });

  function addRow(stats, title) {
    var li = template.content.firstElementChild.cloneNode(true);
    li.dataset.broadcast = stats.id;
    li.querySelector(".bc-title").textContent = title;
    var when = li.querySelector("time.bc-created");
    when.textContent = shortTime(stats.created_at || new Date().toISOString());
    var later = li.querySelector(".bc-later-at");
    later.id = "bc-later-" + stats.id;
    li.querySelector(".bc-later-form label").htmlFor = later.id;
    setRow(li, stats);
    list.insertBefore(li, list.firstChild);
    $("broadcast-empty").hidden = true;
    follow(li);
    return li;
  }

  Array.prototype.forEach.call(list.querySelectorAll("li[data-broadcast]"), function (li) {
    setRow(li, { status: li.dataset.status, progress: Number(li.querySelector(".progress").getAttribute("aria-valuenow")) / 100 });
    follow(li);
  });

  // --- compose --------------------------------------------------------------------------------------

  var form = $("broadcast-form");
  if (!form) return;
  var audience = form.elements.audience;
  var countLine = $("bc-audience-count");
  var audienceCount = Number(countLine.dataset.count) || 0;
  var countAsked = 0;

  function kind() { return form.querySelector("input[name=kind]:checked").value; }
  function syncKind() {
    $("bc-text-field").hidden = kind() !== "text";
    $("bc-product-field").hidden = kind() !== "product_card";
    $("bc-campaign-field").hidden = kind() !== "campaign_card";
  }
  Array.prototype.forEach.call(form.querySelectorAll("input[name=kind]"), function (r) { r.addEventListener("change", syncKind); });
  syncKind();

  /* The count for the chosen audience, from the server (a segment's filter is resolved there). */
  function refreshCount() {
    var asked = ++countAsked;
    var url = withShop("/api/broadcasts/preview/", CFG.shop);
    if (audience.value !== "all") url += "&segment=" + encodeURIComponent(audience.value);
    countLine.classList.add("loading");
    return api("GET", url).then(function (out) {
      if (asked !== countAsked) return;
      audienceCount = out.count;
      countLine.dataset.count = String(out.count);
      countLine.textContent = willReach(out.count);
    }).catch(Fansi.toastError).then(function () { countLine.classList.remove("loading"); });
  }
  audience.addEventListener("change", refreshCount);

  var dialog = $("bc-confirm");
  function confirmSend(n) {
    $("bc-confirm-count").textContent = willReach(n);
    return new Promise(function (resolve) {
      dialog.addEventListener("close", function onClose() {
        dialog.removeEventListener("close", onClose);
        resolve(dialog.returnValue === "send");
      });
      dialog.returnValue = "";
      dialog.showModal();
    });
  }

  function bodyFor() {
    var body = { shop: CFG.shop, kind: kind(), promotional: $("bc-promotional").checked };
    if (body.kind === "text") {
      body.text = $("bc-text").value.trim();
      if (!body.text) { toast(gettext("Write the message first."), true); return null; }
    } else if (body.kind === "product_card") {
      body.product = Number($("bc-product").value);
      if (!body.product) { toast(gettext("Choose a product first."), true); return null; }
    } else {
      body.campaign = Number($("bc-campaign").value);
      if (!body.campaign) { toast(gettext("Choose a campaign first."), true); return null; }
    }
    if (audience.value === "all") body.filter = {};  // every fan of the shop, resolved by the server
    else body.segment = Number(audience.value);
    return body;
  }

  function titleFor(body) {
    if (body.kind === "text") return body.text.slice(0, 60);
    if (body.kind === "product_card") return gettext("Product card") + ": " + $("bc-product").selectedOptions[0].textContent;
    return gettext("Campaign card") + ": " + $("bc-campaign").selectedOptions[0].textContent;
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var body = bodyFor();
    if (!body) return;
    var submit = form.querySelector("button[type=submit]");
    submit.disabled = true;
    // Ask with the count as it is now, not as it was when the page loaded.
    refreshCount().then(function () { return confirmSend(audienceCount); }).then(function (yes) {
      if (!yes) return null;
      return api("POST", "/api/broadcasts/", body).then(function (stats) {
        addRow(stats, titleFor(body));
        // The audience stays as chosen: only the message is cleared for the next one.
        $("bc-text").value = "";
        toast(gettext("The broadcast is on its way."));
      });
    }).catch(Fansi.toastError).then(function () { submit.disabled = false; });
  });
})();
