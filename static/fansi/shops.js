/* Owner self-service pages (templates/shops/): the new shop's address checked as it is typed, variant rows
 * added and removed, the own/catalogue tabs, and confirmations. The forms post without script too. */
(function () {
  "use strict";

  function $(id) { return document.getElementById(id); }
  var cfg = window.Fansi ? Fansi.config("shops-config", {}) || {} : {};

  // --- /shop/new/: the address (slug) ------------------------------------------------------------------
  var slug = $("id_slug");
  var name = $("id_name");
  var status = $("slug-status");
  if (slug && status && cfg.slug_api) {
    var initialHelp = status.textContent;
    var timer = null;
    var seq = 0;
    var edited = !!slug.value;
    var check = function () {
      var value = slug.value.trim();
      var mine = ++seq;
      if (!value) { status.textContent = initialHelp; status.className = "help"; return; }
      Fansi.api("GET", cfg.slug_api + "?slug=" + encodeURIComponent(value)).then(function () {
        if (mine !== seq) return;
        status.textContent = gettext("This address is free.");
        status.className = "help slug-ok";
      }, function (err) {
        if (mine !== seq) return;
        status.textContent = err.message;
        status.className = "help slug-bad";
      });
    };
    slug.addEventListener("input", function () {
      edited = true;
      var lower = slug.value.toLowerCase();
      if (lower !== slug.value) slug.value = lower;
      clearTimeout(timer);
      timer = setTimeout(check, 300);
    });
    if (name) {
      // A latin shop name proposes its address; a Chinese one leaves the address to the owner.
      name.addEventListener("input", function () {
        if (edited) return;
        var guess = name.value.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 60);
        if (guess.length >= 3) { slug.value = guess; clearTimeout(timer); timer = setTimeout(check, 300); }
      });
    }
  }

  // --- product form: variant rows ---------------------------------------------------------------------
  var rows = $("variant-rows");
  var template = $("variant-template");
  var add = $("variant-add");
  if (rows && template && add) {
    var addRow = function () {
      var row = template.content.firstElementChild.cloneNode(true);
      rows.appendChild(row);
      row.querySelector("[name=variant_name]").focus();
    };
    add.addEventListener("click", addRow);
    rows.addEventListener("click", function (event) {
      var button = event.target.closest("[data-remove-variant]");
      if (button) button.closest(".variant-row").remove();
    });
    if (!rows.children.length) {
      var first = template.content.firstElementChild.cloneNode(true);
      rows.appendChild(first);
    }
  }

  // --- product form: own product / catalogue tabs ------------------------------------------------------
  var tabs = document.querySelectorAll(".tabs [role=tab]");
  Array.prototype.forEach.call(tabs, function (tab) {
    tab.addEventListener("click", function () {
      Array.prototype.forEach.call(tabs, function (other) {
        var on = other === tab;
        other.setAttribute("aria-selected", on ? "true" : "false");
        var panel = $(other.getAttribute("aria-controls"));
        if (panel) panel.hidden = !on;
      });
    });
  });

  // --- confirmations -------------------------------------------------------------------------------------
  Array.prototype.forEach.call(document.querySelectorAll("form[data-confirm]"), function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  });
})();
