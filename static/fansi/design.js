/* Co-design rounds: create (owner), launch, vote / move the vote (fan), comment, confirm or decline the
 * pre-pledge. Each action calls the API and reloads the page with a toast; errors show the server's message. */
(function () {
  "use strict";
  var F = window.Fansi;
  var cfg = F.config("design-config") || {};
  var gettext = window.gettext || function (s) { return s; };

  function showError(box, err) {
    if (!box) { F.toastError(err); return; }
    box.textContent = (err && err.message) || gettext("Something went wrong; please try again.");
    box.hidden = false;
  }
  function done(message) { F.toastAfterReload(message); window.location.reload(); }
  function busy(button, on) { if (button) button.disabled = on; }

  // --- new round -------------------------------------------------------------------------------------
  var form = document.getElementById("round-form");
  if (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var attributes = {};
      form.querySelectorAll("[data-attribute]").forEach(function (row) {
        var name = row.querySelector("[data-attr-name]").value.trim();
        var raw = row.querySelector("[data-attr-options]").value;
        if (!name && !raw.trim()) return;
        attributes[name] = raw.split(/[,，、]/).map(function (s) { return s.trim(); }).filter(Boolean);
      });
      var deadline = form.querySelector("#r-deadline").value;
      var body = {
        product: Number(form.querySelector("#r-product").value),
        title: form.querySelector("#r-title").value,
        description: form.querySelector("#r-description").value,
        attributes: attributes,
        target_per_combination: form.querySelector("#r-target").value,
        vote_deposit: form.querySelector("#r-deposit").value,
        deadline: deadline ? new Date(deadline).toISOString() : "",
        campaign_deposit_percent: form.querySelector("#r-percent").value,
      };
      var button = document.getElementById("round-submit");
      busy(button, true);
      F.api("POST", cfg.api, body).then(function (round) {
        F.toastAfterReload(gettext("Draft saved. Check the forecast, then launch."));
        window.location.href = cfg.detail.replace("/0/", "/" + round.id + "/");
      }, function (err) { busy(button, false); showError(document.getElementById("form-error"), err); });
    });
  }

  // --- launch ----------------------------------------------------------------------------------------
  var launch = document.getElementById("launch-round");
  if (launch) {
    launch.addEventListener("click", function () {
      busy(launch, true);
      F.api("POST", cfg.launch).then(function () { done(gettext("Voting is open.")); },
        function (err) { busy(launch, false); showError(document.getElementById("launch-error"), err); });
    });
  }

  // --- vote ------------------------------------------------------------------------------------------
  var voteForm = document.getElementById("vote-form");
  if (voteForm) {
    if (cfg.mine) {
      voteForm.querySelectorAll("input[type=radio]").forEach(function (input) {
        if (cfg.mine[input.getAttribute("data-attribute")] === input.value) input.checked = true;
      });
    }
    var key = F.uuid();
    voteForm.addEventListener("submit", function (e) {
      e.preventDefault();
      var combination = {};
      voteForm.querySelectorAll("input[type=radio]:checked").forEach(function (input) {
        combination[input.getAttribute("data-attribute")] = input.value;
      });
      var button = document.getElementById("vote-submit");
      busy(button, true);
      F.api("POST", cfg.votes, { combination: combination }, { "Idempotency-Key": key }).then(function (vote) {
        done(vote.status === "pending" ? gettext("Your vote deposit is being confirmed.") : gettext("Your vote is in."));
      }, function (err) {
        key = F.uuid();
        busy(button, false);
        showError(document.getElementById("vote-error"), err);
      });
    });
  }

  // --- comment ---------------------------------------------------------------------------------------
  var commentForm = document.getElementById("comment-form");
  if (commentForm) {
    commentForm.addEventListener("submit", function (e) {
      e.preventDefault();
      var input = document.getElementById("comment-text");
      var button = document.getElementById("comment-submit");
      busy(button, true);
      F.api("POST", cfg.comments, { text: input.value }).then(function () { done(gettext("Comment posted.")); },
        function (err) { busy(button, false); F.toastError(err); });
    });
  }

  // --- pre-pledge ------------------------------------------------------------------------------------
  function prePledge(id, url, message) {
    var button = document.getElementById(id);
    if (!button) return;
    button.addEventListener("click", function () {
      busy(button, true);
      F.api("POST", url).then(function () { done(message); },
        function (err) { busy(button, false); showError(document.getElementById("confirm-error"), err); });
    });
  }
  prePledge("confirm-pre-pledge", cfg.confirm, gettext("Your pledge is confirmed."));
  prePledge("decline-pre-pledge", cfg.decline, gettext("Your vote deposit is on its way back."));
})();
