/* Fansi reach: the per-device notification switch (Push API), follow-up reminders in the inbox, the digest
 * setting on the bot page and the devices on /me/privacy/. Loaded by each of those panels; runs once.
 * User text reaches the DOM through textContent only. */
(function () {
  "use strict";
  if (window.FansiReach) return;

  var $ = Fansi.$, el = Fansi.el, api = Fansi.api, toast = Fansi.toast, toastError = Fansi.toastError;
  var SUB_KEY = "fansi.push.subscription";

  // --- push ----------------------------------------------------------------------------------------

  function keyBytes(base64url) {
    var padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(padded), out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

  function supported() {
    return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
  }

  var registration = null;
  function ready(swUrl) {
    if (registration) return Promise.resolve(registration);
    return navigator.serviceWorker.register(swUrl, { scope: "/" }).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (reg) { registration = reg; return reg; });
  }

  function savedId() { try { return window.localStorage.getItem(SUB_KEY); } catch (e) { return null; } }
  function saveId(id) {
    try { if (id) window.localStorage.setItem(SUB_KEY, String(id)); else window.localStorage.removeItem(SUB_KEY); } catch (e) { /* private mode */ }
  }

  /* Subscribe this browser and tell the server; resolves with the server's subscription id. */
  function subscribe(input) {
    return ready(input.dataset.sw).then(function (reg) {
      return reg.pushManager.getSubscription().then(function (existing) {
        return existing || reg.pushManager.subscribe({
          userVisibleOnly: true, applicationServerKey: keyBytes(input.dataset.publicKey),
        });
      });
    }).then(function (sub) {
      var json = sub.toJSON();
      return api("POST", "/api/push/subscriptions/", { endpoint: json.endpoint, keys: json.keys });
    }).then(function (row) { saveId(row.id); return row.id; });
  }

  function unsubscribe(input) {
    var id = savedId();
    var told = id ? api("DELETE", "/api/push/subscriptions/" + id + "/").catch(function (err) {
      if (err.status !== 404) throw err;
    }) : Promise.resolve();
    return told.then(function () {
      saveId(null);
      return ready(input.dataset.sw).then(function (reg) { return reg.pushManager.getSubscription(); });
    }).then(function (sub) { return sub ? sub.unsubscribe() : true; });
  }

  function setState(input, on, text) {
    var state = $("push-state");
    input.checked = on;
    if (state) state.textContent = text;
  }

  function initSwitch() {
    var input = $("push-switch");
    if (!input) return;
    if (!supported()) { setState(input, false, gettext("Not supported on this browser")); return; }
    if (Notification.permission === "denied") {
      setState(input, false, gettext("Blocked in the browser settings"));
      return;
    }
    ready(input.dataset.sw).then(function (reg) { return reg.pushManager.getSubscription(); }).then(function (sub) {
      var on = Boolean(sub && savedId());
      setState(input, on, on ? pgettext("push", "On") : pgettext("push", "Off"));
      input.disabled = false;
    }).catch(function () {
      setState(input, false, pgettext("push", "Off"));
      input.disabled = false;
    });
    input.addEventListener("change", function () {
      var want = input.checked;
      input.disabled = true;
      var work;
      if (want) {
        work = Notification.requestPermission().then(function (permission) {
          if (permission !== "granted") {
            throw new Error(gettext("Notifications are not allowed for this site."));
          }
          return subscribe(input);
        }).then(function () {
          setState(input, true, pgettext("push", "On"));
          toast(gettext("Notifications are on for this device."));
        });
      } else {
        work = unsubscribe(input).then(function () {
          setState(input, false, pgettext("push", "Off"));
          toast(gettext("Notifications are off for this device."));
        });
      }
      work.catch(function (err) {
        setState(input, !want, !want ? pgettext("push", "On") : pgettext("push", "Off"));
        toastError(err);
      }).then(function () { input.disabled = false; });
    });
  }

  // --- reminders (the inbox's open conversation) ---------------------------------------------------

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function reminderAt(form) {
    var when = form.querySelector('input[name="when"]:checked').value;
    if (when === "date") {
      var date = form.elements.date.value, time = form.elements.time.value || "09:00";
      if (!date) return null;
      return date + "T" + time;  // the shop's wall time: the server reads it in the shop's time zone
    }
    var d = new Date(Date.now() + Number(when) * 24 * 3600 * 1000);
    return d.toISOString();
  }

  function reminderItem(r) {
    var li = el("li", "reminder-item reminder-" + r.status);
    li.dataset.reminder = r.id;
    var d = new Date(r.at);
    var label = (r.status === "fired" ? pgettext("reminder", "Due") : gettext("Reminder")) + " · " +
      pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + pad(d.getHours()) + ":" + pad(d.getMinutes()) +
      (r.cancel_on_reply ? " · " + gettext("unless the fan writes") : "") + (r.note ? " · " + r.note : "");
    li.appendChild(el("span", "small", label));
    var b = el("button", "btn btn-ghost btn-small", r.status === "fired" ? pgettext("reminder", "Done") : gettext("Cancel"));
    b.type = "button";
    b.dataset.reminderClose = r.id;
    li.appendChild(b);
    return li;
  }

  function initReminders() {
    var box = $("reminders");
    if (!box) return;
    var form = $("reminder-form"), open = $("reminder-open"), list = $("reminder-list");
    function show(on) { form.hidden = !on; open.setAttribute("aria-expanded", on ? "true" : "false"); }
    open.addEventListener("click", function () { show(form.hidden); });
    $("reminder-cancel-form").addEventListener("click", function () { show(false); });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var at = reminderAt(form);
      if (!at) { toast(gettext("Choose a date.")); return; }
      var save = $("reminder-save");
      save.disabled = true;
      api("POST", "/api/conversations/" + box.dataset.conversation + "/reminders/", {
        at: at, cancel_on_reply: form.elements.cancel_on_reply.checked, note: form.elements.note.value,
      }).then(function (r) {
        list.appendChild(reminderItem(r));
        form.elements.note.value = "";
        show(false);
        toast(gettext("Reminder set."));
      }).catch(toastError).then(function () { save.disabled = false; });
    });
    list.addEventListener("click", function (event) {
      var b = event.target.closest("[data-reminder-close]");
      if (!b) return;
      b.disabled = true;
      api("POST", "/api/reminders/" + b.dataset.reminderClose + "/cancel/").then(function () {
        var li = b.closest("li");
        if (li) li.remove();
      }).catch(function (err) { b.disabled = false; toastError(err); });
    });
  }

  // --- scheduled messages to this fan (the inbox's open conversation) ---------------------------------

  function scheduledLabel(m) {
    var kind = { product_card: gettext("Product card"), campaign_card: gettext("Campaign card") }[m.kind];
    var text = (m.text || "").slice(0, 60);
    return kind ? kind + (text ? ": " + text : "") : text;
  }

  function scheduledItem(m) {
    var li = el("li", "reminder-item scheduled-" + m.status);
    li.dataset.scheduled = m.id;
    var d = new Date(m.send_at);
    li.appendChild(el("span", "small", gettext("Scheduled") + " · " + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) +
      " " + pad(d.getHours()) + ":" + pad(d.getMinutes()) + " · " + scheduledLabel(m)));
    var b = el("button", "btn btn-ghost btn-small", gettext("Cancel"));
    b.type = "button";
    b.dataset.scheduledCancel = m.id;
    li.appendChild(b);
    return li;
  }

  function initScheduled() {
    var box = $("scheduled");
    if (!box) return;
    var form = $("scheduled-form"), open = $("scheduled-open"), list = $("scheduled-list");
    function show(on) { form.hidden = !on; open.setAttribute("aria-expanded", on ? "true" : "false"); }
    open.addEventListener("click", function () { show(form.hidden); });
    $("scheduled-close").addEventListener("click", function () { show(false); });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var save = $("scheduled-save");
      save.disabled = true;
      // The shop's wall time, no offset: the server reads it in the shop's time zone.
      api("POST", "/api/conversations/" + box.dataset.conversation + "/scheduled-messages/", {
        text: form.elements.text.value, send_at: form.elements.send_at.value,
      }).then(function (m) {
        list.insertBefore(scheduledItem(m), list.firstChild);
        form.elements.text.value = "";
        show(false);
        toast(gettext("The message will be sent then."));
      }).catch(toastError).then(function () { save.disabled = false; });
    });
    // A live card the chat deferred past the fan's quiet hours (chat.js) joins the list.
    document.addEventListener("fansi:scheduled", function (event) {
      if (event.detail && String(event.detail.conversation) === box.dataset.conversation) {
        list.insertBefore(scheduledItem(event.detail), list.firstChild);
      }
    });
    list.addEventListener("click", function (event) {
      var b = event.target.closest("[data-scheduled-cancel]");
      if (!b) return;
      b.disabled = true;
      api("POST", "/api/scheduled-messages/" + b.dataset.scheduledCancel + "/cancel/").then(function () {
        var li = b.closest("li");
        if (li) li.remove();
      }).catch(function (err) { b.disabled = false; toastError(err); });
    });
  }

  // --- the digest setting (the bot page) -----------------------------------------------------------

  function initDigest() {
    var form = $("digest-form");
    if (!form) return;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var status = $("digest-status");
      api("PATCH", "/api/shops/" + form.dataset.shop + "/digest-settings/", {
        unanswered_after_minutes: Number(form.elements.unanswered_after_minutes.value),
        enabled: form.elements.enabled.checked,
      }).then(function (row) {
        form.elements.unanswered_after_minutes.value = row.unanswered_after_minutes;
        if (status) status.textContent = gettext("Saved");
      }).catch(toastError);
    });
  }

  // --- my devices (/me/privacy/) -------------------------------------------------------------------

  function initDevices() {
    var list = $("device-list");
    if (!list) return;
    var previews = $("push-previews");
    previews.addEventListener("change", function () {
      api("PATCH", "/api/push/preference/", { previews: previews.checked }).then(function (row) {
        previews.checked = row.previews;
        toast(row.previews ? gettext("Lock screens show the message text.") : gettext("Lock screens show only who wrote."));
      }).catch(function (err) { previews.checked = !previews.checked; toastError(err); });
    });
    list.addEventListener("click", function (event) {
      var b = event.target.closest("[data-device-remove]");
      if (!b) return;
      var id = b.dataset.deviceRemove;
      b.disabled = true;
      api("DELETE", "/api/push/subscriptions/" + id + "/").then(function () {
        var li = b.closest("li");
        if (li) li.remove();
        if (savedId() === id) {
          saveId(null);
          if (supported() && navigator.serviceWorker.getRegistration) {
            navigator.serviceWorker.getRegistration("/").then(function (reg) {
              return reg && reg.pushManager.getSubscription();
            }).then(function (sub) { return sub && sub.unsubscribe(); }).catch(function () {});
          }
        }
        $("device-empty").hidden = Boolean(list.querySelector("li"));
      }).catch(function (err) { b.disabled = false; toastError(err); });
    });
  }

  // A reminder fell due while the inbox is open (chat.js passes its frames on as "fansi:frame").
  document.addEventListener("fansi:frame", function (ev) {
    var frame = ev.detail || {};
    if (frame.type !== "reminder.due") return;
    toast(interpolate(gettext("Follow up: %(fan)s"), { fan: frame.fan || "" }, true) + (frame.note ? " · " + frame.note : ""));
    var item = document.querySelector('#reminder-list [data-reminder="' + frame.reminder + '"]');
    if (item) {
      item.className = "reminder-item reminder-fired";
      var b = item.querySelector("[data-reminder-close]");
      if (b) b.textContent = pgettext("reminder", "Done");
    }
  });

  window.FansiReach = { keyBytes: keyBytes };
  initSwitch();
  initReminders();
  initScheduled();
  initDigest();
  initDevices();
})();
