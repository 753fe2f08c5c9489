// The agency page of the web admin: a "Preview" button under each notification template.
// Its texts and the preview URL come from the data attributes of its own <script> element.
(function () {
  "use strict";
  // A "Preview" button under each template: posts the row's texts, shows the rendered fragment.
  const init = document.getElementById("agency-preview-init");
  const form = document.getElementById("agency_form");
  const fields = ["trigger", "sms_body", "email_subject", "email_text", "email_html"];

  function valueOf(name) {
    const input = form.elements.namedItem(name);
    return input && "value" in input ? input.value : "";
  }

  function addButton(row) {
    const prefix = row.id;
    if (row.classList.contains("empty-form") || !form.elements.namedItem(prefix + "-sms_body")) {
      return;  // the blank row Django clones, or a read-only row
    }
    const button = document.createElement("button");
    button.type = "button";
    button.className = "button agency-preview-button";
    button.textContent = init.dataset.label;
    const output = document.createElement("div");
    output.setAttribute("aria-live", "polite");
    button.addEventListener("click", function () {
      const body = new FormData();
      body.append("csrfmiddlewaretoken", valueOf("csrfmiddlewaretoken"));
      body.append("name", valueOf("name"));
      body.append("header_colour", valueOf("header_colour"));
      fields.forEach(function (field) { body.append(field, valueOf(prefix + "-" + field)); });
      output.textContent = init.dataset.loading;
      fetch(init.dataset.url, {method: "POST", body: body, credentials: "same-origin"})
        .then(function (response) {
          if (!response.ok) { throw new Error(String(response.status)); }
          return response.text();
        })
        // The fragment is rendered by the server with every value escaped.
        .then(function (html) { output.innerHTML = html; })
        .catch(function () { output.textContent = init.dataset.failed; });
    });
    row.append(button, output);
  }

  document.querySelectorAll("#templates-group .inline-related").forEach(addButton);
  document.addEventListener("formset:added", function (event) {
    if (event.target.closest("#templates-group")) { addButton(event.target); }
  });
})();
