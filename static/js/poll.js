/* Pending predictions turn into their answers without a reload.

   Every element matching [data-prediction][data-status="pending"][data-poll-url] asks the JSON API
   (its data-poll-url) how it is doing: after 0.7 s, then less and less often, up to every 4 s.
   Once it is done or failed, the page itself is fetched again and the element is swapped for its
   server-rendered self (same data-prediction-id), so the markup has one source: the templates.
   If that fails, the element is updated in place from the JSON. Either way data-status changes,
   and a "catdog:prediction-finished" event is dispatched on the element (it bubbles). */
(function () {
  "use strict";

  var FIRST_DELAY_MS = 700;
  var MAX_DELAY_MS = 4000;
  var GROWTH = 1.4;
  var SLOW_AFTER_MS = 20000;
  var PENDING = '[data-prediction][data-status="pending"][data-poll-url]';

  function percent(value) {
    return (Math.round(value * 1000) / 10).toFixed(1) + "%";
  }

  function make(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  function finished(el, status) {
    el.setAttribute("aria-busy", "false");
    el.classList.remove("is-slow");
    el.dispatchEvent(new CustomEvent("catdog:prediction-finished", { bubbles: true, detail: { status: status } }));
  }

  function note(el, message) {
    var existing = el.querySelector("[data-poll-note]");
    var p = existing || make("p", "poll-note");
    p.setAttribute("data-poll-note", "");
    p.textContent = message;
    if (!existing) el.appendChild(p);
  }

  function setField(el, name, text) {
    var field = el.querySelector('[data-field="' + name + '"]');
    if (field) field.textContent = text;
    return field;
  }

  // The fallback: the page could not be fetched again, so write what the JSON says.
  function applyJson(el, data) {
    var done = data.status === "done";
    el.dataset.status = data.status;
    var badge = el.querySelector('[data-field="status"]');
    if (badge) {
      badge.className = "badge badge-" + data.status;
      badge.textContent = done ? "Done" : "Failed";
    }
    var confidence = done && data.confidence !== null && data.confidence !== undefined ? percent(data.confidence) : "";
    var hasLabel = setField(el, "label", done ? data.label : "Failed");
    setField(el, "confidence", confidence);
    var stale = el.querySelector("[data-stale]");
    if (stale) stale.remove();
    var waiting = el.querySelector(".waiting");
    if (!hasLabel && waiting) {
      // The detail page: a short answer, and a way to the full one.
      var box;
      if (done) {
        box = make("p", "answer");
        box.appendChild(make("span", "answer-label", data.label));
        if (confidence) box.appendChild(make("span", "answer-confidence", confidence + " confident"));
      } else {
        box = make("div", "failure");
        box.appendChild(make("p", "failure-title", "The model could not classify this photo."));
        box.appendChild(make("p", "failure-reason", data.error || "No reason was recorded."));
      }
      waiting.replaceWith(box);
      var more = make("p", "poll-note");
      var link = make("a", "", "Reload the page");
      link.href = window.location.href;
      more.appendChild(link);
      more.appendChild(document.createTextNode(done ? " for all the details." : " to try again."));
      el.appendChild(more);
    }
    finished(el, data.status);
  }

  function swap(el, fresh) {
    var node = document.importNode(fresh, true);
    el.replaceWith(node);
    finished(node, node.dataset.status);
    watchAll(node.parentNode || document);
  }

  // Finished predictions are re-rendered in batches: several answers arriving together cost one page fetch.
  var queue = [];
  var flushTimer = null;

  function refresh(el, data) {
    queue.push({ el: el, data: data });
    if (!flushTimer) flushTimer = window.setTimeout(flush, 150);
  }

  function flush() {
    var batch = queue;
    queue = [];
    flushTimer = null;
    fetch(window.location.href, { credentials: "same-origin", cache: "no-store", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        batch.forEach(function (item) {
          var selector = '[data-prediction][data-prediction-id="' + item.el.dataset.predictionId + '"]';
          var fresh = doc.querySelector(selector);
          if (fresh && fresh.dataset.status !== "pending" && item.el.isConnected) {
            swap(item.el, fresh);
          } else if (item.el.isConnected) {
            applyJson(item.el, item.data);  // e.g. moved to another page of the history by newer uploads
          }
        });
        var slot = document.querySelector("[data-filters-slot]");
        var freshSlot = doc.querySelector("[data-filters-slot]");
        if (slot && freshSlot) slot.replaceWith(document.importNode(freshSlot, true));
        if (doc.title) document.title = doc.title;
      })
      .catch(function () {
        batch.forEach(function (item) { if (item.el.isConnected) applyJson(item.el, item.data); });
      });
  }

  function watch(el) {
    if (el.dataset.watching) return;
    el.dataset.watching = "1";
    var url = el.dataset.pollUrl;
    var delay = FIRST_DELAY_MS;
    var started = Date.now();

    function schedule() {
      window.setTimeout(tick, delay + Math.random() * 150);  // jitter: many pending rows do not ask in lockstep
      delay = Math.min(MAX_DELAY_MS, delay * GROWTH);
    }

    function tick() {
      if (!el.isConnected) return;
      if (document.hidden) {  // a background tab does not poll; it catches up when shown again
        document.addEventListener("visibilitychange", tick, { once: true });
        return;
      }
      fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (response.status === 404) return { gone: true };
          if (response.status === 401 || response.status === 403) return { signedOut: true };
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.json();
        })
        .then(function (data) {
          if (data.gone) {
            note(el, "This photo is no longer here: it was deleted.");
            finished(el, "gone");
          } else if (data.signedOut) {
            note(el, "You are signed out. Log in again to see the answer.");
            finished(el, "signed-out");
          } else if (data.status && data.status !== "pending") {
            refresh(el, data);
          } else {
            if (Date.now() - started > SLOW_AFTER_MS) el.classList.add("is-slow");
            schedule();
          }
        })
        .catch(schedule);  // offline, or the server is restarting: keep asking, less often
    }

    schedule();
  }

  function watchAll(root) {
    (root || document).querySelectorAll(PENDING).forEach(watch);
  }

  window.catdog = window.catdog || {};
  window.catdog.watchPending = watchAll;
  watchAll(document);
})();
