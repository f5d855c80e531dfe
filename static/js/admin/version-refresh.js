/* The model version's admin page while its training is queued or running (loaded only then): fetch this page
   again every 2 s and swap the training panel in place; once the training has ended, load the whole page once,
   for the scores and the buttons. */
(function () {
  "use strict";

  var timer = setInterval(function () {
    fetch(window.location.href, { credentials: "same-origin" }).then(function (response) {
      return response.ok ? response.text() : null;
    }).then(function (html) {
      if (!html) return;
      var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("training-panel");
      if (!fresh) return;
      if (fresh.dataset.inProgress !== "true") { clearInterval(timer); window.location.reload(); return; }
      document.getElementById("training-panel").replaceWith(fresh);
    }).catch(function () {});
  }, 2000);
})();
