// "Add row" for Django formsets rendered by matching/_formset.html; no dependencies.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-add-row]");
  if (!button) return;
  var fieldset = button.closest("[data-formset]");
  var prefix = fieldset.getAttribute("data-formset");
  var total = fieldset.querySelector("#id_" + prefix + "-TOTAL_FORMS");
  var max = fieldset.querySelector("#id_" + prefix + "-MAX_NUM_FORMS");
  var index = parseInt(total.value, 10);
  if (max && index >= parseInt(max.value, 10)) return;
  var template = fieldset.querySelector("template[data-empty-row]");
  var html = template.innerHTML.replace(/__prefix__/g, String(index));
  var body = fieldset.querySelector("[data-rows]");
  body.insertAdjacentHTML("beforeend", html);
  var row = body.lastElementChild;
  row.querySelector(".row-no").textContent = String(index + 1);
  total.value = String(index + 1);
  var first = row.querySelector("input[type=text], input:not([type])");
  if (first) first.focus();
});
