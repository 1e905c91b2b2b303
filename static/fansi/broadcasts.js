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
    scheduled: gettext("Scheduled"), queued: gettext("Queued"), running: gettext("Sending"),
    succeeded: gettext("Done"), failed: gettext("Failed"), cancelled: gettext("Cancelled"),
  };
  var COUNTS = ["queued", "sent", "deferred", "skipped_budget", "skipped_opt_out", "skipped_no_channel", "skipped_quiet", "read"];

  function willReach(n) {
    return interpolate(ngettext("Will be sent to %(n)s person", "Will be sent to %(n)s people", n), { n: n }, true);
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function shortTime(iso) {
    var d = new Date(iso);
    return pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }
  /* An instant as a datetime-local value on the shop's wall clock (the page's times are the shop's). */
  function shopLocal(iso) {
    var parts = {};
    new Intl.DateTimeFormat("en-CA", {
      timeZone: CFG.tz || undefined, year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    }).formatToParts(new Date(iso)).forEach(function (p) { parts[p.type] = p.value; });
    return parts.year + "-" + parts.month + "-" + parts.day + "T" + parts.hour + ":" + parts.minute;
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
    pill.textContent = STATUS[stats.status] || stats.status;
    pill.className = "pill bc-status status-" + stats.status;
    Fansi.setProgress(li.querySelector(".progress"), stats.progress);
    var scheduled = stats.status === "scheduled";
    var running = stats.status === "queued" || stats.status === "running";
    var deferred = Number(stats.deferred !== undefined ? stats.deferred : li.querySelector('[data-field="deferred"]').textContent) || 0;
    var stop = li.querySelector(".bc-cancel");
    if (stop) {
      stop.hidden = !(running || scheduled || deferred > 0);
      stop.textContent = scheduled ? gettext("Cancel") : gettext("Stop sending");
    }
    var edit = li.querySelector(".bc-edit");
    if (edit) edit.hidden = !scheduled || li.dataset.kind !== "text";
    if (!scheduled) li.querySelector(".bc-edit-form").hidden = true;
    if (stats.send_at !== undefined) {
      li.dataset.sendAt = stats.send_at || "";
      var when = li.querySelector('[data-field="scheduled"]');
      when.hidden = !stats.send_at;
      if (stats.send_at) when.querySelector("time").textContent = shortTime(stats.send_at);
    }
    if (stats.deferred !== undefined) {
      var line = li.querySelector('[data-field="deferred_line"]');
      line.hidden = !stats.deferred;
      if (stats.deferred_until) line.querySelector("time").textContent = shortTime(stats.deferred_until);
    }
    if (stats.skipped !== undefined) {
      li.querySelector('[data-field="skipped"]').textContent = String(stats.skipped);
      li.querySelector(".bc-skipped-toggle").hidden = running || scheduled || stats.skipped === 0;
    }
    if (stats.text !== undefined && stats.kind === "text") li.querySelector(".bc-title").textContent = stats.text.slice(0, 60);
  }

  /* Running: follow closely. Done: reads keep coming in, more slowly. */
  function follow(li) {
    Fansi.pollJob("/api/broadcasts/" + li.dataset.broadcast + "/", {
      immediate: true, every: 1000, thenEvery: 10000, retryEvery: 15000,
      // A scheduled one is followed at the slow pace until its time comes.
      isDone: function (job) { return ["succeeded", "failed", "cancelled", "scheduled"].indexOf(job.status) >= 0; },
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
    var edit = e.target.closest(".bc-edit");
    if (edit) {
      var editForm = li.querySelector(".bc-edit-form");
      editForm.hidden = !editForm.hidden;
      if (!editForm.hidden && li.dataset.sendAt) editForm.querySelector(".bc-edit-at").value = shopLocal(li.dataset.sendAt);
      return;
    }
    if (e.target.closest(".bc-edit-close")) { li.querySelector(".bc-edit-form").hidden = true; return; }
    var stop = e.target.closest(".bc-cancel");
    if (!stop) return;
    // Stop a broadcast that is still going out (fans already reached keep their message), or cancel one
    // that is scheduled or still waiting for quiet hours to end.
    var ask = li.dataset.status === "scheduled"
      ? gettext("Cancel this scheduled broadcast? Nobody will get it.")
      : gettext("Stop this broadcast? Fans already reached keep the message.");
    if (!window.confirm(ask)) return;
    stop.disabled = true;
    api("POST", "/api/broadcasts/" + li.dataset.broadcast + "/cancel/").then(function (stats) {
      setRow(li, stats);
      toast(gettext("The broadcast was stopped."));
    }).catch(Fansi.toastError).then(function () { stop.disabled = false; });
  });

  list.addEventListener("submit", function (e) {
    var editForm = e.target.closest(".bc-edit-form");
    if (editForm) {
      e.preventDefault();
      var row = editForm.closest("li[data-broadcast]");
      var save = editForm.querySelector(".bc-edit-save");
      var change = { send_at: editForm.querySelector(".bc-edit-at").value };
      var text = editForm.querySelector(".bc-edit-text").value.trim();
      if (text) change.text = text;
      save.disabled = true;
      api("PATCH", "/api/broadcasts/" + row.dataset.broadcast + "/", change).then(function (stats) {
        setRow(row, stats);
        editForm.hidden = true;
        toast(gettext("Saved."));
      }).catch(Fansi.toastError).then(function () { save.disabled = false; });
      return;
    }
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
    li.dataset.kind = stats.kind;
    ["text", "at"].forEach(function (name) {
      var input = li.querySelector(".bc-edit-" + name);
      input.id = "bc-edit-" + name + "-" + stats.id;
      input.closest(".field").querySelector("label").htmlFor = input.id;
    });
    if (stats.kind === "text") li.querySelector(".bc-edit-text").value = stats.text || "";
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
    setRow(li, { status: li.dataset.status, kind: li.dataset.kind, progress: Number(li.querySelector(".progress").getAttribute("aria-valuenow")) / 100 });
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

  function later() { return form.querySelector("input[name=when]:checked").value === "later"; }
  function syncWhen() {
    $("bc-send-at-field").hidden = !later();
    $("bc-send-at").required = later();
    var submit = $("bc-submit");
    submit.textContent = later() ? submit.dataset.later : submit.dataset.now;
    if (later() && !$("bc-send-at").value) $("bc-send-at").value = tomorrowMorning();
  }
  Array.prototype.forEach.call(form.querySelectorAll("input[name=when]"), function (r) { r.addEventListener("change", syncWhen); });
  syncWhen();

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
  function confirmSend(n, sendAt) {
    $("bc-confirm-count").textContent = willReach(n);
    var whenLine = $("bc-confirm-when");
    whenLine.hidden = !sendAt;
    if (sendAt) whenLine.textContent = interpolate(gettext("Scheduled for %(when)s (shop time)."), { when: sendAt.replace("T", " ") }, true);
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
    if (later()) {
      // The shop's wall clock, no offset: the server reads it in the shop's time zone.
      body.send_at = $("bc-send-at").value;
      if (!body.send_at) { toast(gettext("Choose when to send it."), true); return null; }
    }
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
    refreshCount().then(function () { return confirmSend(audienceCount, body.send_at); }).then(function (yes) {
      if (!yes) return null;
      return api("POST", "/api/broadcasts/", body).then(function (stats) {
        addRow(stats, titleFor(body));
        // The audience stays as chosen: only the message is cleared for the next one.
        $("bc-text").value = "";
        toast(stats.status === "scheduled" ? gettext("The broadcast is scheduled.") : gettext("The broadcast is on its way."));
      });
    }).catch(Fansi.toastError).then(function () { submit.disabled = false; });
  });
})();
