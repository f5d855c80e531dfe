/* The admin's training form: one click, one training. The button is disabled once the form is sent (the server
   also recognises a second post of the same form by its request key). */
(function () {
  "use strict";

  var form = document.querySelector("[data-training-form]");
  if (!form) return;
  form.addEventListener("submit", function () {
    var button = form.querySelector("[data-submit-training]");
    setTimeout(function () { button.disabled = true; button.value = "Starting…"; }, 0);
  });
})();
