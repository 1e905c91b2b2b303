/* /me/privacy/: share my birthday (month and day) with a shop I follow, or stop sharing it (journeys API). */
(function () {
  "use strict";
  var F = window.Fansi;
  document.querySelectorAll("[data-birthday-fan]").forEach(function (row) {
    var fan = Number(row.getAttribute("data-birthday-fan"));
    var month = row.querySelector("[data-birthday-month]");
    var day = row.querySelector("[data-birthday-day]");
    var clear = row.querySelector("[data-birthday-clear]");
    function send(value) {
      return F.api("PATCH", "/api/me/birthday/", { fan: fan, birthday: value }).then(function (body) {
        clear.hidden = !body.birthday;
        if (!body.birthday) { month.value = ""; day.value = ""; }
        F.toast(body.birthday ? gettext("Birthday shared with this shop.") : gettext("This shop no longer sees your birthday."));
      }, F.toastError);
    }
    row.querySelector("[data-birthday-save]").addEventListener("click", function () {
      var m = Number(month.value), d = Number(day.value);
      if (!m || !d) { F.toast(gettext("Choose the month and the day."), true); return; }
      send((m < 10 ? "0" : "") + m + "-" + (d < 10 ? "0" : "") + d);
    });
    clear.addEventListener("click", function () { send(null); });
  });
})();
