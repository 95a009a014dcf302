// Complaints: the "File anonymously" box disables the contact fields (the server ignores
// them anyway when it is ticked); the receipt's confirmation warns before leaving. No inline
// script: the CSP forbids it.
(function () {
  "use strict";
  function sync(form) {
    var box = form.querySelector("input[name=anonymous]");
    if (!box) return;
    ["contact_name", "contact_email", "contact_phone"].forEach(function (name) {
      var input = form.querySelector("[name=" + name + "]");
      if (input) input.disabled = box.checked;
    });
  }
  function bind(root) {
    var form = root.querySelector ? root.querySelector("#complaint-form") : null;
    if (!form || form.dataset.bound) return;
    form.dataset.bound = "true";
    form.addEventListener("change", function (event) {
      if (event.target.name === "anonymous") sync(form);
    });
    sync(form);
  }
  document.addEventListener("DOMContentLoaded", function () { bind(document); });
  document.addEventListener("htmx:load", function (event) { bind(document); });

  // The confirmation after filing: the receipt is shown only once, so until "I have saved my
  // receipt" is ticked, leaving the page asks first. Downloading the receipt keeps it: that
  // ticks the box (so neither the download nor leaving afterwards asks).
  document.addEventListener("submit", function (event) {
    var kept = document.getElementById("receipt-kept");
    if (kept && event.target.classList.contains("receipt-download")) kept.checked = true;
  }, true);
  window.addEventListener("beforeunload", function (event) {
    var kept = document.getElementById("receipt-kept");
    if (!kept || kept.checked) return;
    event.preventDefault();
    event.returnValue = "";  // older browsers ask only when this is set
  });
})();
