/* Block Kit and mrkdwn rendered to DOM nodes. Text only ever reaches the page as text nodes. */
(function () {
  "use strict";

  var EMOJI = {
    white_check_mark: "✅", heavy_check_mark: "✔️", x: "❌", hourglass: "⌛", hourglass_flowing_sand: "⏳",
    warning: "⚠️", zap: "⚡", bell: "🔔", tada: "🎉", memo: "📝", moneybag: "💰", calendar: "📅",
    date: "📅", eyes: "👀", no_entry_sign: "🚫", no_entry: "⛔", wave: "👋", inbox_tray: "📥",
    alarm_clock: "⏰", point_right: "👉", rotating_light: "🚨", receipt: "🧾", page_facing_up: "📄",
    clipboard: "📋", thumbsup: "👍", "+1": "👍", thumbsdown: "👎", smile: "😄", email: "📧",
    envelope: "✉️", dollar: "💵", chart_with_upwards_trend: "📈", lock: "🔒", key: "🔑", gear: "⚙️",
    bust_in_silhouette: "👤", busts_in_silhouette: "👥", large_green_circle: "🟢", red_circle: "🔴",
    large_yellow_circle: "🟡", white_circle: "⚪", arrow_right: "➡️", repeat: "🔁", fire: "🔥",
    information_source: "ℹ️", question: "❓", exclamation: "❗", sparkles: "✨", heavy_plus_sign: "➕",
    small_blue_diamond: "🔹", small_orange_diamond: "🔸", pushpin: "📌", mag: "🔍", hammer_and_wrench: "🛠️",
  };
  var SAFE_URL = /^(https?:\/\/|mailto:)/i;
  var INLINE = /<([^<>\n]+)>|`([^`\n]+)`|([*_~])(?=\S)([^\n]*?\S)\3|:([a-z0-9_+'-]+):|\n/g;
  var MAX_DEPTH = 4;
  var TYPING_PAUSE_MS = 500;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function decode(text) {
    return String(text).replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  }

  function emojify(text) {
    return String(text).replace(/:([a-z0-9_+'-]+):/g, function (whole, name) {
      return EMOJI[name] || whole;
    });
  }

  function isWordChar(ch) {
    return !!ch && /[A-Za-z0-9]/.test(ch);
  }

  function personName(ctx, id) {
    var person = ctx.people && ctx.people[id];
    return person ? (person.real_name || person.name) : id;
  }

  function angle(token, ctx) {
    var bar = token.indexOf("|");
    var target = bar >= 0 ? token.slice(0, bar) : token;
    var label = bar >= 0 ? token.slice(bar + 1) : "";
    if (target.charAt(0) === "@") {
      var span = el("span", "mention", "@" + (label || personName(ctx, target.slice(1))));
      if (ctx.viewer && target.slice(1) === ctx.viewer) span.className += " mention-me";
      return span;
    }
    if (target.charAt(0) === "#") {
      var channel = ctx.channels && ctx.channels[target.slice(1)];
      return el("span", "mention channel-mention", "#" + decode(label || channel || target.slice(1)));
    }
    if (target.charAt(0) === "!") {
      var word = target.slice(1).split("^")[0];
      if (word === "date") return document.createTextNode(decode(label || target));
      if (word === "subteam") return el("span", "mention", decode(label || "@group"));
      return el("span", "mention mention-broadcast", "@" + word);
    }
    var url = decode(target);
    if (!SAFE_URL.test(url)) return document.createTextNode(decode(label || target));
    var link = el("a", "link", decode(label || target));
    link.href = url;
    link.target = "_blank";
    link.rel = "noopener noreferrer nofollow";
    return link;
  }

  function inline(text, into, ctx, depth) {
    var re = new RegExp(INLINE.source, "g");
    var pos = 0;
    var m;
    while ((m = re.exec(text)) !== null) {
      if (m[3] && (isWordChar(text.charAt(m.index - 1)) || isWordChar(text.charAt(re.lastIndex)))) {
        re.lastIndex = m.index + 1;
        continue;
      }
      if (m.index > pos) into.appendChild(document.createTextNode(decode(text.slice(pos, m.index))));
      into.appendChild(inlineToken(m, ctx, depth));
      pos = re.lastIndex;
    }
    if (pos < text.length) into.appendChild(document.createTextNode(decode(text.slice(pos))));
  }

  function inlineToken(m, ctx, depth) {
    if (m[1] !== undefined) return angle(m[1], ctx);
    if (m[2] !== undefined) return el("code", "code", decode(m[2]));
    if (m[5] !== undefined) return document.createTextNode(EMOJI[m[5]] || ":" + m[5] + ":");
    if (m[3] !== undefined) {
      var node = el({"*": "strong", _: "em", "~": "s"}[m[3]]);
      if (depth < MAX_DEPTH) inline(m[4], node, ctx, depth + 1);
      else node.textContent = decode(m[4]);
      return node;
    }
    return el("br");
  }

  function lines(text, into, ctx) {
    var rows = text.split("\n");
    var quote = null;
    rows.forEach(function (row, i) {
      var isQuote = /^&gt;\s?/.test(row);
      if (isQuote) {
        if (!quote) { quote = el("blockquote", "quote"); into.appendChild(quote); }
        else quote.appendChild(el("br"));
        inline(row.replace(/^&gt;\s?/, ""), quote, ctx, 0);
        return;
      }
      quote = null;
      inline(row, into, ctx, 0);
      if (i < rows.length - 1 && !/^&gt;/.test(rows[i + 1] || "")) into.appendChild(el("br"));
    });
  }

  /** Render Slack mrkdwn to a fragment: *bold* _italic_ ~strike~ `code` ```pre``` <links|…> <@mentions>. */
  function mrkdwn(text, ctx) {
    var fragment = document.createDocumentFragment();
    String(text || "").split("```").forEach(function (part, i) {
      if (i % 2 === 1) {
        fragment.appendChild(el("pre", "pre", decode(part.replace(/^\n/, ""))));
      } else if (part) {
        lines(part, fragment, ctx);
      }
    });
    return fragment;
  }

  function textObject(obj, ctx, cls) {
    var node = el("span", cls || "text");
    if (!obj) return node;
    if (obj.type === "mrkdwn" && !obj.verbatim) node.appendChild(mrkdwn(obj.text, ctx));
    else if (obj.type === "mrkdwn") node.textContent = decode(obj.text);
    else {
      node.textContent = obj.emoji === false ? obj.text : emojify(obj.text);
      node.classList.add("plain-text");  // Slack keeps the line breaks of plain text
    }
    return node;
  }

  function plain(obj) {
    return obj ? emojify(obj.text || "") : "";
  }

  /* interactive elements */

  function confirmThen(element, ctx, send) {
    if (!element.confirm || !ctx.confirm) return send();
    ctx.confirm(element.confirm, send);
  }

  function button(element, block, ctx) {
    var styleCls = element.style === "primary" ? " btn-primary" : element.style === "danger" ? " btn-danger" : "";
    var node = el("button", "btn" + styleCls, plain(element.text));
    node.type = "button";
    node.dataset.actionId = element.action_id || "";
    if (element.value !== undefined) node.dataset.value = element.value;
    if (element.accessibility_label) node.setAttribute("aria-label", element.accessibility_label);
    if (element.url && SAFE_URL.test(element.url)) node.title = element.url;
    node.addEventListener("click", function () {
      confirmThen(element, ctx, function () {
        if (element.url && SAFE_URL.test(element.url)) window.open(element.url, "_blank", "noopener");
        ctx.onAction({action_id: element.action_id, block_id: block.block_id, value: element.value, node: node});
      });
    });
    return node;
  }

  function optionsOf(element) {
    var groups = element.option_groups || [];
    var flat = (element.options || []).map(function (o) { return {option: o, group: null}; });
    groups.forEach(function (g) {
      (g.options || []).forEach(function (o) { flat.push({option: o, group: plain(g.label)}); });
    });
    return flat;
  }

  function selectNode(element, choices, initial, placeholder, multiple) {
    var node = el("select", "select");
    node.dataset.actionId = element.action_id || "";
    node.multiple = !!multiple;
    if (!multiple) {
      var none = el("option", null, placeholder || "Select an item");
      none.value = "";
      node.appendChild(none);
    }
    var groups = {};
    choices.forEach(function (choice) {
      var option = el("option", null, choice.label);
      option.value = choice.value;
      if (initial.indexOf(choice.value) >= 0) option.selected = true;
      if (choice.group) {
        if (!groups[choice.group]) {
          groups[choice.group] = el("optgroup");
          groups[choice.group].label = choice.group;
          node.appendChild(groups[choice.group]);
        }
        groups[choice.group].appendChild(option);
      } else {
        node.appendChild(option);
      }
    });
    return node;
  }

  function selectChoices(element, ctx) {
    var kind = element.type.replace(/^multi_/, "");
    if (kind === "users_select") {
      return (ctx.peopleList || []).filter(function (p) { return !p.is_bot; }).map(function (p) {
        return {value: p.id, label: p.real_name || p.name};
      });
    }
    if (kind === "conversations_select" || kind === "channels_select") {
      return Object.keys(ctx.channels || {}).map(function (id) { return {value: id, label: "#" + ctx.channels[id]}; });
    }
    return optionsOf(element).map(function (x) {
      return {value: x.option.value, label: plain(x.option.text), group: x.group};
    });
  }

  function stateEntry(element, block, ctx) {
    var values = ctx && ctx.state && block && block.block_id ? ctx.state[block.block_id] : null;
    return values ? values[element.action_id] : undefined;
  }

  /** The values a stored `state.values` entry holds, as a list of strings. */
  function entryValues(entry) {
    if (entry.selected_options) return entry.selected_options.map(function (o) { return o.value; });
    if (entry.selected_option) return [entry.selected_option.value];
    var found = [];
    ["selected_users", "selected_conversations", "selected_channels"].forEach(function (k) {
      (entry[k] || []).forEach(function (v) { found.push(v); });
    });
    ["selected_user", "selected_conversation", "selected_channel", "selected_date", "selected_time", "value"].forEach(function (k) {
      if (entry[k] !== undefined && entry[k] !== null) found.push(entry[k]);
    });
    return found;
  }

  function initialValues(element, block, ctx) {
    var entry = stateEntry(element, block, ctx);
    if (entry) return entryValues(entry);
    var found = [];
    if (element.initial_option) found.push(element.initial_option.value);
    (element.initial_options || []).forEach(function (o) { found.push(o.value); });
    ["initial_user", "initial_conversation", "initial_channel"].forEach(function (k) {
      if (element[k]) found.push(element[k]);
    });
    ["initial_users", "initial_conversations", "initial_channels"].forEach(function (k) {
      (element[k] || []).forEach(function (v) { found.push(v); });
    });
    return found;
  }

  function selectValue(node) {
    if (!node.multiple) return node.value || null;
    return Array.prototype.filter.call(node.options, function (o) { return o.selected; }).map(function (o) {
      return o.value;
    });
  }

  function choiceGroup(element, block, ctx, kind) {
    var box = el("div", "choices choices-" + kind);
    box.dataset.actionId = element.action_id || "";
    var initial = initialValues(element, block, ctx);
    var name = "c" + Math.random().toString(36).slice(2);
    (element.options || []).forEach(function (option) {
      var label = el("label", "choice");
      var input = el("input");
      input.type = kind === "checkboxes" ? "checkbox" : "radio";
      input.name = name;
      input.value = option.value;
      input.checked = initial.indexOf(option.value) >= 0;
      label.appendChild(input);
      label.appendChild(textObject(option.text, ctx));
      if (option.description) label.appendChild(textObject(option.description, ctx, "choice-description"));
      box.appendChild(label);
      if (!ctx.isForm) {
        input.addEventListener("change", function () {
          ctx.onAction({action_id: element.action_id, block_id: block.block_id, value: choiceValue(box, kind)});
        });
      }
    });
    box.getValue = function () { return choiceValue(box, kind); };
    box.setValue = function (value) {
      var wanted = [].concat(value === null || value === undefined ? [] : value);
      Array.prototype.forEach.call(box.querySelectorAll("input"), function (i) { i.checked = wanted.indexOf(i.value) >= 0; });
    };
    return box;
  }

  function choiceValue(box, kind) {
    var checked = Array.prototype.filter.call(box.querySelectorAll("input"), function (i) { return i.checked; });
    var values = checked.map(function (i) { return i.value; });
    return kind === "checkboxes" ? values : (values[0] || null);
  }

  function textInput(element, block, ctx) {
    var multiline = element.multiline;
    var node = el(multiline ? "textarea" : "input", "input");
    if (!multiline) node.type = {number_input: "number", email_text_input: "email", url_text_input: "url"}[element.type] || "text";
    if (multiline) node.rows = 4;
    if (element.placeholder) node.placeholder = plain(element.placeholder);
    if (element.initial_value !== undefined) node.value = element.initial_value;
    var entry = stateEntry(element, block, ctx);
    if (entry && entry.value !== undefined && entry.value !== null) node.value = entry.value;
    if (element.max_length) node.maxLength = element.max_length;
    node.dataset.actionId = element.action_id || "";
    node.getValue = function () { return node.value; };
    node.setValue = function (value) { node.value = value === null || value === undefined ? "" : value; };
    return node;
  }

  function dateInput(element, type, block, ctx) {
    var node = el("input", "input input-date");
    node.type = type;
    var entry = stateEntry(element, block, ctx);
    var initial = entry ? (entry.selected_date || entry.selected_time) : (element.initial_date || element.initial_time);
    if (initial) node.value = initial;
    node.dataset.actionId = element.action_id || "";
    node.getValue = function () { return node.value || null; };
    node.setValue = function (value) { node.value = value || ""; };
    return node;
  }

  /** Render one interactive or display element; form elements get a getValue() method and join ctx.controls. */
  function element(elem, block, ctx) {
    var node = elementNode(elem, block, ctx);
    if (node.getValue && ctx.controls && block.block_id && elem.action_id) {
      ctx.controls.push({block_id: block.block_id, action_id: elem.action_id, control: node});
    }
    return node;
  }

  function elementNode(elem, block, ctx) {
    var type = elem.type;
    if (type === "button") return button(elem, block, ctx);
    if (type === "image") return imagePlaceholder(elem, "image-small");
    if (type === "plain_text" || type === "mrkdwn") return textObject(elem, ctx);
    if (/select$/.test(type)) return select(elem, block, ctx);
    if (type === "overflow") return overflow(elem, block, ctx);
    if (type === "checkboxes" || type === "radio_buttons") return choiceGroup(elem, block, ctx, type);
    if (/text_input$|^number_input$/.test(type)) return dispatchTyping(textInput(elem, block, ctx), elem, block, ctx);
    if (type === "datepicker") return sendOnChange(dateInput(elem, "date", block, ctx), elem, block, ctx);
    if (type === "timepicker") return sendOnChange(dateInput(elem, "time", block, ctx), elem, block, ctx);
    return el("span", "unsupported", "[" + type + "]");
  }

  /** An input block with dispatch_action sends its text as Slack does: on Enter, or as characters are typed. */
  function dispatchTyping(node, elem, block, ctx) {
    if (ctx.isForm || !ctx.onAction) return node;
    var on = ((elem.dispatch_action_config || {}).trigger_actions_on) || ["on_enter_pressed"];
    var send = function () { ctx.onAction({action_id: elem.action_id, block_id: block.block_id, value: node.getValue()}); };
    if (on.indexOf("on_enter_pressed") >= 0 && !elem.multiline) {
      node.addEventListener("keydown", function (event) {
        if (event.key !== "Enter" || event.isComposing) return;
        event.preventDefault();
        send();
      });
    }
    if (on.indexOf("on_character_entered") >= 0) {
      var timer = null;
      node.addEventListener("input", function () {
        clearTimeout(timer);
        timer = setTimeout(send, TYPING_PAUSE_MS);
      });
    }
    return node;
  }

  function sendOnChange(node, elem, block, ctx) {
    if (!ctx.isForm) {
      node.addEventListener("change", function () {
        ctx.onAction({action_id: elem.action_id, block_id: block.block_id, value: node.getValue()});
      });
    }
    return node;
  }

  function select(elem, block, ctx) {
    var multiple = /^multi_/.test(elem.type);
    var node = selectNode(elem, selectChoices(elem, ctx), initialValues(elem, block, ctx), plain(elem.placeholder), multiple);
    node.getValue = function () { return selectValue(node); };
    node.setValue = function (value) {
      var wanted = [].concat(value === null || value === undefined ? [] : value);
      Array.prototype.forEach.call(node.options, function (o) { o.selected = wanted.indexOf(o.value) >= 0; });
    };
    return sendOnChange(node, elem, block, ctx);
  }

  function overflow(elem, block, ctx) {
    var choices = (elem.options || []).map(function (o) { return {value: o.value, label: plain(o.text)}; });
    var node = selectNode(elem, choices, [], "⋯", false);
    node.className += " overflow";
    node.setAttribute("aria-label", "More actions");
    node.addEventListener("change", function () {
      if (!node.value) return;
      var value = node.value;
      node.value = "";
      ctx.onAction({action_id: elem.action_id, block_id: block.block_id, value: value});
    });
    return node;
  }

  function imagePlaceholder(elem, cls) {
    var box = el("span", "image-placeholder " + (cls || ""), "🖼 " + (elem.alt_text || "image"));
    box.title = elem.image_url || "";
    return box;
  }

  /* blocks */

  function section(block, ctx) {
    var node = el("div", "block block-section");
    var body = el("div", "section-body");
    if (block.text) body.appendChild(textObject(block.text, ctx, "section-text"));
    if (block.fields && block.fields.length) {
      var grid = el("div", "fields");
      block.fields.forEach(function (f) { grid.appendChild(textObject(f, ctx, "field")); });
      body.appendChild(grid);
    }
    node.appendChild(body);
    if (block.accessory) {
      var accessory = el("div", "accessory");
      accessory.appendChild(element(block.accessory, block, ctx));
      node.appendChild(accessory);
    }
    return node;
  }

  function actions(block, ctx) {
    var node = el("div", "block block-actions");
    (block.elements || []).forEach(function (e) { node.appendChild(element(e, block, ctx)); });
    return node;
  }

  function context(block, ctx) {
    var node = el("div", "block block-context");
    (block.elements || []).forEach(function (e) {
      node.appendChild(e.type === "image" ? imagePlaceholder(e, "image-tiny") : textObject(e, ctx, "context-item"));
    });
    return node;
  }

  function input(block, ctx) {
    var node = el("div", "block block-input");
    node.dataset.blockId = block.block_id || "";
    var label = el("label", "input-label");
    label.appendChild(textObject(block.label, ctx));
    if (block.optional) label.appendChild(el("span", "optional", " (optional)"));
    node.appendChild(label);
    var control = element(block.element || {}, block, Object.assign({}, ctx, {isForm: !block.dispatch_action}));
    control.classList.add("input-control");
    node.appendChild(control);
    if (block.hint) node.appendChild(textObject(block.hint, ctx, "hint"));
    node.appendChild(el("div", "input-error"));
    if (ctx.inputs) {
      var elem = block.element || {};
      ctx.inputs.push({block_id: block.block_id, action_id: elem.action_id, type: elem.type, control: control, node: node});
    }
    return node;
  }

  function richText(block, ctx) {
    var node = el("div", "block block-rich-text");
    (block.elements || []).forEach(function (part) { node.appendChild(richPart(part, ctx)); });
    return node;
  }

  function richPart(part, ctx) {
    var tag = {rich_text_preformatted: "pre", rich_text_quote: "blockquote", rich_text_list: "ul"}[part.type] || "div";
    if (part.type === "rich_text_list" && part.style === "ordered") tag = "ol";
    var node = el(tag, part.type === "rich_text_preformatted" ? "pre" : part.type === "rich_text_quote" ? "quote" : "");
    (part.elements || []).forEach(function (child) {
      if (part.type === "rich_text_list") {
        var item = el("li");
        item.appendChild(richPart(child, ctx));
        node.appendChild(item);
      } else {
        node.appendChild(richInline(child, ctx));
      }
    });
    return node;
  }

  function richInline(item, ctx) {
    var node;
    if (item.type === "link" && SAFE_URL.test(item.url || "")) {
      node = el("a", "link", item.text || item.url);
      node.href = item.url;
      node.target = "_blank";
      node.rel = "noopener noreferrer nofollow";
    } else if (item.type === "user") {
      node = el("span", "mention", "@" + personName(ctx, item.user_id));
    } else if (item.type === "channel") {
      node = el("span", "mention channel-mention", "#" + ((ctx.channels || {})[item.channel_id] || item.channel_id));
    } else if (item.type === "emoji") {
      node = el("span", null, EMOJI[item.name] || ":" + item.name + ":");
    } else {
      node = el("span", null, item.text || item.url || "");
    }
    var style = item.style || {};
    if (style.bold) node.classList.add("b");
    if (style.italic) node.classList.add("i");
    if (style.strike) node.classList.add("s");
    if (style.code) node.classList.add("code");
    return node;
  }

  /** Render one block, marked with its block_id (data-block-id). */
  function block(b, ctx) {
    var node = blockNode(b, ctx);
    if (b.block_id && !node.dataset.blockId) node.dataset.blockId = b.block_id;
    return node;
  }

  /** Unknown block types show their name rather than disappear. */
  function blockNode(b, ctx) {
    switch (b.type) {
      case "section": return section(b, ctx);
      case "header": return el("div", "block block-header", plain(b.text));
      case "divider": return el("hr", "block block-divider");
      case "context": return context(b, ctx);
      case "actions": return actions(b, ctx);
      case "input": return input(b, ctx);
      case "image": {
        var node = el("div", "block block-image");
        if (b.title) node.appendChild(el("div", "image-title", plain(b.title)));
        node.appendChild(imagePlaceholder(b, "image-large"));
        return node;
      }
      case "rich_text": return richText(b, ctx);
      default: return el("div", "block unsupported", "[unsupported block: " + b.type + "]");
    }
  }

  /** Render a list of blocks into a container element. */
  function blocks(list, ctx) {
    var node = el("div", "blocks");
    (list || []).forEach(function (b) { node.appendChild(block(b, ctx)); });
    return node;
  }

  /** What the person typed or picked in rendered controls, as block_id → action_id → value. */
  function collectState(controls) {
    var state = {};
    (controls || []).forEach(function (c) {
      var value = c.control.getValue();
      state[c.block_id] = state[c.block_id] || {};
      state[c.block_id][c.action_id] = value === "" || value === undefined ? null : value;
    });
    return state;
  }

  window.BlockKit = {
    blocks: blocks, block: block, mrkdwn: mrkdwn, plain: plain, el: el, decode: decode, collectState: collectState,
  };
})();
