// The live quality check of the need and result forms (matching/catalogue/quality.py): while the
// user types, POST the form's text fields (no files) to the form's data-quality-url, which writes
// nothing, and show the panel it renders. No dependencies; no inline handlers (CSP).
(function () {
  var form = document.querySelector("form[data-quality-url]");
  var body = document.querySelector("[data-quality-body]");
  if (!form || !body) return;
  var timer = null;
  var latest = 0;

  function payload() {
    var data = new FormData(form);
    var files = [];
    data.forEach(function (value, key) {
      if (typeof value !== "string") files.push(key);
    });
    files.forEach(function (key) { data.delete(key); });
    return data;
  }

  function check() {
    var ticket = ++latest;
    fetch(form.getAttribute("data-quality-url"), {
      method: "POST",
      body: payload(),
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" },
    })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (answer) {
        // Only the answer to the newest input counts (answers may arrive out of order).
        if (answer && ticket === latest) body.innerHTML = answer.html;
      })
      .catch(function () {});
  }

  function soon() {
    window.clearTimeout(timer);
    timer = window.setTimeout(check, 400);
  }

  form.addEventListener("input", soon);
  form.addEventListener("change", soon);
  // "Add row" inserts formset rows; typing in them bubbles "input" to the form as well.
  check();
})();
