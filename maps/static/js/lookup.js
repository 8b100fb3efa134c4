/* The tracking-number look-up (the _lookup.html form on / and /track): the number tidied
   as the server tidies it (incidents/following.py canonical_tracking_number: any case,
   spaces, full-width characters, another dash or none, O for 0, I or L for 1), a clear
   message for anything that is not a number, else straight to its tracking page. */
"use strict";
window.gg.lookup = (function () {
  var t = gg.t;
  var CROCKFORD = /^[0-9A-HJKMNP-TV-Z]{8}$/;

  function canonical(typed) {
    var flat = String(typed).normalize("NFKC").replace(/\s+/g, "").toUpperCase()
      .replace(/O/g, "0").replace(/[IL]/g, "1")
      .replace(/[-\u2010-\u2015\u2212\uFF0D_]/g, "");
    if (flat.length !== 14 || !/^[0-9]{6}/.test(flat) || !CROCKFORD.test(flat.slice(6))) {
      return null;
    }
    return flat.slice(0, 6) + "-" + flat.slice(6);
  }

  var form = document.getElementById("lookup");
  if (form) {
    var input = document.getElementById("lookup-number");
    var error = document.getElementById("lookup-error");
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var typed = input.value.trim();
      var number = canonical(typed);
      if (!number) {
        error.textContent = typed ? t.idx_number_invalid : t.idx_number_empty;
        input.setAttribute("aria-invalid", "true");
        input.focus();
        return;
      }
      input.removeAttribute("aria-invalid");
      error.textContent = "";
      window.location.assign("/track/" + encodeURIComponent(number) + "?lang=" + gg.config.lang);
    });
  }
  return { canonical: canonical };
})();
