/* Elder mode (长辈版, after 工信部《互联网网站适老化通用设计规范》, 2021): larger text and
   targets, higher contrast and a shorter report form. Loaded in <head> of the resident
   pages, before the body is drawn, so the class on <html> is there at first paint (no
   flash of small text); the choice is remembered on this device (localStorage). The
   header's switch is a toggle button (aria-pressed); pages that change more than their
   look listen for the "gg:elder" event. No pop-ups, no reload. */
"use strict";
(function () {
  var KEY = "gridgov.elder";
  var root = document.documentElement;

  function remembered() {
    try { return localStorage.getItem(KEY) === "1"; } catch (e) { return false; }
  }

  function apply(on) {
    if (on) { root.classList.add("elder"); } else { root.classList.remove("elder"); }
  }

  apply(remembered());
  // The pages' scripts ask through this (window.gg is made later, by common.js).
  window.ggElder = { on: function () { return root.classList.contains("elder"); } };

  function wire() {
    var button = document.getElementById("elder-switch");
    if (!button) { return; }
    var show = function () { button.setAttribute("aria-pressed", String(window.ggElder.on())); };
    show();
    button.addEventListener("click", function () {
      var on = !window.ggElder.on();
      try { localStorage.setItem(KEY, on ? "1" : "0"); } catch (e) { /* still on for this page */ }
      apply(on);
      show();
      document.dispatchEvent(new CustomEvent("gg:elder", { detail: { on: on } }));
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", wire);
  } else {
    wire();
  }
})();
