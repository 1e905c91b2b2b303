/* Fansi chat client, part 3 of 4: the inbox (the live conversation list, assignment, the product card picker).
 * Needs chat_thread.js and chat_socket.js (window.FansiChatParts). */
(function () {
  "use strict";

  var C = window.FansiChatParts;
  if (!C) return;
  var $ = Fansi.$, el = Fansi.el, api = Fansi.api;
  var cfg = C.cfg, convId = C.convId;

  // --- inbox: the live conversation list, assignment, product cards ------------------------------
  var convList = $("conv-list");

  function assignedTo(name) { return name ? interpolate(gettext("Assigned to %(name)s"), { name: name }, true) : ""; }

  function convItem(id) { return convList ? convList.querySelector('li[data-conversation="' + id + '"]') : null; }

  function setBadge(id, n) {
    var li = convItem(id);
    if (!li) return;
    var badge = li.querySelector(".badge");
    badge.dataset.unread = String(n);
    badge.textContent = String(n);
    badge.hidden = n <= 0;
  }

  function buildConvItem(conv) {
    var li = el("li", "conv-item");
    li.dataset.conversation = conv.id;
    var a = el("a");
    a.href = "/inbox/c/" + conv.id + "/?shop=" + cfg.shop;
    a.appendChild(el("span", "avatar", (conv.fan_name || "?").slice(0, 1)));
    var main = el("span", "conv-main");
    var top = el("span", "conv-top");
    top.appendChild(el("span", "conv-name", conv.fan_name));
    top.appendChild(el("time", "conv-time", ""));
    var bottom = el("span", "conv-bottom");
    bottom.appendChild(el("span", "conv-preview", conv.last_message_preview || ""));
    var badge = el("span", "badge", "0");
    badge.hidden = true;
    bottom.appendChild(badge);
    main.appendChild(top);
    main.appendChild(bottom);
    main.appendChild(el("span", "conv-assignee muted small", assignedTo(conv.assigned_to_name)));
    a.appendChild(main);
    li.appendChild(a);
    return li;
  }

  function inboxBump(msg) {
    if (!convList) return;
    var li = convItem(msg.conversation);
    if (!li) {
      if (cfg.filtered) return; // a filtered list only shows what the server matched
      if (msg.moves_inbox === false) return; // a broadcast or notice does not bring a conversation up
      api("GET", "/api/conversations/" + msg.conversation + "/").then(function (conv) {
        if (conv.shop !== cfg.shop || convItem(conv.id)) return;
        var empty = $("conv-empty");
        if (empty) empty.remove();
        var item = buildConvItem(conv);
        convList.insertBefore(item, convList.firstChild);
        updateItem(item, msg, conv.unread);
      }).catch(function () { /* not ours to show */ });
      return;
    }
    var unread = Number(li.querySelector(".badge").dataset.unread || 0);
    if (msg.side === "shop") unread = 0; // a reply from the team means the fan has been read
    else if (msg.side === "fan") unread = msg.conversation === convId && !document.hidden ? 0 : unread + 1;
    updateItem(li, msg, unread);
  }

  var bumped = {}; // conversation -> last seq counted, so a duplicate delivery does not double the badge
  if (convList) {
    Array.prototype.forEach.call(convList.querySelectorAll("li[data-last-seq]"), function (li) {
      bumped[li.dataset.conversation] = Number(li.dataset.lastSeq);
    });
  }
  function updateItem(li, msg, unread) {
    var id = msg.conversation;
    if (bumped[id] && bumped[id] >= msg.seq) return;
    bumped[id] = msg.seq;
    li.querySelector(".conv-preview").textContent = C.preview(msg);
    li.querySelector(".conv-time").textContent = C.timeLabel(msg.created_at);
    setBadge(id, unread);
    setAwaiting(li, msg.awaiting_reply);
    // Only the fan writing or a person answering moves a conversation up (not broadcasts or notices).
    if (msg.moves_inbox !== false && convList.firstChild !== li) convList.insertBefore(li, convList.firstChild);
  }

  function setAwaiting(li, awaiting) {
    if (awaiting === undefined || awaiting === null) return;
    var label = li.querySelector(".conv-awaiting");
    if (!label && awaiting) {
      label = el("span", "conv-awaiting small", gettext("Awaiting reply"));
      li.querySelector(".conv-main").appendChild(label);
    }
    if (label) label.hidden = !awaiting;
  }

  function onAssigned(id, userId) {
    var name = userId ? (cfg.team || {})[String(userId)] || "" : "";
    var li = convItem(id);
    if (li) {
      var label = li.querySelector(".conv-assignee");
      if (label) label.textContent = assignedTo(name);
    }
    if (id === convId) {
      var select = $("assign-select");
      if (select) select.value = userId ? String(userId) : "";
      cfg.assigned_to = userId;
    }
  }

  var assignSelect = $("assign-select");
  if (assignSelect) {
    assignSelect.addEventListener("change", function () {
      var value = assignSelect.value ? Number(assignSelect.value) : null;
      api("POST", "/api/conversations/" + convId + "/assign/", { staff: value })
        .then(function (conv) { onAssigned(conv.id, conv.assigned_to); })
        .catch(function (err) {
          assignSelect.value = cfg.assigned_to ? String(cfg.assigned_to) : "";
          C.composerError(gettext("Could not assign the conversation.") + " " + err.message);
        });
    });
  }

  var cardButton = $("card-button");
  var picker = $("card-picker");
  var pickerList = $("card-picker-list");
  var productsLoaded = false;
  if (cardButton && picker) {
    cardButton.addEventListener("click", function () {
      picker.hidden = !picker.hidden;
      if (!picker.hidden && !productsLoaded) loadProducts();
    });
    $("card-picker-close").addEventListener("click", function () { picker.hidden = true; });
  }
  function loadProducts() {
    api("GET", "/api/products/?shop=" + cfg.shop)
      .then(function (products) {
        productsLoaded = true;
        pickerList.textContent = "";
        if (!products.length) { pickerList.appendChild(el("li", "empty", gettext("No products yet."))); return; }
        products.forEach(function (p) {
          var li = el("li");
          var b = el("button");
          b.type = "button";
          b.appendChild(el("span", "", p.name));
          b.appendChild(el("span", "chat-card-price", "¥" + p.price));
          b.addEventListener("click", function () {
            picker.hidden = true;
            C.queue("product_card", {
              card: { product: p.id },
              cardPreview: { name: p.name, price: p.price, currency: p.currency, image: p.image, available: p.is_available },
            });
          });
          li.appendChild(b);
          pickerList.appendChild(li);
        });
      })
      .catch(function (err) { C.composerError(err.message); });
  }

  C.convList = convList;
  C.convItem = convItem;
  C.setBadge = setBadge;
  C.inboxBump = inboxBump;
  C.onAssigned = onAssigned;
})();
