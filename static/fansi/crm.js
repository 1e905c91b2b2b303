/* Fansi fan CRM pages: vanilla JS on top of the CRM REST API. User data is rendered with textContent only. */
(function () {
  "use strict";

  function readJSON(id, fallback) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : fallback;
  }
  var CFG = readJSON("crm-config", {});
  var T = readJSON("crm-i18n", {});
  var FINAL = ["succeeded", "failed", "cancelled"];
  var POLL_MS = 700;

  function fmt(template, values) {
    return String(template || "").replace(/%\((\w+)\)s/g, function (_m, key) {
      return values && values[key] !== undefined && values[key] !== null ? values[key] : "";
    });
  }
  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "className") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }
  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  /* fetch() wrapper: JSON in and out, errors become {code, message} objects. */
  function api(method, url, body) {
    var opts = { method: method, credentials: "same-origin", headers: { "Accept": "application/json" } };
    if (method !== "GET") opts.headers["X-CSRFToken"] = csrf();
    if (body instanceof FormData) {
      opts.body = body;
    } else if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(url, opts).then(function (resp) {
      if (resp.status === 204) return null;
      return resp.json().catch(function () { return {}; }).then(function (data) {
        if (!resp.ok) {
          var err = new Error((data && data.message) || T.error);
          err.code = data && data.code;
          err.status = resp.status;
          throw err;
        }
        return data;
      });
    });
  }
  function withShop(url) {
    if (!CFG.shop) return url;
    return url + (url.indexOf("?") >= 0 ? "&" : "?") + "shop=" + encodeURIComponent(CFG.shop);
  }

  var flashTimer = null;
  function flash(message, isError) {
    var box = $("crm-flash");
    if (!box) { window.alert(message); return; }
    box.textContent = message;
    box.classList.toggle("error", !!isError);
    box.hidden = false;
    clearTimeout(flashTimer);
    flashTimer = setTimeout(function () { box.hidden = true; }, isError ? 8000 : 5000);
  }
  function flashError(err) { flash((err && err.message) || T.error, true); }
  /* A message to show after the reload that follows a change. */
  function flashNext(message) {
    try { sessionStorage.setItem("crm-flash", message); } catch (e) { /* private mode */ }
  }
  function showPendingFlash() {
    try {
      var message = sessionStorage.getItem("crm-flash");
      if (message) { sessionStorage.removeItem("crm-flash"); flash(message); }
    } catch (e) { /* private mode */ }
  }

  function setProgress(container, bar, fraction) {
    var pct = Math.max(0, Math.min(100, Math.round((fraction || 0) * 100)));
    container.setAttribute("aria-valuenow", String(pct));
    bar.style.width = pct + "%";
  }

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
    this.timer = null;
    var self = this;
    $("job-cancel").addEventListener("click", function () {
      if (!self.job) return;
      api("POST", "/api/bulk-jobs/" + self.job.id + "/cancel/").then(function (job) { self.render(job); }).catch(flashError);
    });
    $("job-close").addEventListener("click", function () { $("job-panel").hidden = true; });
  }
  JobPanel.prototype.start = function (job) {
    clearTimeout(this.timer);
    $("job-panel").hidden = false;
    this.render(job);
    this.poll();
  };
  JobPanel.prototype.poll = function () {
    var self = this;
    this.timer = setTimeout(function () {
      api("GET", "/api/bulk-jobs/" + self.job.id + "/").then(function (job) {
        self.render(job);
        if (FINAL.indexOf(job.status) < 0) self.poll();
        else if (self.onDone) self.onDone(job);
      }).catch(function (err) { flashError(err); self.poll(); });
    }, POLL_MS);
  };
  JobPanel.prototype.render = function (job) {
    this.job = job;
    var done = FINAL.indexOf(job.status) >= 0;
    $("job-title").textContent = T[job.action] || job.action;
    $("job-status").textContent = T[job.status] || job.status;
    $("job-panel").dataset.status = job.status;
    setProgress($("job-progress"), $("job-bar"), job.status === "succeeded" ? 1 : job.progress);
    $("job-summary").textContent = done
      ? fmt(T.summary, { processed: job.processed, changed: job.changed })
      : fmt(T.progress, { processed: job.processed, total: job.total });
    var link = $("job-download");
    link.hidden = !(done && job.download_url);
    if (job.download_url) { link.href = job.download_url; link.textContent = T.download; }
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
      chip.title = value ? T["state_" + value] + ": " + label : label;
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
      range.textContent = fmt(T.range, { from: from, to: to, count: state.count.toLocaleString(lang) });
      range.dataset.count = String(state.count);
      $("page-info").textContent = range.textContent;
      $("fan-empty").hidden = state.results.length > 0;
      state.results.forEach(function (fan) {
        var tr = el("tr", { "data-fan": fan.id });
        var check = el("input", { type: "checkbox", "aria-label": fmt(T.select_fan, { name: fan.display_name }) });
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
        tr.appendChild(el("td", { className: "col-hide" }, fan.assigned_to_name || T.unassigned));
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
        $("select-banner-text").textContent = fmt(T.all_selected, { count: state.count.toLocaleString(lang) });
        $("select-all-matching").hidden = true;
        $("clear-selection").hidden = false;
      } else if (pageAll && more) {
        banner.hidden = false;
        $("select-banner-text").textContent = fmt(T.page_selected, { n: state.results.length });
        var btn = $("select-all-matching");
        btn.hidden = false;
        btn.textContent = fmt(T.select_all, { count: state.count.toLocaleString(lang) });
        $("clear-selection").hidden = true;
      } else {
        banner.hidden = true;
      }
      var n = selectedCount();
      $("bulk-bar").hidden = n === 0;
      $("bulk-count").textContent = fmt(T.selected, { n: n.toLocaleString(lang) });
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
      if (!tag) { flash(T.choose_tag, true); $("bulk-tag").focus(); }
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
      if (tag && window.confirm(fmt(T.confirm_remove, { count: selectedCount() }))) runJob({ action: "remove_tags", tags: [tag] });
    });
    if ($("bulk-assign")) $("bulk-assign").addEventListener("click", function () {
      var staff = $("bulk-staff").value;
      if (window.confirm(fmt(T.confirm_assign, { count: selectedCount() }))) {
        runJob({ action: "assign", staff: staff ? Number(staff) : null });
      }
    });
    if ($("bulk-export")) $("bulk-export").addEventListener("click", function () { runJob({ action: "export" }); });
    $("save-segment").addEventListener("click", function () {
      var name = window.prompt(T.segment_prompt);
      if (!name || !name.trim()) return;
      api("POST", "/api/segments/", { shop: CFG.shop, name: name.trim(), filter: filterObject(currentParams()) })
        .then(function (seg) { flash(fmt(T.segment_saved, { name: seg.name, count: seg.count })); })
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
        .then(function () { status.textContent = T.saved; })
        .catch(flashError);
    });
  }

  /* ------------------------------------------------------------------------------------------------
   * /segments/
   * ------------------------------------------------------------------------------------------------ */
  function segmentsPage() {
    document.querySelectorAll("[data-delete-segment]").forEach(function (btn) {
      btn.addEventListener("click", function () {
        if (!window.confirm(fmt(T.confirm_segment_delete, { name: btn.dataset.name }))) return;
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
      if (!file) { flash(T.choose_file, true); return; }
      var data = new FormData();
      data.append("file", file);
      $("import-check").disabled = true;
      $("import-progress-panel").hidden = true;
      $("import-totals").textContent = T.checking;
      $("import-preview").hidden = false;
      api("POST", withShop("/api/imports/"), data).then(function (j) {
        job = j;
        var errors = (j.result && j.result.error_count) || 0;
        $("import-totals").textContent = fmt(T.preview, { valid: j.valid, total: j.total, errors: errors });
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
        poll(j.id);
      }).catch(function (err) { $("import-confirm").disabled = false; flashError(err); });
    });
    function show(j) {
      $("import-status").textContent = T[j.status] || (j.status === "preview" ? "" : T.importing);
      setProgress($("import-progress"), $("import-bar"), j.status === "succeeded" ? 1 : j.progress);
      var r = j.result || {};
      if (j.status === "succeeded") {
        $("import-summary").textContent = fmt(T.imported, {
          imported: r.imported, tags: r.tags_added, notes: r.notes_updated, skipped: r.skipped,
        });
      } else if (j.status === "failed") {
        $("import-summary").textContent = T.import_failed + (r.error ? " (" + r.error + ")" : "");
      } else {
        $("import-summary").textContent = T.importing;
      }
    }
    function poll(id) {
      setTimeout(function () {
        api("GET", "/api/imports/" + id + "/").then(function (j) {
          show(j);
          if (FINAL.indexOf(j.status) < 0) poll(id);
        }).catch(function (err) { flashError(err); poll(id); });
      }, POLL_MS);
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
        flashNext(fmt(T.member_added, { name: m.name }));
        window.location.reload();
      }).catch(flashError);
    });
    document.querySelectorAll("[data-role-member]").forEach(function (select) {
      var before = select.value;
      select.addEventListener("change", function () {
        api("PATCH", "/api/team/" + select.dataset.roleMember + "/", { role: select.value })
          .then(function () { before = select.value; flash(T.saved); })
          .catch(function (err) { select.value = before; flashError(err); });
      });
    });
    document.querySelectorAll("[data-remove-member]").forEach(function (btn) {
      btn.addEventListener("click", function () {
        if (!window.confirm(fmt(T.confirm_member_remove, { name: btn.dataset.name }))) return;
        api("DELETE", "/api/team/" + btn.dataset.removeMember + "/").then(function () { window.location.reload(); })
          .catch(flashError);
      });
    });
    var handover = $("handover-form");
    if (handover) handover.addEventListener("submit", function (e) {
      e.preventDefault();
      var from = $("handover-from").value;
      var to = $("handover-to").value;
      if (from === to) { flash(T.same_person, true); return; }
      api("POST", "/api/team/handover/", { shop: CFG.shop, from_user: Number(from), to_user: to ? Number(to) : null })
        .then(function (r) { flashNext(fmt(T.handed_over, { n: r.moved })); window.location.reload(); })
        .catch(flashError);
    });
  }

  /* ------------------------------------------------------------------------------------------------
   * /me/privacy/ (fans)
   * ------------------------------------------------------------------------------------------------ */
  function privacyPage() {
    document.querySelectorAll("[data-erase-shop]").forEach(function (btn) {
      btn.addEventListener("click", function () {
        if (!window.confirm(fmt(T.confirm_erase, { shop: btn.dataset.name }))) return;
        btn.disabled = true;
        api("POST", "/api/me/shops/" + btn.dataset.eraseShop + "/tags/erase/").then(function (r) {
          flashNext(fmt(T.erased, { n: r.removed }));
          window.location.reload();
        }).catch(function (err) { btn.disabled = false; flashError(err); });
      });
    });
  }

  var PAGES = { fans: fansPage, fan: fanPage, segments: segmentsPage, "import": importPage, team: teamPage, privacy: privacyPage };
  function init() {
    showPendingFlash();
    var root = document.querySelector("[data-page]");
    if (root && PAGES[root.dataset.page]) PAGES[root.dataset.page]();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
