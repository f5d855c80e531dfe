/* catdog: behaviour shared by every page. Loaded in <head>, so everything touching the DOM waits for it. */
(function () {
  "use strict";

  var root = document.documentElement;
  root.classList.remove("no-js");
  root.classList.add("js");

  function busy(button, on) {
    if (!button) return;
    var label = button.querySelector("[data-button-label]");
    if (on) {
      button.disabled = true;
      button.classList.add("is-busy");
      button.setAttribute("aria-busy", "true");
      if (label && button.dataset.busyLabel) {
        label.dataset.idleLabel = label.textContent;
        label.textContent = button.dataset.busyLabel;
      }
    } else {
      button.disabled = false;
      button.classList.remove("is-busy");
      button.removeAttribute("aria-busy");
      if (label && label.dataset.idleLabel) label.textContent = label.dataset.idleLabel;
    }
  }

  // Forms that need a confirmation (data-confirm) or show progress once sent (data-busy-form).
  // Delegated on the document, so forms swapped in later by a page's poll work as well.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      return;
    }
    if (form.hasAttribute("data-busy-form")) {
      if (form.dataset.submitted) {  // a second click while the first request is on its way
        event.preventDefault();
        return;
      }
      form.dataset.submitted = "1";
      // Disabled after this event, so the browser still sends the form.
      var button = event.submitter || form.querySelector("[type=submit]");
      window.setTimeout(function () { busy(button, true); }, 0);
    }
  });

  // Coming back with the Back button shows the page from cache: make its buttons usable again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    document.querySelectorAll("form[data-submitted]").forEach(function (form) {
      delete form.dataset.submitted;
      form.querySelectorAll("[type=submit]").forEach(function (button) { busy(button, false); });
    });
  });

  document.addEventListener("click", function (event) {
    var dismiss = event.target.closest && event.target.closest("[data-dismiss]");
    if (dismiss) {
      var message = dismiss.closest("[data-message]");
      if (message) message.remove();
    }
  });

  // htmx keeps polling in a background tab (hx-trigger "every 2s", templates/classifier/_poll.html): skip
  // those requests while the tab is hidden; the first tick after it is shown again asks.
  document.addEventListener("htmx:confirm", function (event) {
    if (document.hidden && event.target.hasAttribute("data-poll")) event.preventDefault();
  });

  // A refused feedback (HTTP 400) comes with its fragment saying why: show it, as htmx would a success.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr.status === 400 && event.detail.elt.closest("[data-feedback-form]")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
