// Behaviour that templates declare with data attributes; the Content-Security-Policy forbids inline
// handlers (onchange=, onsubmit=). No dependencies.

// <select data-autosubmit>: submit its form when the choice changes (the language switch).
document.addEventListener("change", function (event) {
  var field = event.target.closest("[data-autosubmit]");
  if (field && field.form) field.form.submit();
});

// <form data-confirm="question">: ask before submitting (deletions).
document.addEventListener("submit", function (event) {
  var form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
});
