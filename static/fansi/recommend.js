// Recommendation widgets: fan picks ("send as card"), likely fans ("save as segment"), model training status.
(function () {
  "use strict";
  if (window.fansiRecommendLoaded) return;
  window.fansiRecommendLoaded = true;

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }
  function api(method, url, body) {
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf(), "Accept": "application/json" },
      body: body ? JSON.stringify(body) : undefined,
    }).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (data) {
        if (!resp.ok) throw new Error(data.message || resp.statusText);
        return data;
      });
    });
  }
  function showError(root, err) {
    var box = root.querySelector(".rec-error");
    box.textContent = err.message;
    box.hidden = false;
  }
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "10000000-1000-4000-8000-100000000000".replace(/[018]/g, function (c) {
      return (c ^ (Math.random() * 16) >> (c / 4)).toString(16);
    });
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
        var button = row.querySelector("[data-rec-send]"), clientId = uuid();
        button.addEventListener("click", function () {
          button.disabled = true;
          api("POST", "/api/fans/" + fanId + "/recommendations/send/", {
            product: pick.product.id, reason: pick.reason.text, client_id: clientId,
          }).then(function () {
            button.textContent = root.querySelector("[data-msg-sent]").textContent;
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
        button.textContent = root.querySelector("[data-msg-saved]").textContent;
      }).catch(function (err) { button.disabled = false; showError(root, err); });
    });
  }

  function modelStatus(root) {
    var bar = root.querySelector("[data-rec-progress]"), box = root.querySelector(".rec-train");
    if (!bar || !box || box.dataset.status !== "training") return;
    var timer = setInterval(function () {
      api("GET", root.dataset.statusUrl).then(function (data) {
        var latest = data.latest;
        if (!latest) return;
        bar.value = latest.progress;
        root.querySelector("[data-rec-stage]").textContent = latest.status + (latest.stage ? " — " + latest.stage : "");
        if (latest.status !== "training") { clearInterval(timer); window.location.reload(); }
      }).catch(function () { clearInterval(timer); });
    }, 3000);
  }

  function init() {
    document.querySelectorAll("[data-rec-fan-picks]").forEach(fanPicks);
    document.querySelectorAll("[data-rec-likely-fans]").forEach(likelyFans);
    document.querySelectorAll("[data-rec-models]").forEach(modelStatus);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
