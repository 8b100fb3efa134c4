/* The report form on a self-service terminal (政务服务一体机, issue 18), /kiosk or
   /report?kiosk=1: touch only, no sign-in, no links out of the flow (kiosk.css hides the
   header's). After gg.config.kiosk.idleSeconds without input a warning counts down the
   last warnSeconds, then the page starts over: a fresh load of the start page, so nothing
   typed, chosen or answered (the tracking number, the 查询码) stays on screen or in
   memory; the device's storage keeps nothing of one visitor for the next. The result is a
   receipt to print (window.print, kiosk.css's print rules). */
"use strict";
(function () {
  var cfg = gg.config.kiosk;
  if (!cfg) { return; }
  var t = gg.t;
  var TICK_MS = 250;
  var warning = document.getElementById("kiosk-warning");
  var warningText = document.getElementById("kiosk-warning-text");
  var seconds = document.getElementById("kiosk-seconds");
  var lastInput = Date.now();
  var touched = false;  // an untouched start page has nothing to clear
  var leaving = false;

  /* What another page may have kept on this device about a visitor: report secrets
     (gridgov.report.<number>), the elder switch; and the tab's session storage. */
  function forgetVisitor() {
    try {
      for (var i = localStorage.length - 1; i >= 0; i--) {
        var key = localStorage.key(i);
        if (key && (key.indexOf("gridgov.report.") === 0 || key === "gridgov.elder")) {
          localStorage.removeItem(key);
        }
      }
      sessionStorage.clear();
    } catch (e) { /* storage off: nothing kept either */ }
  }

  function startOver() {
    if (leaving) { return; }
    leaving = true;
    forgetVisitor();
    document.getElementById("report-form").reset();
    // A new navigation, not a reload or a history step: the browser restores no field.
    location.replace(cfg.home + "&lang=" + encodeURIComponent(gg.config.lang));
  }

  function hideWarning() {
    if (warning.hidden) { return; }
    warning.hidden = true;
    warningText.textContent = "";
    seconds.textContent = "";
  }

  function showWarning(left) {
    if (warning.hidden) {
      warning.hidden = false;
      // Said once (role=alert); the big number below counts down for the eye.
      warningText.textContent = gg.format(t.ksk_warning, { s: cfg.warnSeconds });
    }
    seconds.textContent = gg.format(t.ksk_seconds, { s: left });
  }

  function input() {
    touched = true;
    lastInput = Date.now();
    hideWarning();
  }

  function tick() {
    if (!touched || leaving) { return; }
    var left = Math.ceil(cfg.idleSeconds - (Date.now() - lastInput) / 1000);
    if (left <= 0) { startOver(); } else if (left <= cfg.warnSeconds) { showWarning(left); }
  }

  forgetVisitor();
  // Autofill would offer the previous visitor's phone and words.
  document.querySelectorAll("input, textarea").forEach(function (el) {
    el.setAttribute("autocomplete", "off");
  });
  ["pointerdown", "keydown", "input", "change", "wheel", "touchstart"].forEach(function (type) {
    document.addEventListener(type, input, { capture: true, passive: true });
  });
  setInterval(tick, TICK_MS);
  document.getElementById("kiosk-stay").addEventListener("click", input);
  document.getElementById("kiosk-restart").addEventListener("click", startOver);
  document.getElementById("kiosk-finish").addEventListener("click", startOver);
  document.getElementById("kiosk-print").addEventListener("click", function () { window.print(); });
})();
