/* Sandbox tools beside the Slack client: the Mail view, the New document form and the Settings panel. */
(function () {
  "use strict";

  var el = window.BlockKit.el;
  var TITLES = {mail: "✉ Mail", document: "+ New document", settings: "⚙ Settings"};
  var TYPES = ["invoice", "bill", "purchase_order", "estimate", "expense", "sales_receipt", "payment",
    "bill_payment", "deposit", "credit_memo", "vendor_credit"];
  var VENDOR_TYPES = ["bill", "purchase_order", "expense", "bill_payment", "vendor_credit"];
  var SOURCES = ["app", "manual", "import", "receipt_capture", "spreadsheet_sync", "slack"];
  var CURRENCIES = ["USD", "EUR", "GBP", "CAD"];
  var shown = "";

  function api() { return window.Sandbox; }

  function title(tool) { return TITLES[tool] || tool; }

  /** Render a tool into its panel; the mail list follows every change, forms are built once per opening. */
  function render(tool, state, root) {
    var isNew = shown !== tool || !root.firstChild;
    shown = tool;
    if (tool === "mail") return renderMail(state, root);
    if (!isNew) return;
    root.textContent = "";
    if (tool === "document") renderDocumentForm(state, root);
    else if (tool === "settings") renderSettings(root);
    else root.appendChild(el("p", "tool-intro", "Unknown tool " + tool));
  }

  /* mail */

  function renderMail(state, root) {
    api().request("GET", "mail").then(function (answer) {
      root.textContent = "";
      root.appendChild(el("p", "tool-intro", "Every e-mail Signoff sends lands here: the sandbox runs a small SMTP " +
        "server on a loopback port (SIGNOFF_SMTP_URL points at it). Customer reminders, approver e-mails and " +
        "group e-mails show up as they are sent."));
      var list = el("div", "mail-list");
      list.dataset.testid = "mail-list";
      if (!answer.mails.length) list.appendChild(el("div", "empty", "No e-mail yet."));
      answer.mails.forEach(function (mail) { list.appendChild(mailNode(mail, state)); });
      root.appendChild(list);
    }).catch(function (error) { api().toast(error.message, true); });
  }

  function mailNode(mail, state) {
    var node = el("article", "mail");
    node.dataset.testid = "mail";
    var head = el("div", "mail-head");
    [["From", mail.sender], ["To", mail.to.join(", ")], ["Cc", mail.cc.join(", ")],
      ["Received", api().formatMoment(mail.received_at, state.viewer.tz)]].forEach(function (row) {
      if (!row[1]) return;
      head.appendChild(el("span", "mail-key", row[0]));
      head.appendChild(el("span", "mail-value mail-" + row[0].toLowerCase(), row[1]));
    });
    node.appendChild(head);
    node.appendChild(el("div", "mail-subject", mail.subject || "(no subject)"));
    node.appendChild(mailBody(mail.body));
    return node;
  }

  /** The body as text, with its web links (approval pages…) clickable. */
  function mailBody(text) {
    var body = el("pre", "mail-body");
    var pattern = /https?:\/\/[^\s<>"]+/g;
    var pos = 0;
    var m;
    while ((m = pattern.exec(text)) !== null) {
      body.appendChild(document.createTextNode(text.slice(pos, m.index)));
      var link = el("a", "link", m[0]);
      link.href = m[0];
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      body.appendChild(link);
      pos = pattern.lastIndex;
    }
    body.appendChild(document.createTextNode(text.slice(pos)));
    return body;
  }

  /* new document */

  function field(grid, label, control) {
    var id = "doc-" + control.name;
    control.id = id;
    var caption = el("label", null, label);
    caption.htmlFor = id;
    grid.appendChild(caption);
    grid.appendChild(control);
    return control;
  }

  function choice(name, values, labels, initial) {
    var node = el("select", "select");
    node.name = name;
    values.forEach(function (value, i) {
      var option = el("option", null, labels ? labels[i] : value);
      option.value = value;
      node.appendChild(option);
    });
    if (initial !== undefined) node.value = initial;
    return node;
  }

  function textField(name, type, value, placeholder) {
    var node = el(type === "textarea" ? "textarea" : "input", "input");
    node.name = name;
    if (type !== "textarea") node.type = type;
    if (value) node.value = value;
    if (placeholder) node.placeholder = placeholder;
    return node;
  }

  function inDays(days) {
    var moment = new Date(Date.now() + days * 86400000);
    return moment.toISOString().slice(0, 10);
  }

  function renderDocumentForm(state, root) {
    root.appendChild(el("p", "tool-intro", "Create a document the way an integration does: the page calls " +
      "PUT /api/v1/records/{type}/{id} with the sandbox's API token. Documents from the app, imports and " +
      "receipt capture go straight to approval; manual ones from a non-admin wait to be submitted."));
    var form = el("form", "form-grid");
    form.dataset.testid = "document-form";
    var type = field(form, "Type", choice("type", TYPES, null, "invoice"));
    field(form, "Number", textField("id", "text", "", "next free number"));
    field(form, "Amount", textField("amount", "text", "2500.00"));
    field(form, "Currency", choice("currency", CURRENCIES, null, "USD"));
    var contact = field(form, "Customer", choice("contact", []));
    field(form, "Department", textField("department", "text", "", "Sales"));
    field(form, "Memo", textField("memo", "textarea", "", "What it is for"));
    field(form, "Source", choice("source", SOURCES, null, "app"));
    field(form, "Due date", textField("due_date", "date", inDays(30)));
    var people = state.people.filter(function (p) { return !p.is_bot; });
    field(form, "Created by", choice("created_by", people.map(function (p) { return p.id; }),
      people.map(function (p) { return p.real_name; }), "U0DAN"));
    var submit = el("input");
    submit.type = "checkbox";
    submit.name = "submit";
    submit.checked = true;
    var check = el("label", "form-check");
    check.appendChild(submit);
    check.appendChild(el("span", null, "Submit for approval when it needs it"));
    form.appendChild(el("span"));
    form.appendChild(check);
    root.appendChild(form);
    var actions = el("div", "form-actions");
    var create = el("button", "btn btn-primary", "Create through the REST API");
    create.type = "button";
    create.dataset.testid = "create-document";
    actions.appendChild(create);
    root.appendChild(actions);
    var result = el("div", "form-result");
    result.dataset.testid = "document-result";
    root.appendChild(result);
    loadContacts(type, contact, form);
    type.addEventListener("change", function () { loadContacts(type, contact, form); });
    create.addEventListener("click", function () { createDocument(form, create, result); });
  }

  function loadContacts(type, contact, form) {
    var kind = VENDOR_TYPES.indexOf(type.value) >= 0 ? "vendor" : "customer";
    form.querySelector("label[for=doc-contact]").textContent = kind === "vendor" ? "Vendor" : "Customer";
    api().request("GET", "contacts").then(function (answer) {
      contact.textContent = "";
      var none = el("option", null, "—");
      none.value = "";
      contact.appendChild(none);
      answer.contacts.filter(function (c) { return c.kind === kind; }).forEach(function (c) {
        var option = el("option", null, c.name + " (" + c.id + ")");
        option.value = c.id;
        contact.appendChild(option);
      });
      if (contact.options.length > 1) contact.selectedIndex = 1;
    }).catch(function () {});
  }

  function formBody(form) {
    var body = {};
    Array.prototype.forEach.call(form.elements, function (input) {
      if (!input.name) return;
      if (input.type === "checkbox") body[input.name] = input.checked;
      else if (input.value !== "") body[input.name] = input.value;
    });
    return body;
  }

  function createDocument(form, button, result) {
    button.disabled = true;
    api().request("POST", "documents", formBody(form)).then(function (answer) {
      var record = answer.record;
      result.textContent = "";
      var line = el("div", null, "Created " + record.type + " " + record.id + " — approval: " + record.approval_status);
      line.dataset.testid = "document-created";
      result.appendChild(line);
      api().toast("Created " + record.id + " (" + record.approval_status + ")");
      api().refresh();
    }).catch(function (error) {
      result.textContent = error.message;
      api().toast(error.message, true);
    }).finally(function () { button.disabled = false; });
  }

  /* settings */

  function renderSettings(root) {
    api().request("GET", "settings").then(function (settings) {
      root.appendChild(el("p", "tool-intro", "This sandbox's REST API and where its e-mail goes. The API token " +
        "is kept with the demo database, so it stays the same across restarts until `make clean`."));
      var table = el("table", "settings-table");
      table.dataset.testid = "settings";
      row(table, "REST API", settings.api_url);
      var token = row(table, "API token (admin)", settings.api_token, "secret");
      token.dataset.testid = "api-token";
      row(table, "OpenAPI", settings.openapi_url);
      row(table, "Try it", "curl -H 'Authorization: Bearer " + settings.api_token + "' " + settings.api_url +
        "/records?type=invoice", "secret");
      row(table, "E-mail (SMTP)", settings.smtp_url + " — see Mail");
      row(table, "Admins", (settings.admins || []).join(", "));
      row(table, "Time zone", settings.timezone);
      row(table, "Locale", settings.locale);
      row(table, "Database", settings.database);
      root.appendChild(table);
    }).catch(function (error) { api().toast(error.message, true); });
  }

  function row(table, label, value, cls) {
    var tr = el("tr");
    tr.appendChild(el("th", null, label));
    var cell = el("td");
    var span = el("span", cls || null, value === null || value === undefined ? "—" : value);
    cell.appendChild(span);
    tr.appendChild(cell);
    table.appendChild(tr);
    return span;
  }

  window.SandboxTools = {render: render, title: title};
})();
