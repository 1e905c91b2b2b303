/* Fansi fan CRM pages: vanilla JS on top of the CRM REST API. User data is rendered with textContent only. */
(function () {
  "use strict";

  var $ = Fansi.$, el = Fansi.el, api = Fansi.api, flash = Fansi.toast, flashError = Fansi.toastError;
  var CFG = Fansi.config("crm-config", {});
  var POLL_MS = 700;
  var JOB_STATUS = {
    queued: gettext("Queued"), running: gettext("Running"), succeeded: gettext("Done"),
    failed: gettext("Failed"), cancelled: gettext("Cancelled"),
  };
  var JOB_ACTION = {
    add_tags: gettext("Adding tags"), remove_tags: gettext("Removing tags"), assign: gettext("Assigning fans"),
    export: gettext("Exporting CSV"),
  };
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
   * Bulk jobs: a panel with a real progress bar, polled until the job is finished; Cancel while running.
   * ------------------------------------------------------------------------------------------------ */
  function JobPanel(onDone) {
    this.onDone = onDone;
    this.job = null;
    this.polling = null;
    var self = this;
    $("job-cancel").addEventListener("click", function () {
      if (!self.job) return;
      api("POST", "/api/bulk-jobs/" + self.job.id + "/cancel/").then(function (job) { self.render(job); }).catch(flashError);
    });
    $("job-close").addEventListener("click", function () { $("job-panel").hidden = true; });
  }
  JobPanel.prototype.start = function (job) {
    var self = this;
    if (this.polling) this.polling.stop();
    $("job-panel").hidden = false;
    this.render(job);
    this.polling = Fansi.pollJob("/api/bulk-jobs/" + job.id + "/", {
      every: POLL_MS,
      onUpdate: function (j) { self.render(j); },
      onDone: function (j) { if (self.onDone) self.onDone(j); },
    });
  };
  JobPanel.prototype.render = function (job) {
    this.job = job;
    var done = Fansi.isFinished(job.status);
    $("job-title").textContent = JOB_ACTION[job.action] || job.action;
    $("job-status").textContent = JOB_STATUS[job.status] || job.status;
    $("job-panel").dataset.status = job.status;
    Fansi.setProgress($("job-progress"), job.status === "succeeded" ? 1 : job.progress);
    $("job-summary").textContent = done
      ? interpolate(gettext("Processed %(processed)s, changed %(changed)s"), { processed: job.processed, changed: job.changed }, true)
      : interpolate(gettext("%(processed)s of %(total)s"), { processed: job.processed, total: job.total }, true);
    var link = $("job-download");
    link.hidden = !(done && job.download_url);
    if (job.download_url) { link.href = job.download_url; link.textContent = gettext("Download CSV"); }
    $("job-cancel").hidden = done;
    $("job-close").hidden = !done;
  };

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

  /* ------------------------------------------------------------------------------------------------
   * /fans/<id>/: tag editing and private notes.
   * ------------------------------------------------------------------------------------------------ */
  function fanPage() {
    document.querySelectorAll("[data-fan-tag]").forEach(function (chip) {
      chip.addEventListener("click", function () {
        var tag = chip.dataset.fanTag;
        var body = chip.dataset.held === "1" ? { add: [], remove: [tag] } : { add: [tag], remove: [] };
        chip.disabled = true;
        api("POST", "/api/fans/" + CFG.fan + "/tags/", body).then(function () {
          try { sessionStorage.setItem("crm-open-editor", "1"); } catch (e) { /* ignore */ }
          window.location.reload();
        }).catch(function (err) { chip.disabled = false; flashError(err); });
      });
    });
    try {
      if (sessionStorage.getItem("crm-open-editor")) {
        sessionStorage.removeItem("crm-open-editor");
        $("tag-editor").open = true;
      }
    } catch (e) { /* ignore */ }
    $("notes-form").addEventListener("submit", function (e) {
      e.preventDefault();
      var status = $("notes-status");
      status.textContent = "";
      api("PATCH", "/api/fans/" + CFG.fan + "/", { notes: $("notes").value })
        .then(function () { status.textContent = gettext("Saved."); })
        .catch(flashError);
    });
  }

  /* ------------------------------------------------------------------------------------------------
   * /segments/
   * ------------------------------------------------------------------------------------------------ */
  function segmentsPage() {
    document.querySelectorAll("[data-delete-segment]").forEach(function (btn) {
      btn.addEventListener("click", function () {
        if (!window.confirm(interpolate(gettext("Delete the segment “%(name)s”? The fans are not affected."), { name: btn.dataset.name }, true))) return;
        api("DELETE", "/api/segments/" + btn.dataset.deleteSegment + "/").then(function () {
          var li = btn.closest("li");
          if (li) li.remove();
        }).catch(flashError);
      });
    });
  }

  /* ------------------------------------------------------------------------------------------------
   * /fans/import/: upload → preview with per-row errors → confirm → progress → summary.
   * ------------------------------------------------------------------------------------------------ */
  function importPage() {
    var job = null;
    $("import-form").addEventListener("submit", function (e) {
      e.preventDefault();
      var file = $("import-file").files[0];
      if (!file) { flash(gettext("Choose a CSV file first."), true); return; }
      var data = new FormData();
      data.append("file", file);
      $("import-check").disabled = true;
      $("import-progress-panel").hidden = true;
      // Nothing to confirm or discard until the server has answered with the job (a click did nothing).
      job = null;
      $("import-confirm").hidden = true;
      $("import-discard").disabled = true;
      $("import-totals").textContent = gettext("Checking the file…");
      $("import-preview").hidden = false;
      api("POST", Fansi.withShop("/api/imports/", CFG.shop), data).then(function (j) {
        job = j;
        if (j.status !== "checking") { showPreview(j); return; }
        // A large file is checked by a worker: follow it with a progress bar until the preview is ready.
        $("import-progress-panel").hidden = false;
        $("import-status").textContent = gettext("Checking the file…");
        $("import-summary").textContent = "";
        Fansi.setProgress($("import-progress"), j.progress);
        return new Promise(function (resolve) {
          Fansi.pollJob("/api/imports/" + j.id + "/", {
            every: POLL_MS,
            isDone: function (x) { return x.status !== "checking"; },
            onUpdate: function (x) {
              Fansi.setProgress($("import-progress"), x.status === "checking" ? x.progress : 1);
              if (x.status === "checking") return;
              $("import-progress-panel").hidden = true;
              job = x;
              if (x.status === "preview") showPreview(x);
              else {
                $("import-preview").hidden = true;
                flash(gettext("The file could not be checked.") + ((x.result && x.result.error) ? " " + x.result.error : ""), true);
              }
              resolve();
            },
          });
        });
      }).catch(function (err) {
        $("import-preview").hidden = true;
        flashError(err);
      }).then(function () { $("import-check").disabled = false; });
    });
    $("import-confirm").addEventListener("click", function () {
      if (!job) return;
      $("import-confirm").disabled = true;
      api("POST", "/api/imports/" + job.id + "/confirm/").then(function (j) {
        $("import-confirm").hidden = true;
        $("import-progress-panel").hidden = false;
        show(j);
        Fansi.pollJob("/api/imports/" + j.id + "/", { every: POLL_MS, onUpdate: show });
      }).catch(function (err) { $("import-confirm").disabled = false; flashError(err); });
    });
    $("import-discard").addEventListener("click", function () {
      if (!job) return;
      $("import-discard").disabled = true;
      api("POST", "/api/imports/" + job.id + "/cancel/").then(function () {
        job = null;
        $("import-preview").hidden = true;
        $("import-file").value = "";
        flash(gettext("The import was discarded; nothing was changed."));
      }).catch(flashError).then(function () { $("import-discard").disabled = false; });
    });
    function showPreview(j) {
      var errors = (j.result && j.result.error_count) || 0;
      $("import-totals").textContent = interpolate(gettext("%(valid)s of %(total)s rows can be imported; %(errors)s have errors."), { valid: j.valid, total: j.total, errors: errors }, true);
      $("import-warnings").textContent = ((j.result && j.result.warnings) || []).join(" ");
      var body = $("import-errors");
      body.textContent = "";
      j.errors.forEach(function (row) {
        var tr = el("tr");
        tr.appendChild(el("td", { className: "num" }, String(row.row)));
        tr.appendChild(el("td", {}, row.reason));
        body.appendChild(tr);
      });
      $("import-errors-wrap").hidden = j.errors.length === 0;
      $("import-confirm").disabled = j.valid === 0;
      $("import-confirm").hidden = false;
      $("import-discard").disabled = false;
    }
    function show(j) {
      $("import-status").textContent = JOB_STATUS[j.status] || (j.status === "preview" ? "" : gettext("Importing…"));
      Fansi.setProgress($("import-progress"), j.status === "succeeded" ? 1 : j.progress);
      var r = j.result || {};
      if (j.status === "succeeded") {
        $("import-summary").textContent = interpolate(gettext("Imported %(imported)s fans: %(tags)s tags added, %(notes)s notes updated, %(skipped)s rows skipped."), { imported: r.imported, tags: r.tags_added, notes: r.notes_updated, skipped: r.skipped }, true);
      } else if (j.status === "failed") {
        $("import-summary").textContent = gettext("The import failed; nothing was changed.") + (r.error ? " (" + r.error + ")" : "");
      } else {
        $("import-summary").textContent = gettext("Importing…");
      }
    }
  }

  /* ------------------------------------------------------------------------------------------------
   * /team/
   * ------------------------------------------------------------------------------------------------ */
  function teamPage() {
    var memberForm = $("member-form");
    if (memberForm) memberForm.addEventListener("submit", function (e) {
      e.preventDefault();
      var username = $("member-username").value.trim();
      if (!username) return;
      api("POST", "/api/team/", { shop: CFG.shop, username: username, role: $("member-role").value }).then(function (m) {
        Fansi.toastAfterReload(interpolate(gettext("%(name)s joined the team."), { name: m.name }, true));
        window.location.reload();
      }).catch(flashError);
    });
    document.querySelectorAll("[data-role-member]").forEach(function (select) {
      var before = select.value;
      select.addEventListener("change", function () {
        api("PATCH", "/api/team/" + select.dataset.roleMember + "/", { role: select.value })
          .then(function () { before = select.value; flash(gettext("Saved.")); })
          .catch(function (err) { select.value = before; flashError(err); });
      });
    });
    document.querySelectorAll("[data-remove-member]").forEach(function (btn) {
      btn.addEventListener("click", function () {
        if (!window.confirm(interpolate(gettext("Remove %(name)s from the team?"), { name: btn.dataset.name }, true))) return;
        api("DELETE", "/api/team/" + btn.dataset.removeMember + "/").then(function () { window.location.reload(); })
          .catch(flashError);
      });
    });
    var handover = $("handover-form");
    if (handover) handover.addEventListener("submit", function (e) {
      e.preventDefault();
      var from = $("handover-from").value;
      var to = $("handover-to").value;
      if (from === to) { flash(gettext("Choose two different people."), true); return; }
      api("POST", "/api/team/handover/", { shop: CFG.shop, from_user: Number(from), to_user: to ? Number(to) : null })
        .then(function (r) { Fansi.toastAfterReload(interpolate(gettext("Handed over %(n)s fans."), { n: r.moved }, true)); window.location.reload(); })
        .catch(flashError);
    });
  }

  /* ------------------------------------------------------------------------------------------------
   * /me/privacy/ (fans)
   * ------------------------------------------------------------------------------------------------ */
  function privacyPage() {
    personalisationSwitches();
    document.querySelectorAll("[data-erase-shop]").forEach(function (btn) {
      btn.addEventListener("click", function () {
        if (!window.confirm(interpolate(gettext("Ask %(shop)s to remove every tag it holds on you?"), { shop: btn.dataset.name }, true))) return;
        btn.disabled = true;
        api("POST", "/api/me/shops/" + btn.dataset.eraseShop + "/tags/erase/").then(function (r) {
          Fansi.toastAfterReload(interpolate(gettext("%(n)s tags were removed."), { n: r.removed }, true));
          window.location.reload();
        }).catch(function (err) { btn.disabled = false; flashError(err); });
      });
    });
  }

  function personalisationSwitches() {
    document.querySelectorAll("[data-personalisation-shop]").forEach(function (box) {
      box.addEventListener("change", function () {
        var want = box.checked;
        box.disabled = true;
        api("POST", "/api/me/shops/" + box.dataset.personalisationShop + "/personalisation/", { opt_out: want })
          .then(function (state) {
            box.checked = !!state.opt_out;
            flash(state.opt_out
              ? gettext("Personalised recommendations are off for this shop.")
              : gettext("Personalised recommendations are on again for this shop."));
          })
          .catch(function (err) { box.checked = !want; flashError(err); })
          .then(function () { box.disabled = false; });
      });
    });
  }

  var PAGES = { fans: fansPage, fan: fanPage, segments: segmentsPage, "import": importPage, team: teamPage, privacy: privacyPage };
  function init() {
    var root = document.querySelector("[data-page]");
    if (root && PAGES[root.dataset.page]) PAGES[root.dataset.page]();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
