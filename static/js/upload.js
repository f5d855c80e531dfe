/* Upload page: drag and drop anywhere on the page, previews of the chosen photos, early warnings.
   The server checks every file again; without this script the plain file input does the same job. */
(function () {
  "use strict";

  var form = document.querySelector("[data-upload-form]");
  if (!form) return;
  var input = form.querySelector('input[type="file"]');
  var zone = form.querySelector("[data-dropzone]");
  var list = form.querySelector("[data-file-list]");
  var summary = form.querySelector("[data-file-summary]");
  var submitLabel = form.querySelector("[data-upload-submit] [data-button-label]");
  if (!input || !zone || !list) return;

  var maxBytes = parseInt(zone.dataset.maxBytes || "0", 10);
  // The file input carries the server's limit (classifier/forms.py); the drop zone too, for old pages.
  var maxFiles = parseInt(input.dataset.maxFiles || zone.dataset.maxFiles || "0", 10);
  var accepted = (input.getAttribute("accept") || "").split(",").map(function (s) { return s.trim(); }).filter(Boolean);
  var previewUrls = [];

  // Same units as Django's filesizeformat, so the page and the server's messages agree.
  function formatSize(bytes) {
    if (bytes < 1024) return bytes + " bytes";
    if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(1).replace(/\.0$/, "") + " KB";
    return (bytes / 1024 / 1024).toFixed(1).replace(/\.0$/, "") + " MB";
  }

  function make(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  var IMAGE_NAME = /\.(jpe?g|png|webp|bmp|gif)$/i;
  // Files the browser could not show although their name and type say image: the server will refuse them too.
  var unreadable = typeof WeakSet === "function" ? new WeakSet() : null;

  function problemWith(file) {
    if (unreadable && unreadable.has(file)) return "Not a readable image: it may be damaged, or not a photo at all";
    var typeKnown = !!file.type;
    if ((typeKnown && accepted.length && accepted.indexOf(file.type) === -1) || (!typeKnown && !IMAGE_NAME.test(file.name))) {
      return "Not a JPEG, PNG, WebP, BMP or GIF image";
    }
    if (maxBytes && file.size > maxBytes) return "Over the " + formatSize(maxBytes) + " limit";
    if (file.size === 0) return "Empty file";
    return "";
  }

  function render() {
    previewUrls.forEach(function (url) { URL.revokeObjectURL(url); });
    previewUrls = [];
    list.textContent = "";
    var files = Array.prototype.slice.call(input.files || []);
    var total = 0;
    var problems = 0;

    files.forEach(function (file, index) {
      total += file.size;
      var problem = problemWith(file);
      var item = make("li", "file-item");
      var thumb;
      if (!problem && file.type.indexOf("image/") === 0) {
        var url = URL.createObjectURL(file);
        previewUrls.push(url);
        thumb = make("img");
        thumb.alt = "";
        // No broken-image icon: a file that does not decode is shown as a problem instead.
        thumb.addEventListener("error", function () {
          if (!unreadable || !this.isConnected) return;  // a preview replaced meanwhile (its URL revoked)
          unreadable.add(file);
          render();
        });
        thumb.src = url;
      } else {
        thumb = make("span", "file-thumb");
      }
      var text = make("span", "file-text");
      text.appendChild(make("span", "file-name", file.name));
      text.appendChild(make("span", "file-size", formatSize(file.size)));
      if (problem) {
        problems += 1;
        item.classList.add("is-invalid");
        text.appendChild(make("span", "file-problem", problem));
      }
      item.appendChild(thumb);
      item.appendChild(text);
      if (canEditFiles) {
        var remove = make("button", "file-remove", "×");
        remove.type = "button";
        remove.setAttribute("aria-label", "Remove " + file.name);
        remove.dataset.index = String(index);
        item.appendChild(remove);
      }
      list.appendChild(item);
    });

    var parts = [];
    if (files.length) parts.push(files.length + (files.length === 1 ? " photo" : " photos") + ", " + formatSize(total));
    if (tooMany(files)) parts.push(tooManyMessage());
    if (problems) {
      parts.push(problems === 1 ? "1 cannot be uploaded: remove it to send the rest" : problems + " cannot be uploaded: remove them to send the rest");
    }
    if (summary) summary.textContent = parts.join(" · ");
    if (submitLabel) {
      submitLabel.textContent = files.length > 1 ? "Classify " + files.length + " photos" : files.length === 1 ? "Classify photo" : "Classify photos";
    }
  }

  // The same sentence as the server's (classifier/forms.py), so the page reads the same either way.
  function tooManyMessage() {
    return "Upload at most " + maxFiles + " photos at once.";
  }

  function tooMany(files) {
    return !!maxFiles && files.length > maxFiles;
  }

  input.addEventListener("change", render);

  // Too many photos are never sent: the server would refuse them all, after the whole upload.
  form.addEventListener("submit", function (event) {
    var files = input.files || [];
    if (!tooMany(files)) return;
    event.preventDefault();
    event.stopPropagation();  // no busy spinner (static/js/app.js) for a form that is not sent
    if (summary) {
      summary.setAttribute("role", "alert");
      summary.textContent = "Nothing was sent: you chose " + files.length + " photos. " + tooManyMessage();
    }
  });

  // A file input's list cannot be edited in place, but it can be replaced by a new one without the removed file.
  var canEditFiles = (function () {
    try { return typeof DataTransfer === "function" && !!new DataTransfer().items; } catch (e) { return false; }
  })();

  list.addEventListener("click", function (event) {
    var button = event.target.closest(".file-remove");
    if (!button) return;
    var keep = new DataTransfer();
    Array.prototype.forEach.call(input.files, function (file, index) {
      if (String(index) !== button.dataset.index) keep.items.add(file);
    });
    input.files = keep.files;
    render();
    var next = list.querySelector(".file-remove") || input;
    next.focus();
  });

  // Drops anywhere on the page land in the input; without this a dropped photo would replace the page.
  var depth = 0;
  function hasFiles(event) {
    var types = event.dataTransfer && event.dataTransfer.types;
    return !!types && Array.prototype.indexOf.call(types, "Files") !== -1;
  }
  document.addEventListener("dragenter", function (event) {
    if (!hasFiles(event)) return;
    depth += 1;
    zone.classList.add("is-dragover");
  });
  document.addEventListener("dragleave", function (event) {
    if (!hasFiles(event)) return;
    depth = Math.max(0, depth - 1);
    if (depth === 0) zone.classList.remove("is-dragover");
  });
  document.addEventListener("dragover", function (event) {
    if (!hasFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  });
  document.addEventListener("drop", function (event) {
    if (!hasFiles(event)) return;
    event.preventDefault();
    depth = 0;
    zone.classList.remove("is-dragover");
    if (event.dataTransfer.files.length) {
      input.files = event.dataTransfer.files;
      render();
    }
  });

  // The browser may restore the chosen files after Back/Forward: show them.
  window.addEventListener("pageshow", render);
  render();
})();
