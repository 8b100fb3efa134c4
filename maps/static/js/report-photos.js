/* The report form's photo picker. Each picked file is checked against the server's limits
   (page config `limits`): its size, and its real type read from its first bytes (as the
   server does), so a renamed PDF or an iPhone HEIC is caught before anything is sent.
   Accepted photos are previewed with a remove button; refused ones stay listed with the
   reason until removed, so a report is never sent without a photo the resident meant to
   attach. */
"use strict";
gg.photoPicker = function (input, list, limits, showError) {
  var t = gg.t;
  var MB = 1048576;
  var items = [];  // {file, url (accepted only), problem ("" when accepted)}

  function sniff(file) {
    return file.slice(0, 12).arrayBuffer().then(function (buffer) {
      var b = new Uint8Array(buffer);
      var ascii = function (from, to) { return String.fromCharCode.apply(null, b.subarray(from, to)); };
      if (b[0] === 0xFF && b[1] === 0xD8 && b[2] === 0xFF) { return "image/jpeg"; }
      if (ascii(0, 8) === "\x89PNG\r\n\x1a\n") { return "image/png"; }
      if (ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP") { return "image/webp"; }
      if (ascii(4, 8) === "ftyp") { return "heif"; }
      if (ascii(0, 4) === "GIF8") { return "gif"; }
      return "";
    });
  }

  /* "" when the server would take the file, else the reason in the page's language. */
  function problemOf(file) {
    var values = { name: file.name, mb: limits.maxPhotoMb };
    if (file.size > limits.maxPhotoMb * MB) {
      return Promise.resolve(gg.format(t.rep_photo_too_big, values));
    }
    var wrongType = gg.format(t.rep_photo_wrong_type, values);
    return sniff(file).then(function (kind) {
      if (limits.photoTypes.indexOf(kind) >= 0) { return ""; }
      if (kind === "heif" || /\.hei[cf]$/i.test(file.name)) { return gg.format(t.rep_photo_heic, values); }
      if (kind === "gif") { return gg.format(t.rep_photo_gif, values); }
      return wrongType;
    }, function () { return wrongType; });
  }

  function removeAt(index) {
    var gone = items.splice(index, 1)[0];
    if (gone.url) { URL.revokeObjectURL(gone.url); }
    render();
    showError(problem());
    // Keep the keyboard where it was: the next remove button, else the file input.
    var buttons = list.querySelectorAll("button");
    (buttons[Math.min(index, buttons.length - 1)] || input).focus();
  }

  function render() {
    list.textContent = "";
    items.forEach(function (item, i) {
      var values = { n: i + 1, name: item.file.name };
      var li = document.createElement("li");
      li.className = item.problem ? "photo-item refused" : "photo-item";
      if (item.problem) {
        var reason = document.createElement("span");
        reason.className = "photo-problem";
        reason.textContent = item.problem;
        li.appendChild(reason);
      } else {
        var img = document.createElement("img");
        img.src = item.url;
        img.alt = gg.format(t.rep_photo_alt, values);
        li.appendChild(img);
      }
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "secondary";
      remove.textContent = t.rep_photo_remove;
      remove.setAttribute("aria-label", gg.format(t.rep_photo_remove_label, values));
      remove.addEventListener("click", function () { removeAt(i); });
      li.appendChild(remove);
      list.appendChild(li);
    });
    list.hidden = items.length === 0;
  }

  /* Why the photos cannot be sent as they are ("" when they can). */
  function problem() {
    if (items.some(function (item) { return item.problem; })) { return t.rep_photo_remove_bad; }
    if (items.length > limits.maxPhotos) { return gg.format(t.rep_photo_too_many, { n: limits.maxPhotos }); }
    return "";
  }

  input.addEventListener("change", function () {
    var picked = Array.prototype.slice.call(input.files);
    input.value = "";  // the list below is what is sent; the same file may be picked again
    var room = Math.max(0, limits.maxPhotos - items.length);
    var overflow = picked.length > room;
    picked = picked.slice(0, room);
    Promise.all(picked.map(problemOf)).then(function (problems) {
      picked.forEach(function (file, i) {
        items.push({ file: file, problem: problems[i],
                     url: problems[i] ? null : URL.createObjectURL(file) });
      });
      render();
      var messages = problems.filter(Boolean);
      if (overflow) { messages.push(gg.format(t.rep_photo_too_many, { n: limits.maxPhotos })); }
      showError(messages.join(" "));
    });
  });
  render();

  return {
    /* The accepted photos, in the order they were added. */
    files: function () {
      return items.filter(function (item) { return !item.problem; })
                  .map(function (item) { return item.file; });
    },
    problem: problem,
    clear: function () {
      items.forEach(function (item) { if (item.url) { URL.revokeObjectURL(item.url); } });
      items = [];
      render();
    }
  };
};
