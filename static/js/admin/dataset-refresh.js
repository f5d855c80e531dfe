/* A dataset's admin page while a worker checks it (loaded only then): load the page again every 3 s. */
(function () {
  "use strict";

  setTimeout(function () { window.location.reload(); }, 3000);
})();
