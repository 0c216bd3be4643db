/* The sandbox's Slack-like client: state from /sandbox/api/state, live updates over server-sent events. */
(function () {
  "use strict";

  var BK = window.BlockKit;
  var el = BK.el;
  var API = "/sandbox/api/";
  var APP = "app";
  var POLL_MS = 10000;
  var params = new URLSearchParams(window.location.search);
  var ui = {
    viewer: params.get("as") || "",
    conversation: params.get("c") || APP,
    tab: params.get("tab") === "home" ? "home" : "messages",
    tool: params.get("tool") || "",
    state: null,
    renderedKey: "",
    modalKey: "",
    seen: {},
    refreshTimer: null,
    busy: 0,
  };

  function $(id) { return document.getElementById(id); }

  /* talking to the server */

  function request(method, path, body) {
    var init = {method: method, headers: {"Accept": "application/json"}};
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(API + path, init).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (!response.ok) {
          var message = data && data.error ? data.error.message : response.status + " " + response.statusText;
          var error = new Error(message);
          error.data = data;
          throw error;
        }
        return data;
      });
    });
  }

  function act(path, body) {
    ui.busy += 1;
    document.body.classList.add("is-busy");
    body.viewer = ui.viewer;
    return request("POST", path, body).then(function (answer) {
      refresh();
      return answer;
    }).catch(function (error) {
      toast(error.message, true);
      refresh();
      throw error;
    }).finally(function () {
      ui.busy -= 1;
      if (!ui.busy) document.body.classList.remove("is-busy");
    });
  }

  function clickAction(body, node) {
    if (node) node.disabled = true;
    return act("click", body).catch(function () {
      if (node) node.disabled = false;
    });
  }

  function refresh() {
    var query = "state?viewer=" + encodeURIComponent(ui.viewer) + "&conversation=" + encodeURIComponent(ui.conversation);
    return request("GET", query).then(render).catch(function (error) {
      if (ui.conversation !== APP) {
        ui.conversation = APP;
        saveLocation();
        return refresh();
      }
      toast(error.message, true);
    });
  }

  function refreshSoon() {
    if (ui.refreshTimer) return;
    ui.refreshTimer = setTimeout(function () {
      ui.refreshTimer = null;
      refresh();
    }, 60);
  }

  function listen() {
    if (!window.EventSource) return;
    var source = new EventSource(API + "events");
    source.addEventListener("change", refreshSoon);
    source.addEventListener("hello", refreshSoon);
  }

  function saveLocation() {
    var query = new URLSearchParams();
    if (ui.viewer) query.set("as", ui.viewer);
    if (ui.conversation !== APP) query.set("c", ui.conversation);
    if (ui.conversation === APP && ui.tab === "home") query.set("tab", "home");
    if (ui.tool) query.set("tool", ui.tool);
    window.history.replaceState(null, "", "?" + query.toString());
  }

  /* rendering */

  function context(state) {
    var people = {};
    state.people.forEach(function (p) { people[p.id] = p; });
    var channels = {};
    state.channels.forEach(function (c) { channels[c.id] = c.name; });
    return {
      people: people, peopleList: state.people, channels: channels, viewer: state.viewer.id,
      confirm: confirmDialog, onAction: function () {},
    };
  }

  function render(state) {
    ui.state = state;
    if (!ui.viewer) ui.viewer = state.viewer.id;
    var ctx = context(state);
    renderClock(state);
    renderViewer(state);
    renderMailCount(state);
    var key = JSON.stringify([state.version, ui.viewer, ui.conversation, ui.tab, ui.tool, state.conversation.id]);
    if (key !== ui.renderedKey) {
      ui.renderedKey = key;
      markSeen(state);
      renderSidebar(state);
      renderHeader(state);
      renderBody(state, ctx);
      renderComposer(state);
    }
    renderModal(state, ctx);
  }

  function renderMailCount(state) {
    var badge = $("mail-count");
    badge.hidden = !state.mail_count;
    badge.textContent = String(state.mail_count || 0);
  }

  function markSeen(state) {
    var seen = ui.seen[ui.viewer] = ui.seen[ui.viewer] || {};
    seen[ui.conversation] = state.conversation.messages.filter(function (m) { return !m.ephemeral; }).length;
  }

  function unread(ref, count) {
    var seen = (ui.seen[ui.viewer] || {})[ref] || 0;
    return ref === ui.conversation ? 0 : Math.max(0, count - seen);
  }

  function formatMoment(iso, tz) {
    return new Intl.DateTimeFormat("en-US", {
      weekday: "short", day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit",
      hourCycle: "h23", timeZone: tz, timeZoneName: "short",
    }).format(new Date(iso));
  }

  function renderClock(state) {
    $("clock-now").textContent = formatMoment(state.now, state.viewer.tz);
    $("clock-now").title = state.now + " (" + state.viewer.tz + ")";
  }

  function renderViewer(state) {
    var select = $("viewer");
    var wanted = JSON.stringify(state.people.map(function (p) { return p.id; }));
    if (select.dataset.people !== wanted) {
      select.textContent = "";
      state.people.filter(function (p) { return !p.is_bot; }).forEach(function (p) {
        var option = el("option", null, p.real_name + (p.is_admin ? " · admin" : ""));
        option.value = p.id;
        select.appendChild(option);
      });
      select.dataset.people = wanted;
    }
    select.value = ui.viewer;
    var me = $("me");
    me.textContent = "";
    me.appendChild(avatar(state.viewer, "avatar-small"));
  }

  function avatarClass(id) {
    var sum = 0;
    for (var i = 0; i < id.length; i++) sum = (sum * 31 + id.charCodeAt(i)) % 997;
    return "av-" + (sum % 8);
  }

  function avatar(person, extra) {
    if (person && person.is_bot) {
      var img = el("img", "avatar avatar-bot " + (extra || ""));
      img.src = "/sandbox/static/signoff.svg";
      img.alt = "";
      return img;
    }
    var name = person ? (person.real_name || person.name) : "?";
    var initials = name.split(/\s+/).map(function (w) { return w.charAt(0); }).join("").slice(0, 2).toUpperCase();
    return el("span", "avatar " + avatarClass(person ? person.id : "?") + " " + (extra || ""), initials);
  }

  function sidebarItem(ref, icon, label, count, isBadge) {
    var item = el("li");
    var button = el("button", "sidebar-item");
    button.type = "button";
    button.dataset.conversation = ref;
    var fresh = unread(ref, count);
    if (ref === ui.conversation && !ui.tool) button.classList.add("is-active");
    if (fresh) button.classList.add("is-unread");
    button.appendChild(icon);
    button.appendChild(el("span", "sidebar-label", label));
    if (fresh && isBadge) button.appendChild(el("span", "badge", String(fresh)));
    button.addEventListener("click", function () { openConversation(ref); });
    item.appendChild(button);
    return item;
  }

  function renderSidebar(state) {
    var channels = $("channels");
    channels.textContent = "";
    state.channels.forEach(function (c) {
      channels.appendChild(sidebarItem(c.id, el("span", "hash", c.is_private ? "🔒" : "#"), c.name, c.count, false));
    });
    var apps = $("apps");
    apps.textContent = "";
    var bot = state.people.filter(function (p) { return p.is_bot; })[0];
    apps.appendChild(sidebarItem(APP, avatar(bot, "avatar-tiny"), state.app.name, state.app.count, true));
    $("team-name").textContent = state.team.name;
  }

  function renderHeader(state) {
    var title = $("conv-title");
    title.textContent = "";
    var isApp = ui.conversation === APP && !ui.tool;
    Array.prototype.forEach.call(document.querySelectorAll("[data-tool]"), function (b) {
      b.classList.toggle("is-tool-active", b.dataset.tool === ui.tool);
    });
    if (ui.tool) {
      title.appendChild(el("span", null, window.SandboxTools.title(ui.tool)));
    } else if (isApp) {
      var bot = state.people.filter(function (p) { return p.is_bot; })[0];
      title.appendChild(avatar(bot, "avatar-tiny"));
      title.appendChild(el("span", null, state.app.name));
    } else {
      title.appendChild(el("span", "hash", "#"));
      title.appendChild(el("span", null, state.conversation.name));
    }
    $("tabs").hidden = !isApp;
    Array.prototype.forEach.call(document.querySelectorAll("#tabs button"), function (b) {
      b.classList.toggle("is-active", b.dataset.tab === ui.tab);
    });
    var members = $("conv-topic");
    members.textContent = ui.tool ? "Sandbox tool — not part of Slack" :
      isApp ? "Approvals, reminders and escalations" : (state.conversation.topic || "");
  }

  function renderBody(state, ctx) {
    var showHome = ui.conversation === APP && ui.tab === "home" && !ui.tool;
    $("tool").hidden = !ui.tool;
    $("home").hidden = !showHome;
    $("messages").hidden = showHome || !!ui.tool;
    $("composer").hidden = showHome || !!ui.tool;
    if (ui.tool) window.SandboxTools.render(ui.tool, state, $("tool"));
    else if (showHome) renderHome(state, ctx);
    else renderMessages(state, ctx);
  }

  function renderHome(state, ctx) {
    var home = $("home");
    home.textContent = "";
    if (!state.home) {
      var empty = el("div", "empty");
      empty.appendChild(el("div", "empty-title", "Nothing here yet"));
      empty.appendChild(el("div", null, "Signoff has not published a Home tab for you."));
      home.appendChild(empty);
      return;
    }
    ctx.controls = [];
    ctx.state = (state.home.state || {}).values || {};
    ctx.onAction = function (action) {
      clickAction({view_id: state.home.id, action_id: action.action_id, block_id: action.block_id,
        value: normaliseValue(action.value), state: BK.collectState(ctx.controls)}, action.node);
    };
    var view = el("div", "home-view");
    view.dataset.viewId = state.home.id;
    view.appendChild(BK.blocks(state.home.blocks, ctx));
    home.appendChild(view);
  }

  function normaliseValue(value) {
    return value === undefined ? null : value;
  }

  function isNearBottom(node) {
    return node.scrollHeight - node.scrollTop - node.clientHeight < 80;
  }

  function dayLabel(date, tz) {
    return new Intl.DateTimeFormat("en-GB", {weekday: "long", day: "numeric", month: "long", timeZone: tz}).format(date);
  }

  function renderMessages(state, ctx) {
    var list = $("messages");
    var stick = isNearBottom(list) || list.dataset.conversation !== ui.conversation + ui.viewer;
    list.dataset.conversation = ui.conversation + ui.viewer;
    list.textContent = "";
    var messages = state.conversation.messages;
    if (!messages.length) list.appendChild(intro(state));
    var previous = null;
    var lastDay = "";
    messages.forEach(function (m) {
      var when = new Date(parseFloat(m.ts) * 1000);
      var day = dayLabel(when, state.viewer.tz);
      if (day !== lastDay) {
        var divider = el("div", "day-divider");
        divider.appendChild(el("span", null, day));
        list.appendChild(divider);
        lastDay = day;
        previous = null;
      }
      var isFollowUp = previous && previous.user === m.user && !m.ephemeral && !previous.ephemeral &&
        !hasHeader(m) && parseFloat(m.ts) - parseFloat(previous.ts) < 300;
      list.appendChild(messageNode(m, state, ctx, when, isFollowUp));
      previous = m;
    });
    if (stick) list.scrollTop = list.scrollHeight;
  }

  function hasHeader(m) {
    return (m.blocks || []).some(function (b) { return b.type === "header"; });
  }

  function intro(state) {
    var box = el("div", "intro");
    if (ui.conversation === APP) {
      box.appendChild(el("div", "intro-title", state.app.name));
      box.appendChild(el("div", null, "This is your conversation with Signoff. Approval requests and outcomes arrive here. Type /signoff help to start."));
    } else {
      box.appendChild(el("div", "intro-title", "#" + state.conversation.name));
      box.appendChild(el("div", null, "This is the very beginning of the #" + state.conversation.name + " channel."));
    }
    return box;
  }

  function messageNode(m, state, ctx, when, isFollowUp) {
    var author = ctx.people[m.user] || {id: m.user, name: m.user, real_name: m.user};
    var node = el("div", "message" + (isFollowUp ? " is-follow-up" : "") + (m.ephemeral ? " is-ephemeral" : ""));
    node.dataset.ts = m.ts;
    node.dataset.testid = "message";
    var gutter = el("div", "message-gutter");
    var time = new Intl.DateTimeFormat("en-US", {hour: "numeric", minute: "2-digit", timeZone: state.viewer.tz}).format(when);
    if (isFollowUp) gutter.appendChild(el("span", "hover-time", time));
    else gutter.appendChild(avatar(author));
    node.appendChild(gutter);
    var content = el("div", "message-content");
    if (!isFollowUp) {
      var header = el("div", "message-header");
      header.appendChild(el("span", "author", author.real_name || author.name));
      if (author.is_bot) header.appendChild(el("span", "app-badge", "APP"));
      var stamp = el("span", "timestamp", time);
      stamp.title = when.toString();
      header.appendChild(stamp);
      content.appendChild(header);
    }
    var controls = [];
    var msgCtx = Object.assign({}, ctx, {
      controls: controls,
      state: m.state || {},
      onAction: function (action) {
        clickAction({channel: ui.conversation, ts: m.ts, action_id: action.action_id, block_id: action.block_id,
          value: normaliseValue(action.value), state: BK.collectState(controls)}, action.node);
      },
    });
    if (m.blocks && m.blocks.length) content.appendChild(BK.blocks(m.blocks, msgCtx));
    else content.appendChild(el("div", "message-text")).appendChild(BK.mrkdwn(m.text, msgCtx));
    (m.attachments || []).forEach(function (a) { content.appendChild(attachment(a, msgCtx)); });
    if (m.edited && !author.is_bot) content.appendChild(el("span", "edited", "(edited)"));
    if (m.ephemeral) content.appendChild(ephemeralFooter(m));
    node.appendChild(content);
    return node;
  }

  function attachment(a, ctx) {
    var box = el("div", "attachment");
    if (a.color) box.dataset.color = a.color;
    if (a.blocks) box.appendChild(BK.blocks(a.blocks, ctx));
    if (a.text) box.appendChild(BK.mrkdwn(a.text, ctx));
    return box;
  }

  function ephemeralFooter(m) {
    var footer = el("div", "ephemeral-note");
    footer.appendChild(el("span", "eye", "👁"));
    footer.appendChild(el("span", null, "Only visible to you"));
    return footer;
  }

  function renderComposer(state) {
    var input = $("composer-input");
    var where = ui.conversation === APP ? state.app.name : "#" + state.conversation.name;
    input.placeholder = "Message " + where + " — try /signoff help";
  }

  /* modals */

  function renderModal(state, ctx) {
    var root = $("modal-root");
    var modal = state.modal;
    if (!modal) {
      root.textContent = "";
      ui.modalKey = "";
      return;
    }
    var key = modal.view.id + "|" + modal.view.hash;
    if (key !== ui.modalKey) {
      ui.modalKey = key;
      var before = root.firstChild;
      var after = modalNode(modal.view, ctx, !!before && before.viewId === modal.view.id);
      var refocused = before && before.viewId === modal.view.id ? keepWhatWasTyped(before, after) : null;
      root.textContent = "";
      root.appendChild(after);
      if (refocused) refocused();
    }
    showErrors(root, modal.errors || {});
  }

  /* Slack keeps what was entered in input blocks whose block_id, action_id and type survive an update: so does
     the page, including what was typed while the update was on its way, the focus, the caret and the scroll.
     Returns what gives the focus back, to be called as soon as the new modal is in the page: a key pressed after
     the old one left would otherwise be lost. */
  function keepWhatWasTyped(before, after) {
    var live = {};
    before.inputs.forEach(function (i) { live[[i.block_id, i.action_id, i.type].join("\u0000")] = i; });
    var focused = document.activeElement;
    var refocused = null;
    after.inputs.forEach(function (i) {
      var old = live[[i.block_id, i.action_id, i.type].join("\u0000")];
      if (!old || !old.control.getValue || !i.control.setValue) return;
      i.control.setValue(old.control.getValue());
      if (focused && old.control.contains(focused)) refocused = refocus(focused, i.control);
    });
    var scrolled = before.querySelector(".modal-body");
    if (scrolled) after.keptScroll = scrolled.scrollTop;
    return refocused;
  }

  function refocus(focused, control) {
    var target = control.matches("input, textarea, select") ? control : control.querySelector("input, textarea, select");
    if (!target) return null;
    var start = focused.selectionStart, end = focused.selectionEnd;
    return function () {
      target.focus();
      if (typeof start === "number" && typeof target.setSelectionRange === "function") {
        try { target.setSelectionRange(start, end); } catch (e) { /* not a text box */ }
      }
    };
  }

  function modalNode(view, ctx, isRedraw) {
    var overlay = el("div", "overlay");
    var dialog = el("div", "modal");
    dialog.setAttribute("role", "dialog");
    dialog.setAttribute("aria-modal", "true");
    dialog.dataset.viewId = view.id;
    dialog.dataset.callbackId = view.callback_id || "";
    var head = el("div", "modal-head");
    head.appendChild(el("h2", "modal-title", BK.plain(view.title)));
    var x = el("button", "modal-x", "×");
    x.type = "button";
    x.setAttribute("aria-label", "Close");
    x.addEventListener("click", function () { act("close", {view_id: view.id}); });
    head.appendChild(x);
    dialog.appendChild(head);
    var inputs = [];
    var controls = [];
    var formCtx = Object.assign({}, ctx, {
      inputs: inputs,
      controls: controls,
      state: (view.state || {}).values || {},
      onAction: function (action) {
        clickAction({view_id: view.id, action_id: action.action_id, block_id: action.block_id,
          value: normaliseValue(action.value), state: BK.collectState(controls)}, action.node);
      },
    });
    var body = el("form", "modal-body");
    body.appendChild(BK.blocks(view.blocks, formCtx));
    dialog.appendChild(body);
    var foot = el("div", "modal-foot");
    var close = el("button", "btn", view.close ? BK.plain(view.close) : "Cancel");
    close.type = "button";
    close.dataset.role = "close";
    close.addEventListener("click", function () { act("close", {view_id: view.id}); });
    foot.appendChild(close);
    if (view.submit) {
      var submit = el("button", "btn btn-primary", BK.plain(view.submit));
      submit.type = "submit";
      submit.dataset.role = "submit";
      foot.appendChild(submit);
    }
    body.addEventListener("submit", function (event) {
      event.preventDefault();
      submitModal(view, inputs, dialog, controls);
    });
    if (view.submit) foot.lastChild.addEventListener("click", function (event) {
      event.preventDefault();
      submitModal(view, inputs, dialog, controls);
    });
    dialog.appendChild(foot);
    overlay.appendChild(dialog);
    overlay.viewId = view.id;
    overlay.inputs = inputs;
    setTimeout(function () {
      if (overlay.keptScroll) body.scrollTop = overlay.keptScroll;
      var first = dialog.querySelector("textarea, input, select");
      if (first && !isRedraw) first.focus();
    }, 0);
    return overlay;
  }

  function submitModal(view, inputs, dialog, controls) {
    if (dialog.classList.contains("is-submitting")) return;
    var values = {};
    inputs.forEach(function (i) {
      if (i.block_id && i.control.getValue) values[i.block_id] = i.control.getValue();
    });
    dialog.classList.add("is-submitting");
    act("submit", {view_id: view.id, values: values, state: BK.collectState(controls)}).then(function (answer) {
      showErrors($("modal-root"), answer.errors || {});
    }).catch(function () {}).finally(function () { dialog.classList.remove("is-submitting"); });
  }

  function showErrors(root, errors) {
    Array.prototype.forEach.call(root.querySelectorAll(".block-input"), function (node) {
      var message = errors[node.dataset.blockId] || "";
      node.classList.toggle("has-error", !!message);
      node.querySelector(".input-error").textContent = message;
    });
  }

  function confirmDialog(confirm, proceed) {
    var overlay = el("div", "overlay overlay-confirm");
    var dialog = el("div", "modal modal-confirm");
    dialog.setAttribute("role", "alertdialog");
    dialog.appendChild(el("h2", "modal-title", BK.plain(confirm.title) || "Are you sure?"));
    var text = el("div", "modal-body");
    text.appendChild(BK.mrkdwn(confirm.text ? confirm.text.text : "", {}));
    dialog.appendChild(text);
    var foot = el("div", "modal-foot");
    var deny = el("button", "btn", BK.plain(confirm.deny) || "Cancel");
    deny.type = "button";
    var ok = el("button", "btn " + (confirm.style === "danger" ? "btn-danger" : "btn-primary"), BK.plain(confirm.confirm) || "Yes");
    ok.type = "button";
    ok.dataset.role = "confirm";
    deny.addEventListener("click", function () { overlay.remove(); });
    ok.addEventListener("click", function () { overlay.remove(); proceed(); });
    foot.appendChild(deny);
    foot.appendChild(ok);
    dialog.appendChild(foot);
    overlay.appendChild(dialog);
    document.body.appendChild(overlay);
    ok.focus();
  }

  /* commands, clock, navigation */

  function toast(message, isError) {
    var box = $("toast");
    box.textContent = message;
    box.className = "toast is-visible" + (isError ? " is-error" : "");
    clearTimeout(box.timer);
    box.timer = setTimeout(function () { box.className = "toast"; }, isError ? 6000 : 3500);
  }

  function sendComposer(event) {
    event.preventDefault();
    var input = $("composer-input");
    var text = input.value.trim();
    if (!text) return;
    if (text.charAt(0) !== "/") {
      toast("This sandbox sends slash commands to Signoff: try /signoff help", true);
      return;
    }
    input.value = "";
    act("command", {text: text, channel: ui.conversation}).catch(function () { input.value = text; });
  }

  function advanceClock(duration, button) {
    button.disabled = true;
    request("POST", "clock", {advance: duration}).then(function (answer) {
      var tz = ui.state ? ui.state.viewer.tz : "UTC";
      toast("Clock moved to " + formatMoment(answer.now, tz) + " · scheduler swept");
      refresh();
    }).catch(function (error) {
      toast(error.message, true);
    }).finally(function () { button.disabled = false; });
  }

  function openTool(tool) {
    ui.tool = tool;
    ui.renderedKey = "";
    saveLocation();
    refresh();
  }

  function openConversation(ref) {
    ui.tool = "";
    ui.conversation = ref;
    if (ref !== APP) ui.tab = "messages";
    saveLocation();
    refresh();
  }

  function openTab(tab) {
    ui.tool = "";
    ui.tab = tab;
    ui.renderedKey = "";
    saveLocation();
    if (tab === "home") act("home", {}).catch(function () {});
    else refresh();
  }

  function start() {
    $("viewer").addEventListener("change", function (event) {
      ui.viewer = event.target.value;
      ui.renderedKey = "";
      saveLocation();
      refresh().then(function () { if (ui.tab === "home" && ui.conversation === APP) act("home", {}).catch(function () {}); });
    });
    $("composer").addEventListener("submit", sendComposer);
    Array.prototype.forEach.call(document.querySelectorAll("[data-advance]"), function (button) {
      button.addEventListener("click", function () { advanceClock(button.dataset.advance, button); });
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-tool]"), function (button) {
      button.addEventListener("click", function () { openTool(button.dataset.tool); });
    });
    Array.prototype.forEach.call(document.querySelectorAll("#tabs button"), function (button) {
      button.addEventListener("click", function () { openTab(button.dataset.tab); });
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-command]"), function (chip) {
      chip.addEventListener("click", function () {
        $("composer-input").value = chip.dataset.command;
        $("composer-input").focus();
      });
    });
    document.addEventListener("keydown", function (event) {
      if (event.key !== "Escape") return;
      var confirm = document.querySelector(".overlay-confirm");
      if (confirm) { confirm.remove(); return; }
      var modal = document.querySelector("#modal-root .modal");
      if (modal) act("close", {view_id: modal.dataset.viewId}).catch(function () {});
    });
    refresh().then(function () {
      if (ui.tab === "home" && ui.conversation === APP) act("home", {}).catch(function () {});
    });
    listen();
    setInterval(refresh, POLL_MS);
  }

  window.Sandbox = {
    ui: ui, request: request, refresh: refresh, toast: toast, formatMoment: formatMoment,
    openConversation: openConversation,
  };
  document.addEventListener("DOMContentLoaded", start);
})();
