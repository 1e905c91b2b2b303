/* Fansi bot UI: the inbox bot panel (tag suggestions, fan tags, handoff), the composer assistant (drafts,
 * canned replies), the bot settings page and the fan's "no promotions" switch (broadcasts: broadcasts.js).
 *
 * Vanilla JS on top of the bot REST API. Every piece of user text reaches the DOM through textContent.
 * Websocket frames come from chat.js as "fansi:frame" events (one socket per page).
 */
(function () {
  "use strict";

  var $ = Fansi.$, el = Fansi.el, api = Fansi.api, toast = Fansi.toast, withShop = Fansi.withShop;
  var CFG = Fansi.config("bot-config", {});

  function button(text, className, onClick) {
    var b = el("button", className, text);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }

  function onFrame(handler) {
    document.addEventListener("fansi:frame", function (ev) { handler(ev.detail || {}); });
  }

  // --- tag suggestions (inbox panel and fan profile) ------------------------------------------------

  /* The message text with the matched phrase marked, built from text nodes only. */
  function highlighted(text, phrase) {
    var quote = el("q", "sugg-quote");
    var at = phrase ? text.toLowerCase().indexOf(String(phrase).toLowerCase()) : -1;
    if (at < 0) { quote.textContent = text; return quote; }
    quote.appendChild(document.createTextNode(text.slice(0, at)));
    quote.appendChild(el("mark", "", text.slice(at, at + phrase.length)));
    quote.appendChild(document.createTextNode(text.slice(at + phrase.length)));
    return quote;
  }

  function normalize(s) {
    var msg = s.message;
    var text = msg && typeof msg === "object" ? msg.text : msg;
    return { id: s.id, tag: s.tag, tag_name: s.tag_name, confidence: s.confidence, phrase: s.phrase, status: s.status, text: text || "" };
  }

  function Suggestions(list, fanId, onChange, afterConfirm) {
    this.list = list;
    this.fanId = fanId;
    this.onChange = onChange || function () {};
    this.afterConfirm = afterConfirm || function () {};
  }
  Suggestions.prototype.load = function () {
    var self = this;
    return api("GET", "/api/fans/" + self.fanId + "/tag-suggestions/").then(function (rows) {
      self.list.textContent = "";
      rows.forEach(function (s) { self.add(s); });
      self.onChange(self.count());
    }).catch(Fansi.toastError);
  };
  Suggestions.prototype.count = function () { return this.list.children.length; };
  Suggestions.prototype.add = function (raw) {
    var s = normalize(raw);
    if (s.status && s.status !== "pending") return;
    if (this.list.querySelector('li[data-suggestion="' + s.id + '"]')) return;
    var self = this;
    var li = el("li", "suggestion");
    li.dataset.suggestion = s.id;
    li.dataset.tag = s.tag;
    var top = el("div", "sugg-top");
    top.appendChild(el("strong", "sugg-tag", s.tag_name));
    var pct = Math.round((Number(s.confidence) || 0) * 100);
    var conf = el("span", "sugg-confidence", pct + "%");
    conf.title = gettext("Confidence");
    top.appendChild(conf);
    li.appendChild(top);
    if (s.text) {
      var from = el("div", "sugg-source");
      from.appendChild(el("span", "visually-hidden", gettext("From the message") + ": "));
      from.appendChild(highlighted(s.text, s.phrase));
      li.appendChild(from);
    }
    var actions = el("div", "sugg-actions");
    actions.appendChild(button(gettext("Confirm"), "btn btn-primary btn-small sugg-confirm", function () { self.decide(li, s, true); }));
    actions.appendChild(button(gettext("Ignore"), "btn btn-ghost btn-small sugg-reject", function () { self.decide(li, s, false); }));
    li.appendChild(actions);
    this.list.insertBefore(li, this.list.firstChild);
    this.onChange(this.count());
  };
  Suggestions.prototype.decide = function (li, s, confirm) {
    var self = this;
    Array.prototype.forEach.call(li.querySelectorAll("button"), function (b) { b.disabled = true; });
    var url = "/api/fans/" + self.fanId + "/tag-suggestions/" + s.id + (confirm ? "/confirm/" : "/reject/");
    api("POST", url).then(function () {
      li.remove();
      self.onChange(self.count());
      if (confirm) { toast(gettext("Tag added.")); self.afterConfirm(s); }
    }).catch(function (err) {
      if (err.code === "already_decided") { li.remove(); self.onChange(self.count()); self.afterConfirm(s); return; }
      Array.prototype.forEach.call(li.querySelectorAll("button"), function (b) { b.disabled = false; });
      Fansi.toastError(err);
    });
  };

  /* The bot's "not sure" (a tag_suggestion.unsure frame): a note with the measured confidence and the words,
   * and nothing to accept. One per tag; the newest first; a few at most. */
  function addUnsureNote(list, note) {
    if (!list || !note) return;
    var old = list.querySelector('li[data-tag="' + String(note.tag).replace(/"/g, "") + '"]');
    if (old) old.remove();
    var li = el("li", "unsure-note");
    li.dataset.tag = note.tag;
    var pct = Math.round((Number(note.confidence) || 0) * 100) + "%";
    li.appendChild(el("span", "unsure-text", interpolate(
      gettext("Not sure: maybe %(tag)s (%(pct)s); not enough evidence"), { tag: note.tag_name, pct: pct }, true)));
    var text = note.message && note.message.text;
    if (text) li.appendChild(highlighted(text, note.phrase));
    list.insertBefore(li, list.firstChild);
    while (list.children.length > 3) list.removeChild(list.lastChild);
  }

  // --- the inbox bot panel ------------------------------------------------------------------------------

  function initInboxPanel(panel) {
    var convId = Number(panel.dataset.conversation);
    var fanId = Number(panel.dataset.fan);
    var toggle = $("bot-toggle");
    var toggleCount = $("bot-toggle-count");

    function renderTags(details) {
      var ul = $("fan-tags");
      ul.textContent = "";
      (details || []).forEach(function (t) {
        var li = el("li", "fan-tag");
        li.dataset.tag = t.tag;
        li.appendChild(el("span", "chip chip-on", (t.group_name ? t.group_name + " · " : "") + t.name));
        if (t.source === "bot") li.appendChild(el("span", "tag-source", gettext("Bot")));
        ul.appendChild(li);
      });
      $("fan-tags-empty").hidden = ul.children.length > 0;
    }
    function loadTags() {
      return api("GET", "/api/fans/" + fanId + "/").then(function (fan) { renderTags(fan.tag_details); })
        .catch(Fansi.toastError);
    }

    var suggestions = new Suggestions($("suggestions"), fanId, function (n) {
      $("suggestions-empty").hidden = n > 0;
      if (toggleCount) { toggleCount.textContent = String(n); toggleCount.hidden = n === 0; }
    }, loadTags);
    suggestions.load();
    loadTags();

    var status = $("bot-status");
    var resume = $("bot-resume");
    function setPaused(paused) {
      status.textContent = paused ? gettext("Bot paused (a person took over)") : gettext("Bot is replying automatically");
      status.classList.toggle("paused", paused);
      resume.hidden = !paused;
    }
    setPaused(!resume.hidden);
    resume.addEventListener("click", function () {
      resume.disabled = true;
      api("POST", "/api/conversations/" + convId + "/bot/resume/")
        .then(function (state) { setPaused(!!state.bot_paused); })
        .catch(Fansi.toastError)
        .then(function () { resume.disabled = false; });
    });

    if (toggle) {
      toggle.addEventListener("click", function () {
        var open = !panel.classList.contains("open");
        panel.classList.toggle("open", open);
        toggle.setAttribute("aria-expanded", open ? "true" : "false");
      });
      $("bot-panel-close").addEventListener("click", function () {
        panel.classList.remove("open");
        toggle.setAttribute("aria-expanded", "false");
      });
    }

    onFrame(function (frame) {
      if (frame.type === "tag_suggestion.new") {
        if (frame.fan === fanId) {
          suggestions.add(frame.suggestion);
          var sure = $("unsure-notes") && $("unsure-notes").querySelector('li[data-tag="' + String(frame.suggestion.tag).replace(/"/g, "") + '"]');
          if (sure) sure.remove();
        }
      } else if (frame.type === "tag_suggestion.unsure") {
        if (frame.fan === fanId) addUnsureNote($("unsure-notes"), frame.note);
      } else if (frame.type === "conversation.bot" && frame.conversation === convId) {
        setPaused(!!frame.paused);
      } else if (frame.type === "message.new" || frame.type === "message.ack") {
        var m = frame.message;
        // A person on the team replied: the server pauses the bot here (handoff).
        if (m && m.conversation === convId && m.side === "shop" && m.sender) setPaused(true);
      }
    });
  }

  /* Mark conversations whose fan just got a suggestion, so the owner notices it from the list. */
  function initConversationHints(list) {
    onFrame(function (frame) {
      if (frame.type !== "tag_suggestion.new") return;
      var li = list.querySelector('li[data-fan="' + frame.fan + '"]');
      var hint = li && li.querySelector(".conv-hint");
      if (hint && !li.classList.contains("active")) hint.hidden = false;
    });
  }

  // --- the composer assistant: drafts and canned replies ----------------------------------------------

  function initAssistant(panel) {
    var fanId = Number(panel.dataset.fan);
    var shop = Number(panel.dataset.shop);
    var box = $("drafts");
    var list = $("drafts-list");
    var title = $("drafts-title");
    if (!box) return;

    function close() { box.hidden = true; list.textContent = ""; }
    $("drafts-close").addEventListener("click", close);

    function cardFor(kind, card, reason) {
      if (kind === "campaign_card") return { campaign: card.campaign || card.id };
      var out = { product: card.product || card.id };
      if (reason) out.reason = reason;
      return out;
    }

    function renderDraft(d) {
      var item = el("div", "draft");
      var card = d.card || {};
      var preview = Object.assign({}, card);
      if (d.reason && !preview.reason) preview.reason = d.reason;
      if (window.FansiChat) item.appendChild(window.FansiChat.renderCard(preview, d.kind));
      var actions = el("div", "draft-actions");
      actions.appendChild(button(gettext("Send"), "btn btn-primary btn-small draft-send", function () {
        if (!window.FansiChat) return;
        window.FansiChat.sendCard(d.kind, cardFor(d.kind, card, d.reason), preview);
        item.remove();
        if (!list.children.length) close();
      }));
      actions.appendChild(button(gettext("Discard"), "btn btn-ghost btn-small draft-discard", function () {
        item.remove();
        if (!list.children.length) close();
      }));
      item.appendChild(actions);
      return item;
    }

    function draft(command) {
      box.hidden = false;
      list.textContent = "";
      title.textContent = command === "/campaign" ? gettext("Recommended campaigns")
        : command === "/recommend" ? gettext("Recommended products") : command;
      list.appendChild(el("p", "muted small drafts-note", gettext("The bot is drafting…")));
      api("POST", "/api/fans/" + fanId + "/drafts/", { command: command, k: 3 })
        .then(function (data) {
          list.textContent = "";
          var drafts = data.drafts || [];
          if (!drafts.length) { list.appendChild(el("p", "muted small drafts-note", gettext("Nothing to suggest right now."))); return; }
          drafts.forEach(function (d) { list.appendChild(renderDraft(d)); });
        })
        .catch(function (err) {
          list.textContent = "";
          var text = err.code === "unknown_command"
            ? gettext("This command is not available yet. Try /recommend or /campaign.") : err.message;
          list.appendChild(el("p", "drafts-note drafts-error", text));
        });
    }

    window.FansiBot = {
      command: function (text) {
        draft(text.split(/\s+/)[0].toLowerCase());
        return true;
      },
    };
    Array.prototype.forEach.call(document.querySelectorAll("[data-command]"), function (b) {
      b.addEventListener("click", function () { draft(b.dataset.command); });
    });

    var cannedButton = $("canned-button");
    var picker = $("canned-picker");
    var pickerList = $("canned-picker-list");
    var loaded = false;
    if (!cannedButton || !picker) return;
    cannedButton.addEventListener("click", function () {
      picker.hidden = !picker.hidden;
      var cards = $("card-picker");
      if (cards && !picker.hidden) cards.hidden = true;
      if (!picker.hidden && !loaded) loadCanned();
    });
    $("canned-picker-close").addEventListener("click", function () { picker.hidden = true; });
    function loadCanned() {
      pickerList.textContent = "";
      pickerList.appendChild(el("li", "empty", gettext("Loading…")));
      api("GET", withShop("/api/bot/canned-replies/", shop)).then(function (replies) {
        loaded = true;
        pickerList.textContent = "";
        if (!replies.length) { pickerList.appendChild(el("li", "empty", gettext("No canned replies yet."))); return; }
        replies.forEach(function (r) {
          var li = el("li");
          var b = el("button", "canned-item");
          b.type = "button";
          b.dataset.reply = r.id;
          var body = el("span", "canned-body");
          body.appendChild(el("strong", "", r.title));
          body.appendChild(el("span", "muted small canned-text", r.text));
          b.appendChild(body);
          b.addEventListener("click", function () {
            api("POST", "/api/fans/" + fanId + "/canned/" + r.id + "/render/").then(function (out) {
              picker.hidden = true;
              if (window.FansiChat) window.FansiChat.fill(out.text);
            }).catch(Fansi.toastError);
          });
          li.appendChild(b);
          pickerList.appendChild(li);
        });
      }).catch(function (err) { pickerList.textContent = ""; Fansi.toastError(err); });
    }
  }

  // --- the fan's profile page -----------------------------------------------------------------------------

  function initFanProfile(section) {
    var fanId = Number(section.dataset.fan);
    var suggestions = new Suggestions($("suggestions"), fanId, function (n) { section.hidden = n === 0; }, function () {
      // The tag list and history are rendered on the server: show the new tag there.
      setTimeout(function () { location.reload(); }, 400);
    });
    suggestions.load();
  }

  // --- the fan's "no promotions" switch ---------------------------------------------------------------------

  function initOptOut(box) {
    box.addEventListener("change", function () {
      var want = box.checked;
      box.disabled = true;
      api("POST", "/api/me/shops/" + box.dataset.shop + "/promotions/", { opt_out: want })
        .then(function (state) {
          box.checked = !!state.opt_out;
          toast(state.opt_out
            ? gettext("You will not receive promotions from this shop. Replies to you still arrive.")
            : gettext("Promotions from this shop are on again."));
        })
        .catch(function (err) { box.checked = !want; Fansi.toastError(err); })
        .then(function () { box.disabled = false; });
    });
  }

  // --- /bot/: settings, FAQ rules, canned replies -------------------------------------------------------------

  function initBotSettings() {
    var form = $("bot-settings-form");
    if (form && form.querySelector("button[type=submit]")) {
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var f = form.elements;
        var body = {
          enabled: f.enabled.checked,
          away_enabled: f.away_enabled.checked,
          business_start: f.business_start.value, business_end: f.business_end.value,
          quiet_start: f.quiet_start.value, quiet_end: f.quiet_end.value,
          promo_per_day: Number(f.promo_per_day.value), promo_per_week: Number(f.promo_per_week.value),
          away_message: f.away_message.value,
        };
        var status = $("settings-status");
        api("PATCH", withShop("/api/bot/settings/", CFG.shop), body)
          .then(function () { status.textContent = gettext("Saved."); toast(gettext("Saved.")); })
          .catch(function (err) { status.textContent = ""; Fansi.toastError(err); });
      });
    }
    // FAQ answers and canned replies (add, edit, delete): bot_rules.js.
  }

  // --- start ---------------------------------------------------------------------------------------------------

  var panel = $("bot-panel");
  if (panel) { initInboxPanel(panel); initAssistant(panel); }
  var convList = $("conv-list");
  if (convList) initConversationHints(convList);
  var profile = $("fan-suggestions");
  if (profile) initFanProfile(profile);
  var optOut = $("promo-opt-out");
  if (optOut) initOptOut(optOut);
  if (CFG.page === "bot") initBotSettings();
})();
