/* Fansi fan CRM pages: vanilla JS on top of the CRM REST API. User data is rendered with textContent only.
 * Loaded last: crm_common.js and the pages' scripts (crm_fans.js, crm_import.js, crm_pages.js, crm_privacy.js)
 * have registered their pages in window.FansiCrm.pages; this starts the one named by the page's data-page. */
(function () {
  "use strict";

  var PAGES = window.FansiCrm.pages;
  function init() {
    var root = document.querySelector("[data-page]");
    if (root && PAGES[root.dataset.page]) PAGES[root.dataset.page]();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
