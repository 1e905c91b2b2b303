/* The Journeys page: the shop's journeys with an on/off switch and a per-step funnel (entered, messaged,
 * converted), and the step editor (add, remove, reorder; the API's coded errors shown under it). */
(function () {
  "use strict";
  var F = window.Fansi;
  var cfg = F.config("journeys-config", {});
  var journeys = cfg.journeys || [];
  var editing = null; // {id or null, steps: [...]}
  var UNITS = [["minutes", 60], ["hours", 3600], ["days", 86400]];

  function label(list, value) {
    for (var i = 0; i < list.length; i++) if (list[i].value === value) return list[i].label;
    return value;
  }

  function waitText(seconds) {
    if (seconds % 86400 === 0) return interpolate(ngettext("%s day", "%s days", seconds / 86400), [seconds / 86400]);
    if (seconds % 3600 === 0) return interpolate(ngettext("%s hour", "%s hours", seconds / 3600), [seconds / 3600]);
    return interpolate(ngettext("%s minute", "%s minutes", Math.round(seconds / 60)), [Math.round(seconds / 60)]);
  }

  function stepSummary(step) {
    if (step.kind === "wait") return waitText(step.wait_seconds || 0);
    if (step.kind === "send_message") return step.text;
    if (step.kind === "send_card") {
      var which = (step.card || {}).card;
      return which === "campaign" ? gettext("Campaign card") : which === "product" ? gettext("Product card") : gettext("Recommended card");
    }
    return step.tag_name || "";
  }

  function bar(cls, name, value, max) {
    var row = F.el("div", "funnel-row");
    row.appendChild(F.el("span", "", name));
    var track = F.el("span", "funnel-track");
    var b = F.el("span", "funnel-bar " + cls);
    b.style.width = (max ? Math.round(100 * value / max) : 0) + "%";
    track.appendChild(b);
    row.appendChild(track);
    row.appendChild(F.el("span", "funnel-value", value));
    return row;
  }

  function renderJourney(j) {
    var card = F.el("section", { className: "card journey", "data-journey": j.id });
    var head = F.el("div", "journey-head");
    head.appendChild(F.el("h2", "", j.name));
    var meta = F.el("div", "journey-meta");
    meta.appendChild(F.el("span", "chip", j.trigger_label));
    if (j.transactional) meta.appendChild(F.el("span", "chip", gettext("Transactional")));
    var sw = F.el("label", "switch-row");
    var box = F.el("input", { type: "checkbox", "data-journey-switch": j.id, "aria-label": gettext("On") });
    box.checked = !!j.enabled;
    box.disabled = !cfg.can_manage;
    box.addEventListener("change", function () { toggle(j.id, box); });
    sw.appendChild(box);
    sw.appendChild(F.el("span", "", j.enabled ? gettext("On") : gettext("Off")));
    meta.appendChild(sw);
    if (cfg.can_manage) {
      var edit = F.el("button", { type: "button", className: "btn btn-ghost btn-small", "data-journey-edit": j.id }, gettext("Edit steps"));
      edit.addEventListener("click", function () { openEditor(j); });
      meta.appendChild(edit);
    }
    head.appendChild(meta);
    card.appendChild(head);
    card.appendChild(F.el("p", "muted small", interpolate(gettext("%(entered)s fans entered, %(active)s in progress"), j.counts, true)));
    var list = F.el("ol", { className: "journey-steps", "aria-label": gettext("Funnel per step") });
    var max = 1;
    j.steps.forEach(function (s) { max = Math.max(max, s.counts.entered); });
    j.steps.forEach(function (s) {
      var li = F.el("li", { className: "journey-step", "data-step": s.id });
      var name = F.el("div", "journey-step-label", s.kind_label);
      name.appendChild(F.el("small", "", stepSummary(s)));
      li.appendChild(name);
      var bars = F.el("div", "funnel-bars");
      bars.appendChild(bar("entered", gettext("Entered"), s.counts.entered, max));
      if (s.kind === "send_message" || s.kind === "send_card") {
        bars.appendChild(bar("messaged", gettext("Messaged"), s.counts.messaged, max));
        bars.appendChild(bar("converted", gettext("Converted"), s.counts.converted, max));
      }
      li.appendChild(bars);
      list.appendChild(li);
    });
    card.appendChild(list);
    return card;
  }

  function render() {
    var root = F.$("journey-list");
    root.textContent = "";
    journeys.forEach(function (j) { root.appendChild(renderJourney(j)); });
  }

  function replace(j) {
    var found = false;
    journeys = journeys.map(function (x) { if (x.id === j.id) { found = true; return j; } return x; });
    if (!found) journeys.push(j);
    render();
  }

  function toggle(id, box) {
    var on = box.checked;
    F.api("POST", "/api/journeys/" + id + "/" + (on ? "enable" : "disable") + "/").then(function (j) {
      replace(j);
      F.toast(on ? gettext("Journey turned on.") : gettext("Journey turned off."));
    }, function (err) { box.checked = !on; F.toastError(err); });
  }

  // --- the editor -------------------------------------------------------------------------------------

  function copySteps(steps) {
    return steps.map(function (s) {
      return { id: s.id, kind: s.kind, wait_seconds: s.wait_seconds, text: s.text || "", card: s.card || { card: "recommended" }, tag: s.tag };
    });
  }

  function openEditor(j) {
    editing = { id: j ? j.id : null, steps: j ? copySteps(j.steps) : [{ kind: "send_message", text: "" }] };
    F.$("editor-title").textContent = j ? interpolate(gettext("Edit: %s"), [j.name]) : gettext("New journey");
    F.$("editor-name").value = j ? j.name : "";
    var trig = F.$("editor-trigger");
    trig.value = j ? j.trigger : cfg.triggers[0].value;
    F.$("editor-error").hidden = true;
    F.$("journey-editor").hidden = false;
    renderSteps();
    F.$("journey-editor").scrollIntoView({ block: "start" });
  }

  function closeEditor() { editing = null; F.$("journey-editor").hidden = true; }

  function stepEditor(step, i) {
    var li = F.el("li", { className: "editor-step", "data-editor-step": i });
    var head = F.el("div", "editor-step-head");
    head.appendChild(F.el("strong", "", label(cfg.kinds, step.kind)));
    [["up", "↑", gettext("Move up")], ["down", "↓", gettext("Move down")], ["remove", "✕", gettext("Remove step")]].forEach(function (b) {
      var btn = F.el("button", { type: "button", className: "btn btn-ghost btn-small", "data-step-action": b[0], "aria-label": b[2], title: b[2] }, b[1]);
      btn.addEventListener("click", function () { stepAction(b[0], i); });
      head.appendChild(btn);
    });
    li.appendChild(head);
    if (step.kind === "wait") {
      var unit = UNITS[0];
      for (var u = UNITS.length - 1; u >= 0; u--) if (step.wait_seconds && step.wait_seconds % UNITS[u][1] === 0) { unit = UNITS[u]; break; }
      var row = F.el("div", "wait-row");
      var num = F.el("input", { type: "number", step: "any", "data-wait-amount": i, "aria-label": gettext("Wait for") });
      num.value = step.wait_seconds ? step.wait_seconds / unit[1] : 1;
      var sel = F.el("select", { "data-wait-unit": i, "aria-label": gettext("Unit") });
      [["minutes", gettext("minutes")], ["hours", gettext("hours")], ["days", gettext("days")]].forEach(function (o) {
        var opt = F.el("option", { value: o[0] }, o[1]);
        if (o[0] === unit[0]) opt.selected = true;
        sel.appendChild(opt);
      });
      row.appendChild(num);
      row.appendChild(sel);
      li.appendChild(row);
    } else if (step.kind === "send_message") {
      var ta = F.el("textarea", { "data-step-text": i, "aria-label": gettext("Message"), maxlength: "2000" });
      ta.value = step.text || "";
      li.appendChild(ta);
      li.appendChild(F.el("small", "muted", gettext("{name} becomes the fan's name, {shop} the shop's.")));
    } else if (step.kind === "send_card") {
      var card = F.el("select", { "data-step-card": i, "aria-label": gettext("Card") });
      [["recommended", gettext("Recommended card")], ["campaign", gettext("Campaign card")], ["product", gettext("Product card")]].forEach(function (o) {
        var opt = F.el("option", { value: o[0] }, o[1]);
        if ((step.card || {}).card === o[0]) opt.selected = true;
        card.appendChild(opt);
      });
      li.appendChild(card);
    } else {
      var tag = F.el("select", { "data-step-tag": i, "aria-label": gettext("Tag") });
      tag.appendChild(F.el("option", { value: "" }, gettext("Choose a tag")));
      cfg.tags.forEach(function (t) {
        var opt = F.el("option", { value: t.id }, t.name);
        if (step.tag === t.id) opt.selected = true;
        tag.appendChild(opt);
      });
      li.appendChild(tag);
    }
    return li;
  }

  /* What the form holds now, back into editing.steps (before a reorder and before saving). */
  function readSteps() {
    editing.steps.forEach(function (s, i) {
      var q = function (attr) { return document.querySelector("[" + attr + '="' + i + '"]'); };
      if (s.kind === "wait") {
        var unit = q("data-wait-unit").value;
        var mult = UNITS.filter(function (u) { return u[0] === unit; })[0][1];
        s.wait_input = { unit: unit, amount: q("data-wait-amount").value };
        var amount = Number(q("data-wait-amount").value);
        s.wait_seconds = isNaN(amount) ? null : Math.round(amount * mult);
      } else if (s.kind === "send_message") {
        s.text = q("data-step-text").value;
      } else if (s.kind === "send_card") {
        s.card = { card: q("data-step-card").value };
      } else {
        var v = q("data-step-tag").value;
        s.tag = v ? Number(v) : null;
      }
    });
  }

  function renderSteps() {
    var ol = F.$("editor-steps");
    ol.textContent = "";
    editing.steps.forEach(function (s, i) { ol.appendChild(stepEditor(s, i)); });
  }

  function stepAction(action, i) {
    readSteps();
    var steps = editing.steps;
    if (action === "remove") steps.splice(i, 1);
    else {
      var j = action === "up" ? i - 1 : i + 1;
      if (j < 0 || j >= steps.length) return;
      var tmp = steps[i]; steps[i] = steps[j]; steps[j] = tmp;
    }
    renderSteps();
  }

  function payloadSteps() {
    return editing.steps.map(function (s) {
      var out = { kind: s.kind };
      if (typeof s.id === "number") out.id = s.id;
      if (s.kind === "wait") out.wait_seconds = s.wait_seconds;
      else if (s.kind === "send_message") out.text = s.text;
      else if (s.kind === "send_card") out.card = s.card;
      else out.tag = s.tag;
      return out;
    });
  }

  function save() {
    readSteps();
    var body = { name: F.$("editor-name").value, trigger: F.$("editor-trigger").value, steps: payloadSteps() };
    var req = editing.id
      ? F.api("PATCH", "/api/journeys/" + editing.id + "/", body)
      : F.api("POST", "/api/journeys/", Object.assign({ shop: cfg.shop }, body));
    req.then(function (j) {
      replace(j);
      closeEditor();
      F.toast(gettext("Journey saved."));
    }, function (err) {
      var box = F.$("editor-error");
      box.textContent = err.message;
      box.setAttribute("data-code", err.code);
      box.hidden = false;
    });
  }

  function init() {
    var trig = F.$("editor-trigger");
    cfg.triggers.forEach(function (t) { trig.appendChild(F.el("option", { value: t.value }, t.label)); });
    var kinds = F.$("editor-add-kind");
    cfg.kinds.forEach(function (k) { kinds.appendChild(F.el("option", { value: k.value }, k.label)); });
    F.$("editor-add").addEventListener("click", function () {
      readSteps();
      var kind = kinds.value;
      var step = { kind: kind, text: "", card: { card: "recommended" }, tag: null, wait_seconds: kind === "wait" ? 86400 : null };
      editing.steps.push(step);
      renderSteps();
    });
    F.$("editor-save").addEventListener("click", save);
    F.$("editor-cancel").addEventListener("click", closeEditor);
    var create = F.$("journey-new");
    if (create) create.addEventListener("click", function () { openEditor(null); });
    render();
  }

  init();
})();
