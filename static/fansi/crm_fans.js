/* Fansi fan CRM: /fans/, the fan list (filters in the URL, selection, bulk jobs, saving a segment).
 * Needs crm_common.js (window.FansiCrm). User data is rendered with textContent only. */
(function () {
  "use strict";

  var P = window.FansiCrm;
  var $ = Fansi.$, el = Fansi.el, api = Fansi.api, flash = Fansi.toast, flashError = Fansi.toastError;
  var CFG = P.cfg;
  var JobPanel = P.JobPanel;
  var TAG_STATE = { all: gettext("Must have"), any: gettext("Any of"), none: gettext("Must not have") };

  var lang = document.documentElement.lang || "zh-hans";
  function day(iso) {
    if (!iso) return "—";
    var d = new Date(iso);
    return isNaN(d) ? "—" : d.toLocaleDateString(lang);
  }
  function money(value) {
    var n = Number(value || 0);
    return "¥" + n.toLocaleString(lang, { minimumFractionDigits: 0, maximumFractionDigits: 2 });
  }

  /* ------------------------------------------------------------------------------------------------
   * /fans/: the list. Its state lives in the URL query string, and the same params go to /api/fans/.
   * ------------------------------------------------------------------------------------------------ */
  var FILTER_KEYS = ["tags_all", "tags_any", "tags_none", "q", "assigned_to", "joined_after", "joined_before",
    "last_message_after", "last_message_before", "min_spend", "max_spend", "min_pledges", "max_pledges"];
  var TAG_KEYS = { all: "tags_all", any: "tags_any", none: "tags_none" };
  var NEXT_STATE = { "": "all", all: "any", any: "none", none: "" };

  function fansPage() {
    var form = $("filter-form");
    var chips = Array.prototype.slice.call(form.querySelectorAll(".chip[data-tag]"));
    var tagNames = {};
    (CFG.vocabulary || []).forEach(function (g) {
      g.tags.forEach(function (t) { tagNames[t.value] = { name: t.name, group: g.name }; });
    });
    var pageSize = CFG.page_size || 50;
    var state = { count: 0, results: [], selected: new Set(), allMatching: false, loading: 0 };
    var jobs = new JobPanel(function (job) {
      if (job.status === "succeeded" && job.action !== "export") { clearSelection(); load(); }
    });

    function currentParams() {
      var params = new URLSearchParams(window.location.search);
      params.set("shop", CFG.shop);
      return params;
    }
    function setChip(chip, value) {
      chip.dataset.state = value;
      chip.setAttribute("aria-pressed", value ? "true" : "false");
      var label = chip.textContent;
      chip.title = value ? TAG_STATE[value] + ": " + label : label;
    }
    function syncForm(params) {
      FILTER_KEYS.forEach(function (key) {
        var input = form.elements[key];
        if (input) input.value = params.get(key) || "";
      });
      var states = {};
      Object.keys(TAG_KEYS).forEach(function (st) {
        (params.get(TAG_KEYS[st]) || "").split(",").forEach(function (tag) { if (tag) states[tag] = st; });
      });
      chips.forEach(function (chip) { setChip(chip, states[chip.dataset.tag] || ""); });
      $("ordering").value = params.get("ordering") || "-joined_at";
    }
    function paramsFromForm() {
      var params = new URLSearchParams();
      params.set("shop", CFG.shop);
      FILTER_KEYS.forEach(function (key) {
        var input = form.elements[key];
        if (input && input.value.trim()) params.set(key, input.value.trim());
      });
      var lists = { all: [], any: [], none: [] };
      chips.forEach(function (chip) { if (chip.dataset.state) lists[chip.dataset.state].push(chip.dataset.tag); });
      Object.keys(lists).forEach(function (st) { if (lists[st].length) params.set(TAG_KEYS[st], lists[st].join(",")); });
      var ordering = $("ordering").value;
      if (ordering && ordering !== "-joined_at") params.set("ordering", ordering);
      var limit = currentParams().get("limit");  // a chosen page size survives new filters
      if (limit) params.set("limit", limit);
      return params;
    }
    /* The JSON filter (for segments and bulk jobs) that matches the list's params. */
    function filterObject(params) {
      var flt = {};
      FILTER_KEYS.forEach(function (key) {
        var value = params.get(key);
        if (!value) return;
        flt[key] = key.indexOf("tags_") === 0 ? value.split(",").filter(Boolean) : value;
      });
      return flt;
    }
    function navigate(params, replace) {
      var url = window.location.pathname + "?" + params.toString();
      if (replace) history.replaceState(null, "", url); else history.pushState(null, "", url);
      clearSelection();
      load();
    }

    function load() {
      var params = currentParams();
      var offset = parseInt(params.get("offset") || "0", 10) || 0;
      var limit = parseInt(params.get("limit") || String(pageSize), 10) || pageSize;
      params.set("offset", offset);
      params.set("limit", limit);
      var ticket = ++state.loading;
      $("fan-table").setAttribute("aria-busy", "true");
      api("GET", "/api/fans/?" + params.toString()).then(function (data) {
        if (ticket !== state.loading) return;
        state.count = data.count;
        state.results = data.results;
        render(offset, limit);
      }).catch(function (err) {
        if (ticket !== state.loading) return;
        flashError(err);
        $("fan-range").textContent = "";
      }).then(function () { $("fan-table").removeAttribute("aria-busy"); });
    }

    function tagChip(value) {
      var info = tagNames[value];
      var chip = el("span", { className: "chip chip-small" }, info ? info.name : value);
      chip.title = info ? info.group + " · " + info.name : value;
      return chip;
    }
    function render(offset, limit) {
      var rows = $("fan-rows");
      rows.textContent = "";
      var from = state.count ? offset + 1 : 0;
      var to = offset + state.results.length;
      var range = $("fan-range");
      range.textContent = interpolate(gettext("Showing %(from)s–%(to)s of %(count)s"), { from: from, to: to, count: state.count.toLocaleString(lang) }, true);
      range.dataset.count = String(state.count);
      $("page-info").textContent = range.textContent;
      $("fan-empty").hidden = state.results.length > 0;
      state.results.forEach(function (fan) {
        var tr = el("tr", { "data-fan": fan.id });
        var check = el("input", { type: "checkbox", "aria-label": interpolate(gettext("Select %(name)s"), { name: fan.display_name }, true) });
        check.checked = state.allMatching || state.selected.has(fan.id);
        check.addEventListener("change", function () {
          if (state.allMatching) {
            // Leaving "all matching" keeps this page's boxes as they are now.
            state.allMatching = false;
            state.results.forEach(function (f) { state.selected.add(f.id); });
          }
          if (check.checked) state.selected.add(fan.id); else state.selected.delete(fan.id);
          updateSelection();
        });
        var tdCheck = el("td", { className: "col-check" });
        tdCheck.appendChild(check);
        var tdName = el("td", { className: "fan-name" });
        var link = el("a", { href: "/fans/" + fan.id + "/?shop=" + CFG.shop }, fan.display_name || fan.username);
        tdName.appendChild(link);
        tdName.appendChild(el("div", { className: "muted small" }, "@" + fan.username));
        var tdTags = el("td", { className: "fan-tags" });
        fan.tags.forEach(function (t) { tdTags.appendChild(tagChip(t)); });
        tr.appendChild(tdCheck);
        tr.appendChild(tdName);
        tr.appendChild(tdTags);
        tr.appendChild(el("td", { className: "col-hide" }, fan.assigned_to_name || gettext("Unassigned")));
        tr.appendChild(el("td", { className: "col-hide nowrap" }, day(fan.joined_at)));
        tr.appendChild(el("td", { className: "col-hide nowrap" }, day(fan.last_message_at)));
        tr.appendChild(el("td", { className: "num" }, money(fan.total_spend)));
        tr.appendChild(el("td", { className: "num col-hide" }, String(fan.pledge_count)));
        rows.appendChild(tr);
      });
      $("page-prev").disabled = offset <= 0;
      $("page-next").disabled = to >= state.count;
      $("page-prev").onclick = function () { goTo(Math.max(0, offset - limit)); };
      $("page-next").onclick = function () { goTo(offset + limit); };
      updateSelection();
    }
    function goTo(offset) {
      var params = currentParams();
      if (offset) params.set("offset", offset); else params.delete("offset");
      history.pushState(null, "", window.location.pathname + "?" + params.toString());
      clearSelection();
      load();
      window.scrollTo(0, 0);
    }

    function selectedCount() { return state.allMatching ? state.count : state.selected.size; }
    function clearSelection() {
      state.selected.clear();
      state.allMatching = false;
      updateSelection();
    }
    function updateSelection() {
      var boxes = $("fan-rows").querySelectorAll("input[type=checkbox]");
      var pageAll = state.results.length > 0 && state.results.every(function (f) { return state.allMatching || state.selected.has(f.id); });
      boxes.forEach(function (box) {
        var id = Number(box.closest("tr").dataset.fan);
        box.checked = state.allMatching || state.selected.has(id);
      });
      var head = $("check-page");
      head.checked = pageAll;
      head.indeterminate = !pageAll && state.selected.size > 0;
      var banner = $("select-banner");
      var more = state.count > state.results.length;
      if (state.allMatching) {
        banner.hidden = false;
        $("select-banner-text").textContent = interpolate(gettext("All %(count)s matching fans are selected."), { count: state.count.toLocaleString(lang) }, true);
        $("select-all-matching").hidden = true;
        $("clear-selection").hidden = false;
      } else if (pageAll && more) {
        banner.hidden = false;
        $("select-banner-text").textContent = interpolate(gettext("All %(n)s fans on this page are selected."), { n: state.results.length }, true);
        var btn = $("select-all-matching");
        btn.hidden = false;
        btn.textContent = interpolate(gettext("Select all %(count)s matching fans"), { count: state.count.toLocaleString(lang) }, true);
        $("clear-selection").hidden = true;
      } else {
        banner.hidden = true;
      }
      var n = selectedCount();
      $("bulk-bar").hidden = n === 0;
      $("bulk-count").textContent = interpolate(gettext("%(n)s selected"), { n: n.toLocaleString(lang) }, true);
    }
    function selection() {
      if (state.allMatching) return { filter: filterObject(currentParams()) };
      return { fan_ids: Array.from(state.selected) };
    }
    function runJob(body) {
      body.shop = CFG.shop;
      var sel = selection();
      Object.keys(sel).forEach(function (k) { body[k] = sel[k]; });
      return api("POST", "/api/bulk-jobs/", body).then(function (job) { jobs.start(job); }).catch(flashError);
    }
    function chosenTag() {
      var tag = $("bulk-tag").value;
      if (!tag) { flash(gettext("Choose a tag first."), true); $("bulk-tag").focus(); }
      return tag;
    }

    // Wiring.
    chips.forEach(function (chip) {
      chip.addEventListener("click", function () { setChip(chip, NEXT_STATE[chip.dataset.state || ""]); });
    });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      navigate(paramsFromForm());
      if (window.matchMedia("(max-width: 760px)").matches) $("filters").open = false;
    });
    $("reset-filters").addEventListener("click", function () {
      var params = new URLSearchParams();
      params.set("shop", CFG.shop);
      syncForm(params);
      navigate(params);
    });
    $("ordering").addEventListener("change", function () {
      var params = currentParams();
      var value = $("ordering").value;
      if (value && value !== "-joined_at") params.set("ordering", value); else params.delete("ordering");
      params.delete("offset");
      navigate(params);
    });
    $("check-page").addEventListener("change", function () {
      var on = $("check-page").checked;
      state.allMatching = false;
      state.results.forEach(function (f) { if (on) state.selected.add(f.id); else state.selected.delete(f.id); });
      updateSelection();
    });
    $("select-all-matching").addEventListener("click", function () {
      state.allMatching = true;
      updateSelection();
    });
    $("clear-selection").addEventListener("click", clearSelection);
    $("bulk-add").addEventListener("click", function () {
      var tag = chosenTag();
      if (tag) runJob({ action: "add_tags", tags: [tag] });
    });
    if ($("bulk-remove")) $("bulk-remove").addEventListener("click", function () {
      var tag = chosenTag();
      if (tag && window.confirm(interpolate(gettext("Remove this tag from %(count)s fans?"), { count: selectedCount() }, true))) runJob({ action: "remove_tags", tags: [tag] });
    });
    if ($("bulk-assign")) $("bulk-assign").addEventListener("click", function () {
      var staff = $("bulk-staff").value;
      if (window.confirm(interpolate(gettext("Assign %(count)s fans?"), { count: selectedCount() }, true))) {
        runJob({ action: "assign", staff: staff ? Number(staff) : null });
      }
    });
    if ($("bulk-export")) $("bulk-export").addEventListener("click", function () { runJob({ action: "export" }); });
    $("save-segment").addEventListener("click", function () {
      var name = window.prompt(gettext("Name this segment:"));
      if (!name || !name.trim()) return;
      api("POST", "/api/segments/", { shop: CFG.shop, name: name.trim(), filter: filterObject(currentParams()) })
        .then(function (seg) { flash(interpolate(gettext("Saved the segment “%(name)s” (%(count)s fans)."), { name: seg.name, count: seg.count }, true)); })
        .catch(flashError);
    });
    window.addEventListener("popstate", function () { syncForm(currentParams()); clearSelection(); load(); });

    if (window.matchMedia("(max-width: 760px)").matches) $("filters").open = false;
    syncForm(currentParams());
    history.replaceState(null, "", window.location.pathname + "?" + currentParams().toString());
    load();
  }

  P.pages.fans = fansPage;
})();
