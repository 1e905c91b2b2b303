// Recommendation widgets: fan picks ("send as card"), likely fans ("save as segment"), model training status.
(function () {
  "use strict";
  if (window.fansiRecommendLoaded) return;
  window.fansiRecommendLoaded = true;

  var api = Fansi.api;
  var MODEL_STATUS = { training: gettext("Training"), ready: gettext("Ready"), failed: gettext("Failed") };

  function showError(root, err) {
    var box = root.querySelector(".rec-error");
    box.textContent = err.message;
    box.hidden = false;
  }

  function fanPicks(root) {
    var fanId = root.dataset.recFanPicks, list = root.querySelector("[data-rec-list]");
    var tpl = root.querySelector("template[data-rec-row]");
    api("GET", "/api/fans/" + fanId + "/recommendations/?k=" + (root.dataset.k || 5)).then(function (data) {
      list.textContent = "";
      root.querySelector(".rec-empty").hidden = data.picks.length > 0;
      data.picks.forEach(function (pick) {
        var row = tpl.content.firstElementChild.cloneNode(true);
        row.querySelector(".rec-name").textContent = pick.product.name;
        row.querySelector(".rec-price").textContent = pick.product.currency + " " + pick.product.price;
        row.querySelector(".rec-reason").textContent = pick.reason.text;
        var button = row.querySelector("[data-rec-send]"), clientId = Fansi.uuid();
        button.addEventListener("click", function () {
          button.disabled = true;
          api("POST", "/api/fans/" + fanId + "/recommendations/send/", {
            product: pick.product.id, reason: pick.reason.text, client_id: clientId,
          }).then(function () {
            button.textContent = gettext("Sent");
          }).catch(function (err) { button.disabled = false; showError(root, err); });
        });
        list.appendChild(row);
      });
    }).catch(function (err) { list.textContent = ""; showError(root, err); });
  }

  function likelyFans(root) {
    var productId = root.dataset.recLikelyFans, list = root.querySelector("[data-rec-list]");
    var tpl = root.querySelector("template[data-rec-row]"), k = root.dataset.k || 50;
    api("GET", "/api/products/" + productId + "/likely-fans/?k=" + k).then(function (data) {
      list.textContent = "";
      root.querySelector(".rec-empty").hidden = data.fans.length > 0;
      data.fans.forEach(function (fan) {
        var row = tpl.content.firstElementChild.cloneNode(true);
        row.querySelector(".rec-name").textContent = fan.display_name;
        row.querySelector(".rec-reason").textContent = fan.reason.text;
        list.appendChild(row);
      });
    }).catch(function (err) { list.textContent = ""; showError(root, err); });
    var form = root.querySelector("[data-rec-save]");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = form.querySelector("button");
      button.disabled = true;
      api("POST", "/api/products/" + productId + "/likely-fans/save-segment/", {
        name: form.elements.name.value, k: Number(k),
      }).then(function () {
        button.textContent = gettext("Segment saved");
      }).catch(function (err) { button.disabled = false; showError(root, err); });
    });
  }

  function modelStatus(root) {
    var bar = root.querySelector("[data-rec-progress]"), box = root.querySelector(".rec-train");
    if (!bar || !box || box.dataset.status !== "training") return;
    Fansi.pollJob(root.dataset.statusUrl, {
      every: 3000,
      isDone: function (data) { return !!data.latest && data.latest.status !== "training"; },
      onUpdate: function (data) {
        var latest = data.latest;
        if (!latest) return;
        Fansi.setProgress(bar, latest.progress);
        root.querySelector("[data-rec-stage]").textContent =
          (MODEL_STATUS[latest.status] || latest.status) + (latest.stage ? " — " + latest.stage : "");
      },
      onDone: function () { window.location.reload(); },
      onError: function () { return false; },
    });
  }

  function init() {
    document.querySelectorAll("[data-rec-fan-picks]").forEach(fanPicks);
    document.querySelectorAll("[data-rec-likely-fans]").forEach(likelyFans);
    document.querySelectorAll("[data-rec-models]").forEach(modelStatus);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
