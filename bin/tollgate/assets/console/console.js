// Tollgate console: light progressive enhancement. Every page and form works without it.
// - A form with data-confirm asks before it submits (Reset all devices, Replay all failed).
// - A filter form with data-autosubmit submits when a select changes.
"use strict";
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form.getAttribute && form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
    return;
  }
  var button = form.querySelector && form.querySelector("button[type=submit]");
  if (button) {
    button.setAttribute("aria-busy", "true");
  }
});
document.addEventListener("change", function (event) {
  var field = event.target;
  if (field.tagName === "SELECT" && field.form && field.form.hasAttribute("data-autosubmit")) {
    field.form.requestSubmit();
  }
});
