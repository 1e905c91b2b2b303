/* Fansi fan CRM pages, the shared part: the page config, bulk job labels and the bulk job panel.
 * The CRM pages' scripts share window.FansiCrm and are loaded in order (templates/fans/crm/_base.html,
 * privacy.html): this file, then each page's script (crm_fans.js, crm_import.js, crm_pages.js,
 * crm_privacy.js), then crm.js, which starts the page. User data is rendered with textContent only. */
(function () {
  "use strict";

  var $ = Fansi.$, api = Fansi.api, flashError = Fansi.toastError;
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

  // Each page's script registers its page under its data-page name; crm.js runs the one on the page.
  window.FansiCrm = { cfg: CFG, POLL_MS: POLL_MS, JOB_STATUS: JOB_STATUS, JobPanel: JobPanel, pages: {} };
})();
