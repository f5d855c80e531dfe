/* The review queue's keyboard (admin/classifier/review/queue.html lists the keys): j/k move between items,
   a/r/s press the current item's Accept, Reject or Skip button, 1-9 and 0 choose its label, x selects it for the
   bulk accept. The buttons post their forms as they do without this script; after a decision the page comes back
   at the next item (#item-<id>), which becomes the current one. */
(function () {
  "use strict";

  var items = Array.prototype.slice.call(document.querySelectorAll("[data-review-item]"));
  var selectAll = document.querySelector("[data-select-all]");
  if (selectAll) {
    selectAll.addEventListener("change", function () {
      document.querySelectorAll("[data-select]:not(:disabled)").forEach(function (box) { box.checked = selectAll.checked; });
    });
  }
  if (!items.length) return;

  var current = null;
  function setCurrent(item, scroll) {
    if (current) current.classList.remove("current");
    current = item;
    current.classList.add("current");
    current.focus({ preventScroll: !scroll });
    if (scroll) current.scrollIntoView({ block: "nearest" });
  }

  var target = location.hash && document.getElementById(location.hash.slice(1));
  setCurrent(target && items.indexOf(target) >= 0 ? target : items[0], Boolean(target));

  items.forEach(function (item) {
    item.addEventListener("click", function () { if (item !== current) setCurrent(item, false); });
  });

  function move(step) {
    var next = items[items.indexOf(current) + step];
    if (next) setCurrent(next, true);
  }

  function typing(element) {
    return element && (element.tagName === "INPUT" && !/^(checkbox|radio)$/.test(element.type) ||
      element.tagName === "TEXTAREA" || element.tagName === "SELECT" || element.isContentEditable);
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    var key = event.key;
    if (key === "j") move(1);
    else if (key === "k") move(-1);
    else if (key === "a" || key === "r" || key === "s") {
      var button = current.querySelector('[data-shortcut="' + key + '"]');
      if (button) button.click();
    } else if (/^[0-9]$/.test(key)) {
      var option = current.querySelector('input[type="radio"][data-key="' + key + '"]');
      if (option) option.checked = true;
    } else if (key === "x") {
      var box = current.querySelector("[data-select]:not(:disabled)");
      if (box) box.checked = !box.checked;
    } else return;
    event.preventDefault();
  });
})();
