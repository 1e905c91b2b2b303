/* A campaign's reviews: stars, the reviewer's tags (never their name unless they opted in), photos, the shop's
   reply; on the owner's page a reply box under each review not answered yet. */
(function () {
  "use strict";
  var box = document.querySelector("[data-reviews]");
  if (!box || !window.Fansi) return;
  var list = box.querySelector("[data-reviews-list]");
  var canReply = box.hasAttribute("data-can-reply");

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function showError(error) {
    var err = box.querySelector("[data-reviews-error]");
    err.textContent = (error && error.message) || gettext("Something went wrong");
    err.hidden = false;
  }

  function item(r) {
    var li = el("li", "review-item");
    li.setAttribute("data-review", r.id);
    var who = r.name ? r.name + " · " + r.label : r.label;
    li.appendChild(el("p", "review-head", "★".repeat(r.stars) + "☆".repeat(5 - r.stars) + "  " + who));
    if (r.text) li.appendChild(el("p", "review-text", r.text));
    if (r.photos.length) {
      var photos = el("div", "review-photos");
      r.photos.forEach(function (url) {
        var img = el("img");
        img.src = url;
        img.alt = gettext("Review photo");
        img.loading = "lazy";
        photos.appendChild(img);
      });
      li.appendChild(photos);
    }
    if (r.reply) {
      li.appendChild(el("p", "review-reply small", gettext("Shop reply") + ": " + r.reply));
    } else if (canReply) {
      var form = el("form", "review-reply-form");
      var input = el("textarea");
      input.name = "reply";
      input.rows = 2;
      input.maxLength = 1000;
      input.setAttribute("aria-label", gettext("Reply publicly"));
      var send = el("button", "btn btn-small btn-primary", gettext("Reply publicly"));
      send.type = "submit";
      form.appendChild(input);
      form.appendChild(send);
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        send.disabled = true;
        window.Fansi.api("POST", "/api/reviews/" + r.id + "/reply/", { text: input.value }).then(function (done) {
          li.replaceWith(item(done));
          window.Fansi.toast(gettext("Reply posted"));
        }).catch(function (error) {
          send.disabled = false;
          showError(error);
        });
      });
      li.appendChild(form);
    }
    return li;
  }

  window.Fansi.api("GET", "/api/reviews/?" + box.getAttribute("data-query")).then(function (body) {
    box.querySelector("[data-reviews-empty]").hidden = body.count > 0;
    if (body.count) {
      box.querySelector("[data-reviews-summary]").textContent =
        interpolate(gettext("%s★ average · %s reviews"), [body.average, body.count]);
    }
    body.items.forEach(function (r) { list.appendChild(item(r)); });
  }).catch(showError);
})();
