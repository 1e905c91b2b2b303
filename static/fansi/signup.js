/* Phone sign-in in place (templates/fans/_phone_signin.html): the number gets a code by SMS, the code signs
 * in (the account is made on first use) and logs this browser in. Pages call FansiSignup.attach(panel, onDone);
 * onDone receives the sign-in answer once the page's CSRF token is the new session's. */
(function () {
  "use strict";

  function attach(panel, onDone) {
    if (!panel || !window.Fansi) return null;
    var $ = function (id) { return panel.querySelector("#" + id); };
    var phone = $("signup-phone"), code = $("signup-code"), send = $("signup-send"), verify = $("signup-verify");
    var errorBox = $("signup-error");

    function fail(err) {
      errorBox.textContent = (err && err.message) || gettext("Something went wrong; please retry.");
      errorBox.hidden = false;
    }

    send.addEventListener("click", function () {
      errorBox.hidden = true;
      send.disabled = true;
      Fansi.api("POST", panel.getAttribute("data-code-api"), { phone: phone.value.trim() }).then(function (data) {
        $("signup-step-code").hidden = false;
        var debug = $("signup-debug");
        if (data && data.debug_code) {
          // Development and tests only: the simulated SMS provider's code, shown where the text would arrive.
          debug.textContent = interpolate(gettext("Test code (no SMS is sent here): %(code)s"), { code: data.debug_code }, true);
          debug.setAttribute("data-debug-code", data.debug_code);
          debug.hidden = false;
        }
        code.focus();
        setTimeout(function () { send.disabled = false; }, 60000);
        send.textContent = gettext("Send again");
      }).catch(function (err) { send.disabled = false; fail(err); });
    });

    verify.addEventListener("click", function () {
      errorBox.hidden = true;
      verify.disabled = true;
      var body = { phone: phone.value.trim(), code: code.value.trim(), display_name: $("signup-name").value.trim() };
      Fansi.api("POST", panel.getAttribute("data-login-api"), body).then(function (data) {
        var meta = document.querySelector('meta[name="csrf-token"]');
        if (meta && data.csrf_token) meta.content = data.csrf_token;  // login() rotated it
        panel.hidden = true;
        onDone(data);
      }).catch(function (err) { verify.disabled = false; fail(err); });
    });
    return { open: function () { panel.hidden = false; phone.focus(); } };
  }

  window.FansiSignup = { attach: attach };

  // The login page's phone tab: after sign-in, on to ?next= (same site only) or home.
  var standalone = document.querySelector("[data-signup-standalone]");
  if (standalone) {
    attach(standalone.querySelector("[data-signup]"), function () {
      var next = standalone.getAttribute("data-next") || "/";
      window.location.assign(next.charAt(0) === "/" && next.charAt(1) !== "/" ? next : "/");
    });
  }
})();
