/* Fansi's shared page helpers, loaded once by base.html after Django's JavaScript catalog (/jsi18n/) and
 * before every page script: API calls with the CSRF token, API errors shown as toasts, progress bars,
 * and polling of long jobs. It exports window.Fansi; user text reaches the DOM through textContent only.
 */
(function () {
  "use strict";

  var FINISHED = { succeeded: true, failed: true, cancelled: true };
  var AFTER_RELOAD_KEY = "fansi.toast";

  function $(id) { return document.getElementById(id); }

  /* A new element; attrs is a class name or an object of attributes ("className" sets the class). */
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (typeof attrs === "string") {
      if (attrs) node.className = attrs;
    } else {
      Object.keys(attrs || {}).forEach(function (k) {
        if (k === "className") node.className = attrs[k];
        else node.setAttribute(k, attrs[k]);
      });
    }
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  /* The page's data from a {{ value|json_script:id }} block. */
  function config(id, fallback) {
    var node = $(id);
    return node ? JSON.parse(node.textContent) : fallback;
  }

  function uuid() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
    var b = new Uint8Array(16);
    if (window.crypto && window.crypto.getRandomValues) window.crypto.getRandomValues(b);
    else for (var i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function withShop(url, shop) {
    if (!shop) return url;
    return url + (url.indexOf("?") >= 0 ? "&" : "?") + "shop=" + encodeURIComponent(shop);
  }

  // --- the API -------------------------------------------------------------------------------------

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta && meta.content) return meta.content;
    var m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  function fallbackMessage() { return gettext("Something went wrong; please retry."); }

  /* An API error: the server's {"code", "message", "detail"} with the HTTP status. */
  function ApiError(data, status) {
    this.name = "ApiError";
    this.message = (data && data.message) || fallbackMessage();
    this.code = (data && data.code) || (status ? "error" : "network");
    this.detail = data ? data.detail : null;
    this.status = status;
  }
  ApiError.prototype = Object.create(Error.prototype);
  ApiError.prototype.constructor = ApiError;

  /* fetch() with the session and CSRF token: JSON (or FormData) in, JSON out; 204 gives null.
   * Failures reject with an ApiError, a network failure included, so callers can show err.message. */
  function api(method, url, body, headers) {
    var opts = { method: method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (method !== "GET" && method !== "HEAD") opts.headers["X-CSRFToken"] = csrfToken();
    Object.keys(headers || {}).forEach(function (k) { opts.headers[k] = headers[k]; });
    if (body instanceof FormData) {
      opts.body = body;
    } else if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(url, opts).then(function (resp) {
      if (resp.status === 204) return null;
      return resp.json().catch(function () { return {}; }).then(function (data) {
        if (!resp.ok) throw new ApiError(data, resp.status);
        return data;
      });
    }, function () { throw new ApiError(null, 0); });
  }

  // --- toasts ----------------------------------------------------------------------------------------

  /* The page's toast box ([data-toast], placed by the page base), or a floating one. */
  function toastBox() {
    var box = document.querySelector("[data-toast]");
    if (!box) {
      box = el("div", { className: "toast", role: "status", "aria-live": "polite", "data-toast": "" });
      document.body.appendChild(box);
    }
    return box;
  }

  var toastTimer = null;
  function toast(message, isError) {
    var box = toastBox();
    box.textContent = message;
    box.classList.toggle("error", !!isError);
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { box.hidden = true; }, isError ? 8000 : 5000);
  }
  function toastError(err) { toast((err && err.message) || fallbackMessage(), true); }

  /* A toast for the next page, when a change is followed by a reload. */
  function toastAfterReload(message) {
    try { sessionStorage.setItem(AFTER_RELOAD_KEY, message); } catch (e) { /* private mode */ }
  }
  function showPendingToast() {
    try {
      var message = sessionStorage.getItem(AFTER_RELOAD_KEY);
      if (message) { sessionStorage.removeItem(AFTER_RELOAD_KEY); toast(message); }
    } catch (e) { /* private mode */ }
  }

  // --- progress ----------------------------------------------------------------------------------------

  /* Fill a role=progressbar element (its first child is the bar) to done/total; returns the percentage. */
  function setProgress(container, done, total) {
    var pct = Math.max(0, Math.min(100, Math.round(100 * (Number(done) || 0) / (total || 1))));
    container.setAttribute("aria-valuenow", String(pct));
    if (container.firstElementChild) container.firstElementChild.style.width = pct + "%";
    return pct;
  }

  function isFinished(status) { return FINISHED[status] === true; }

  /* Follow a long job (bulk job, import, broadcast, model training) by polling its status URL.
   * opts: every (ms, default 1000), immediate (first poll now), isDone(job) (default: a finished status),
   * onUpdate(job), onDone(job) (once), thenEvery (ms: keep following a finished job at this pace),
   * onError(err) (return false to stop; default: toast and retry), retryEvery (ms). Returns {stop}. */
  function pollJob(url, opts) {
    opts = opts || {};
    var every = opts.every || 1000;
    var isDone = opts.isDone || function (job) { return isFinished(job.status); };
    var timer = null;
    var stopped = false;
    var finished = false;
    function later(ms) { if (!stopped) timer = setTimeout(tick, ms); }
    function tick() {
      api("GET", url).then(function (job) {
        if (stopped) return;
        if (opts.onUpdate) opts.onUpdate(job);
        if (!isDone(job)) { later(every); return; }
        if (!finished && opts.onDone) opts.onDone(job);
        finished = true;
        if (opts.thenEvery) later(opts.thenEvery);
      }, function (err) {
        if (stopped) return;
        if (!opts.onError) toastError(err);
        else if (opts.onError(err) === false) return;
        later(opts.retryEvery || every);
      });
    }
    later(opts.immediate ? 0 : every);
    return { stop: function () { stopped = true; clearTimeout(timer); } };
  }

  window.Fansi = {
    $: $,
    el: el,
    config: config,
    uuid: uuid,
    withShop: withShop,
    api: api,
    ApiError: ApiError,
    toast: toast,
    toastError: toastError,
    toastAfterReload: toastAfterReload,
    setProgress: setProgress,
    isFinished: isFinished,
    pollJob: pollJob,
  };

  /* The staff navigation on a narrow screen: the bar scrolls to the current section, and "More" opens
   * every section as a panel under the top bar. */
  function initStaffNav() {
    var nav = $("staff-nav"), more = $("nav-more");
    if (!nav || !more) return;
    var current = nav.querySelector("[aria-current=page]");
    if (current && nav.scrollWidth > nav.clientWidth) nav.scrollLeft = current.offsetLeft - nav.clientWidth / 3;
    function setOpen(open) {
      nav.classList.toggle("open", open);
      more.setAttribute("aria-expanded", open ? "true" : "false");
    }
    more.addEventListener("click", function () { setOpen(!nav.classList.contains("open")); });
    document.addEventListener("keydown", function (e) { if (e.key === "Escape") setOpen(false); });
    document.addEventListener("click", function (e) {
      if (nav.classList.contains("open") && !nav.contains(e.target) && e.target !== more) setOpen(false);
    });
  }

  // --- what the Content-Security-Policy keeps out of the HTML (no inline handlers or style attributes) --------

  /* Bars and meters carry their width as data-width (a percentage); setting element.style is allowed by
   * CSP where a style="" attribute is not. New elements (partials put in by scripts) are sized as they come. */
  function applyWidths(root) {
    var nodes = [];
    if (root.nodeType === 1 && root.hasAttribute("data-width")) nodes.push(root);
    if (root.querySelectorAll) nodes = nodes.concat(Array.prototype.slice.call(root.querySelectorAll("[data-width]")));
    nodes.forEach(function (el) {
      var value = parseFloat(String(el.getAttribute("data-width")).replace(",", "."));
      if (!isNaN(value)) el.style.width = Math.max(0, Math.min(100, value)) + "%";
    });
  }

  function initCspHelpers() {
    applyWidths(document);
    if (window.MutationObserver) {
      new MutationObserver(function (records) {
        records.forEach(function (r) {
          if (r.type === "attributes") applyWidths(r.target);
          else r.addedNodes.forEach(function (n) { if (n.nodeType === 1) applyWidths(n); });
        });
      }).observe(document.documentElement, {
        childList: true, subtree: true, attributes: true, attributeFilter: ["data-width"],
      });
    }
    // <select data-autosubmit>: choosing sends its form (was onchange="this.form.submit()").
    document.addEventListener("change", function (e) {
      var el = e.target;
      if (el && el.hasAttribute && el.hasAttribute("data-autosubmit") && el.form) el.form.submit();
    });
    // <input data-select-on-click>: a click selects the whole text, ready to copy.
    document.addEventListener("click", function (e) {
      var el = e.target;
      if (el && el.hasAttribute && el.hasAttribute("data-select-on-click") && el.select) el.select();
    });
  }

  function onReady() { initCspHelpers(); showPendingToast(); initStaffNav(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", onReady);
  else onReady();
})();
