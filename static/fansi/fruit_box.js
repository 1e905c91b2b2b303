/* The fruit box pages: the owner's items and week calendar, and a fan's own box with its changes.
 * Both draw from the box API's bodies (the page embeds the first one), so every change redraws in place.
 * User text reaches the DOM through textContent only.
 */
(function () {
  "use strict";

  var $ = Fansi.$, el = Fansi.el, api = Fansi.api;
  var CFG = Fansi.config("box-config", {});
  var LANG = document.documentElement.lang || "zh-hans";

  function dayLabel(iso) {
    var d = new Date(iso + "T00:00:00");
    return d.toLocaleDateString(LANG, { weekday: "short", month: "numeric", day: "numeric" });
  }

  function timeLabel(iso) {
    var d = new Date(iso);
    return d.toLocaleString(LANG, { weekday: "short", month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit" });
  }

  function money(value) {
    var n = Number(value || 0);
    return (Math.round(n * 100) / 100).toFixed(2).replace(/\.00$/, "");
  }

  /* Seven columns, day 0 (delivery) to day 6: what is ready each day, at its best in bold; a gap in red. */
  function renderCalendar(node, cal) {
    node.textContent = "";
    cal.days.forEach(function (d) {
      var col = el("div", "box-day" + (d.ready.length ? "" : " gap"));
      col.setAttribute("data-day", String(d.day));
      var head = el("div", "box-day-head");
      head.appendChild(el("strong", "", d.day === 0 ? gettext("Delivery") : interpolate(gettext("Day %(n)s"), { n: d.day }, true)));
      head.appendChild(el("span", "box-date", dayLabel(d.date)));
      col.appendChild(head);
      if (!d.ready.length) col.appendChild(el("p", "box-gap-note", gettext("Nothing ripe")));
      var list = el("ul", "box-ready");
      d.ready.forEach(function (r) {
        var li = el("li", r.best ? "best" : "", r.name + " ×" + r.quantity);
        li.setAttribute("data-item", String(r.item));
        if (r.best) li.title = gettext("At its best today");
        list.appendChild(li);
      });
      col.appendChild(list);
      node.appendChild(col);
    });
    node.setAttribute("data-gaps", cal.gaps.join(","));
  }

  /* ---------------------------------------------------------------------------------------------------
   * Owner: the box's items (add, edit, remove) and the standard box's week.
   * --------------------------------------------------------------------------------------------------- */
  function initOwner() {
    var tbody = $("box-items");

    function cell(row, node, cls) {
      var td = el("td", cls || "");
      td.appendChild(node);
      row.appendChild(td);
      return td;
    }

    function input(type, name, value, attrs) {
      var node = el("input", Object.assign({ type: type, name: name }, attrs || {}));
      node.value = String(value);
      return node;
    }

    function roleSelect(isDefault) {
      var select = el("select", { name: "is_default", "aria-label": gettext("In the box or option") });
      select.appendChild(el("option", { value: "true" }, gettext("In the box")));
      select.appendChild(el("option", { value: "false" }, gettext("Option")));
      select.value = isDefault ? "true" : "false";
      return select;
    }

    function renderItems(items) {
      tbody.textContent = "";
      $("box-empty").hidden = items.length > 0;
      items.forEach(function (item) {
        var row = el("tr", item.is_default ? "box-default" : "box-option");
        row.setAttribute("data-item", String(item.id));
        if (CFG.can_manage) {
          cell(row, input("text", "name", item.name, { maxlength: "60", "aria-label": gettext("Fruit") }));
          cell(row, input("number", "unit_price", item.unit_price, { min: "0", step: "0.01", "aria-label": gettext("Unit price (¥)") }), "num");
          cell(row, input("number", "ripen_days", item.ripen_days, { min: "0", max: "6", step: "1", "aria-label": gettext("Ready after (days)") }), "num");
          cell(row, input("number", "quantity", item.quantity, { min: "1", max: "99", step: "1", "aria-label": gettext("Qty") }), "num");
          cell(row, roleSelect(item.is_default));
          var tools = el("td", "nowrap");
          tools.appendChild(el("button", { type: "button", className: "btn btn-ghost btn-small", "data-save": "" }, gettext("Save")));
          tools.appendChild(el("button", { type: "button", className: "btn btn-ghost btn-small", "data-remove": "" }, gettext("Remove")));
          row.appendChild(tools);
        } else {
          row.appendChild(el("td", "", item.name));
          row.appendChild(el("td", "num", "¥" + money(item.unit_price)));
          row.appendChild(el("td", "num", String(item.ripen_days)));
          row.appendChild(el("td", "num", String(item.quantity)));
          row.appendChild(el("td", "", item.is_default ? gettext("In the box") : gettext("Option")));
        }
        tbody.appendChild(row);
      });
    }

    function paint(box) {
      renderCalendar($("box-calendar"), box.calendar);
      renderItems(box.items);
      $("box-delivery").textContent = interpolate(gettext("delivered %(date)s"), { date: dayLabel(box.calendar.delivery_date) }, true);
      $("box-summary").textContent = interpolate(
        gettext("The box holds ¥%(value)s of fruit at item prices; a box costs ¥%(price)s."),
        { value: money(box.box_value), price: money(box.unit_price) }, true);
    }

    function reload(message) {
      return api("GET", CFG.items_api).then(function (box) {
        paint(box);
        if (message) Fansi.toast(message);
      });
    }

    function fields(scope) {
      return {
        name: scope.querySelector("[name=name]").value.trim(),
        unit_price: scope.querySelector("[name=unit_price]").value.trim(),
        ripen_days: Number(scope.querySelector("[name=ripen_days]").value),
        quantity: Number(scope.querySelector("[name=quantity]").value),
        is_default: scope.querySelector("[name=is_default]").value === "true",
      };
    }

    tbody.addEventListener("click", function (ev) {
      var button = ev.target.closest("button");
      if (!button) return;
      var row = button.closest("tr");
      var url = "/api/box-items/" + row.getAttribute("data-item") + "/";
      if (button.hasAttribute("data-save")) {
        button.disabled = true;
        api("PATCH", url, fields(row)).then(function () { return reload(gettext("Saved")); })
          .catch(Fansi.toastError).then(function () { button.disabled = false; });
      } else if (button.hasAttribute("data-remove")) {
        var name = row.querySelector("[name=name]").value;
        if (!window.confirm(interpolate(gettext("Remove %(name)s from the box? Fans' swaps to it go too."), { name: name }, true))) return;
        button.disabled = true;
        api("DELETE", url).then(function () { return reload(gettext("Removed")); })
          .catch(function (err) { button.disabled = false; Fansi.toastError(err); });
      }
    });

    var form = $("box-add");
    if (form) {
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var button = $("box-add-submit");
        button.disabled = true;
        api("POST", CFG.items_api, fields(form)).then(function () {
          form.reset();
          return reload(gettext("Added"));
        }).catch(Fansi.toastError).then(function () { button.disabled = false; });
      });
    }
    paint(CFG.box);
  }

  /* ---------------------------------------------------------------------------------------------------
   * Fan: my box. Swap, never-list and size, delay, gift, frequency, and cancel with an offer.
   * --------------------------------------------------------------------------------------------------- */
  function initFan() {
    var box = CFG.box;
    var base = CFG.box_api;
    var RUNNING = { active: true, paused: true };
    var WHY_NOT = {
      skipped: gettext("You skipped the next box."),
      off_week: gettext("No box this week: yours comes every two weeks."),
      paused: gettext("Paused: no boxes until you resume."),
    };

    function fail(err) {
      $("box-error").textContent = err.message;
      $("box-error").hidden = false;
    }

    function send(method, url, body, message) {
      $("box-error").hidden = true;
      return api(method, url, body).then(function (data) {
        paint(data.calendar ? data : data.box);
        Fansi.toast(typeof message === "function" ? message(data) : message);
        return data;
      }).catch(function (err) { fail(err); throw err; });
    }

    function nameOf(id) {
      var found = box.items.filter(function (i) { return i.id === id; })[0];
      return found ? found.name : "";
    }

    function paintNext(b) {
      var next = $("box-next");
      if (!RUNNING[b.status]) {
        next.textContent = gettext("This subscription is not running any more.");
        return;
      }
      if (!b.cycle) {
        next.textContent = gettext("No box is scheduled yet.");
        return;
      }
      var text;
      if (b.receives) {
        text = interpolate(gettext("Next box: %(date)s"), { date: dayLabel(b.calendar.delivery_date) }, true);
        if (b.delay) text += " · " + interpolate(gettext("%(n)s days later than usual"), { n: b.delay.days }, true);
      } else {
        text = WHY_NOT[b.why_not] || "";
      }
      text += " · " + (b.cycle.changeable
        ? interpolate(gettext("changes until %(time)s"), { time: timeLabel(b.cycle.cutoff_at) }, true)
        : gettext("the cut-off has passed"));
      next.textContent = text;
      next.setAttribute("data-receives", b.receives ? "yes" : "no");
    }

    function paintLines(b) {
      var list = $("box-lines");
      list.textContent = "";
      b.calendar.contents.forEach(function (line) {
        var slot = line.replaces || line.item;
        var li = el("li", "box-line");
        li.setAttribute("data-item", String(line.item));
        var text = el("span", "box-line-name", line.name + " ×" + line.quantity);
        li.appendChild(text);
        if (line.replaces) li.appendChild(el("span", "muted small", interpolate(gettext("instead of %(name)s"), { name: nameOf(line.replaces) }, true)));
        var choices = b.swap_choices[String(slot)] || [];
        if (choices.length) {
          var select = el("select", { "aria-label": interpolate(gettext("Swap %(name)s"), { name: line.name }, true), "data-slot": String(slot) });
          select.appendChild(el("option", { value: "" }, nameOf(slot)));
          choices.forEach(function (id) { select.appendChild(el("option", { value: String(id) }, nameOf(id))); });
          select.value = line.item === slot ? "" : String(line.item);
          li.appendChild(select);
          li.appendChild(el("button", { type: "button", className: "btn btn-ghost btn-small", "data-swap": String(slot) }, gettext("Swap")));
        }
        list.appendChild(li);
      });
      if (!b.calendar.contents.length) list.appendChild(el("li", "muted", gettext("The shop has not filled the box yet.")));
      $("box-price").textContent = interpolate(gettext("¥%(price)s a box × %(n)s each delivery"), { price: money(b.unit_price), n: b.boxes }, true)
        + (b.box_size === "small" ? " · " + gettext("small box") : "");
    }

    function paintPrefs(b) {
      var never = $("never-list");
      never.textContent = "";
      b.items.forEach(function (item) {
        var label = el("label", "chip");
        var check = el("input", { type: "checkbox", name: "never", value: String(item.id) });
        check.checked = b.never.indexOf(item.id) >= 0;
        label.appendChild(check);
        label.appendChild(document.createTextNode(" " + item.name));
        never.appendChild(label);
      });
      document.querySelectorAll("#prefs-form [name=box_size]").forEach(function (r) { r.checked = r.value === b.box_size; });
    }

    function paintChanges(b) {
      $("delay-undo").hidden = !b.delay;
      if (b.delay) $("delay-days").value = String(b.delay.days);
      $("gift-undo").hidden = !b.gift;
      $("gift-now").hidden = !b.gift;
      if (b.gift) {
        $("gift-now").textContent = interpolate(gettext("The next box goes to %(name)s, %(address)s."), b.gift, true);
        $("gift-name").value = b.gift.name;
        $("gift-phone").value = b.gift.phone;
        $("gift-address").value = b.gift.address;
        $("gift-message").value = b.gift.message;
      }
      $("frequency-card").hidden = !b.can_change_frequency;
      document.querySelectorAll("#frequency-form [name=frequency]").forEach(function (r) { r.checked = r.value === b.frequency; });
    }

    function paint(b) {
      box = b;
      var running = !!RUNNING[b.status];
      document.querySelectorAll(".box-controls").forEach(function (s) { s.hidden = !running; });
      $("box-ended").hidden = running;
      paintNext(b);
      renderCalendar($("box-calendar"), b.calendar);
      paintLines(b);
      paintPrefs(b);
      if (running) paintChanges(b);
    }

    $("box-lines").addEventListener("click", function (ev) {
      var button = ev.target.closest("[data-swap]");
      if (!button) return;
      var slot = button.getAttribute("data-swap");
      var option = document.querySelector('#box-lines select[data-slot="' + slot + '"]').value;
      send("POST", base + "swap/", { item: Number(slot), option: option ? Number(option) : null },
        option ? gettext("Swapped") : gettext("Swapped back")).catch(function () {});
    });

    $("prefs-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var never = Array.prototype.map.call(document.querySelectorAll("#never-list input:checked"), function (c) { return Number(c.value); });
      var size = document.querySelector("#prefs-form [name=box_size]:checked");
      send("PUT", base, { never: never, box_size: size ? size.value : "standard" }, gettext("Saved")).catch(function () {});
    });

    $("delay-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var days = Number($("delay-days").value);
      send("POST", base + "delay/", { days: days }, interpolate(gettext("The next box comes %(n)s days later"), { n: days }, true)).catch(function () {});
    });
    $("delay-undo").addEventListener("click", function () {
      send("DELETE", base + "delay/", undefined, gettext("The next box comes on the usual day")).catch(function () {});
    });

    $("gift-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var f = ev.target;
      send("POST", base + "gift/", {
        name: f.name.value.trim(), phone: f.phone.value.trim(), address: f.address.value.trim(), message: f.message.value.trim(),
      }, function (data) { return interpolate(gettext("The next box goes to %(name)s"), { name: data.gift.name }, true); })
        .then(function () { $("gift-box").open = false; }).catch(function () {});
    });
    $("gift-undo").addEventListener("click", function () {
      send("DELETE", base + "gift/", undefined, gettext("The next box comes to you")).catch(function () {});
    });

    $("frequency-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var checked = document.querySelector("#frequency-form [name=frequency]:checked");
      send("POST", base + "frequency/", { frequency: checked ? checked.value : "" },
        checked && checked.value === "biweekly" ? gettext("Your box now comes every two weeks") : gettext("Your box now comes every week"))
        .catch(function () {});
    });

    var lastReason = null;
    $("cancel-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      $("box-error").hidden = true;
      lastReason = { reason: $("cancel-reason").value, note: $("cancel-note").value.trim() };
      api("POST", CFG.offer_api, lastReason).then(function (data) {
        $("offer").hidden = false;
        $("offer").setAttribute("data-offer", data.offer || "");
        $("offer-message").textContent = data.message;
        $("offer-accept").hidden = !data.offer;
        $("offer-decline").textContent = data.offer ? gettext("No, cancel anyway") : gettext("Cancel the subscription");
      }).catch(fail);
    });
    $("offer-accept").addEventListener("click", function () {
      send("POST", CFG.offer_api + "accept/", undefined, function (data) { return data.message; }).then(function () {
        $("offer").hidden = true;
        $("cancel-box").open = false;
      }).catch(function () {});
    });
    $("offer-decline").addEventListener("click", function () {
      var reason = CFG.reasons[lastReason.reason] + (lastReason.note ? ": " + lastReason.note : "");
      $("box-error").hidden = true;
      api("POST", CFG.cancel_api, { reason: reason.slice(0, 200) }).then(function () {
        return api("GET", base);
      }).then(function (data) {
        paint(data);
        Fansi.toast(gettext("Cancelled; your deposit is refunded."));
      }).catch(fail);
    });

    paint(box);
  }

  var pages = { "box-owner": initOwner, "box-fan": initFan };
  if (pages[CFG.page]) pages[CFG.page]();
})();
