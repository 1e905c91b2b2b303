/* Fansi /bot/ page: FAQ answers and canned replies, added, edited in place and deleted (managers and owner).
 * Each list item carries its fields in data-* attributes; user text reaches the DOM through textContent. */
(function () {
  "use strict";

  var $ = Fansi.$, el = Fansi.el, api = Fansi.api, toast = Fansi.toast, withShop = Fansi.withShop;
  var CFG = Fansi.config("bot-config", {});
  if (CFG.page !== "bot") return;

  var KINDS = {
    faq: {
      url: "/api/bot/faq/", list: "faq-list", empty: "faq-empty",
      fields: [
        { name: "keywords", label: gettext("Keywords (comma-separated)"), max: 200 },
        { name: "answer", label: gettext("Answer"), max: 2000, multiline: true },
      ],
    },
    canned: {
      url: "/api/bot/canned-replies/", list: "canned-list", empty: "canned-empty",
      fields: [
        { name: "title", label: gettext("Title"), max: 60 },
        { name: "text", label: gettext("Text"), max: 2000, multiline: true },
      ],
    },
  };

  function button(text, className, onClick) {
    var b = el("button", className, text);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }

  /* Draw an item from its data: head, text, and (for managers) Edit and Delete. */
  function render(li) {
    var kind = li.dataset.rule, d = li.dataset;
    li.textContent = "";
    var head = el("div", "rule-keys", kind === "faq" ? d.keywords : d.title);
    if (kind === "faq") {
      var on = d.active !== "0";
      head.appendChild(document.createTextNode(" "));
      head.appendChild(el("span", on ? "pill" : "pill pill-off", on ? gettext("Active") : gettext("Off")));
    }
    li.appendChild(head);
    li.appendChild(el("div", "rule-text", kind === "faq" ? d.answer : d.text));
    if (!CFG.can_manage) return;
    var actions = el("div", "rule-actions");
    actions.appendChild(button(gettext("Edit"), "btn btn-ghost btn-small rule-edit", function () { edit(li); }));
    actions.appendChild(button(gettext("Delete"), "btn btn-ghost btn-small rule-delete", function () { remove(li); }));
    li.appendChild(actions);
  }

  function fill(li, kind, row) {
    li.dataset.rule = kind;
    li.dataset.id = row.id;
    KINDS[kind].fields.forEach(function (f) { li.dataset[f.name] = row[f.name]; });
    if (kind === "faq") li.dataset.active = row.is_active ? "1" : "0";
  }

  function edit(li) {
    var kind = li.dataset.rule, spec = KINDS[kind];
    li.textContent = "";
    var form = el("form", "stack-form rule-edit-form");
    spec.fields.forEach(function (f) {
      var id = "edit-" + kind + "-" + li.dataset.id + "-" + f.name;
      var wrap = el("div", "field");
      var label = el("label", null, f.label);
      label.htmlFor = id;
      var input = el(f.multiline ? "textarea" : "input");
      input.id = id;
      input.name = f.name;
      input.maxLength = f.max;
      input.required = true;
      if (f.multiline) input.rows = 2;
      input.value = li.dataset[f.name] || "";
      wrap.appendChild(label);
      wrap.appendChild(input);
      form.appendChild(wrap);
    });
    var row = el("div", "form-row");
    var save = el("button", "btn btn-primary btn-small rule-save", gettext("Save"));
    save.type = "submit";
    row.appendChild(save);
    row.appendChild(button(gettext("Cancel"), "btn btn-ghost btn-small rule-cancel", function () { render(li); }));
    form.appendChild(row);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var body = {};
      spec.fields.forEach(function (f) { body[f.name] = form.elements[f.name].value.trim(); });
      save.disabled = true;
      api("PATCH", withShop(spec.url + li.dataset.id + "/", CFG.shop), body).then(function (updated) {
        fill(li, kind, updated);
        render(li);
        toast(gettext("Saved."));
      }).catch(function (err) { save.disabled = false; Fansi.toastError(err); });
    });
    li.appendChild(form);
    form.elements[spec.fields[0].name].focus();
  }

  function remove(li) {
    var spec = KINDS[li.dataset.rule];
    if (!window.confirm(gettext("Delete this for good?"))) return;
    api("DELETE", withShop(spec.url + li.dataset.id + "/", CFG.shop)).then(function () {
      var list = li.parentNode;
      li.remove();
      $(spec.empty).hidden = list.children.length > 0;
      toast(gettext("Deleted."));
    }).catch(Fansi.toastError);
  }

  function initAdd(kind, formId, extra) {
    var form = $(formId), spec = KINDS[kind];
    if (!form) return;
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var list = $(spec.list), body = extra ? extra(list) : {};
      spec.fields.forEach(function (f) { body[f.name] = form.elements[f.name].value.trim(); });
      api("POST", withShop(spec.url, CFG.shop), body).then(function (row) {
        var li = el("li");
        fill(li, kind, row);
        render(li);
        list.appendChild(li);
        $(spec.empty).hidden = true;
        form.reset();
        toast(gettext("Added."));
      }).catch(Fansi.toastError);
    });
  }

  Object.keys(KINDS).forEach(function (kind) {
    Array.prototype.forEach.call($(KINDS[kind].list).querySelectorAll("li[data-rule]"), render);
  });
  initAdd("faq", "faq-form", function (list) { return { is_active: true, position: list.children.length }; });
  initAdd("canned", "canned-form");
})();
