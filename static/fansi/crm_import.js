/* Fansi fan CRM: /fans/import/ (upload, preview with per-row errors, confirm, progress, summary).
 * Needs crm_common.js (window.FansiCrm). User data is rendered with textContent only. */
(function () {
  "use strict";

  var P = window.FansiCrm;
  var $ = Fansi.$, el = Fansi.el, api = Fansi.api, flash = Fansi.toast, flashError = Fansi.toastError;
  var CFG = P.cfg;
  var POLL_MS = P.POLL_MS, JOB_STATUS = P.JOB_STATUS;

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

  P.pages["import"] = importPage;
})();
