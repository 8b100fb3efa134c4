/* /docs and /redoc: start Swagger UI or Redoc on this server's OpenAPI definition. The
   page's JSON config says which and where (no inline script: the CSP forbids it). */
"use strict";
(function () {
  var config = JSON.parse(document.getElementById("page-config").textContent);
  var t = config.strings;
  var target = document.getElementById("docs-ui");

  function failed(err) {
    var p = document.createElement("p");
    p.className = "docs-alert";
    p.setAttribute("role", "alert");
    p.lang = config.lang;  // the viewer's box is marked English; this text is not
    p.textContent = t.docs_failed + (err && err.message ? err.message : String(err));
    target.replaceChildren(p);
  }

  /* Redoc's menu footer always shows Redocly's logo from cdn.redoc.ly (no option turns
     it off). Nothing on these pages comes from elsewhere, and the CSP would block it
     with a console error, so that one image's URL is never set (React sets it as a
     property, other code may use the attribute); CSS hides the empty image. */
  function dropRedoclyLogo() {
    var ELSEWHERE = "https://cdn.redoc.ly/";
    var dropped = function (img, value) {
      if (String(value).indexOf(ELSEWHERE) !== 0) { return false; }
      img.classList.add("docs-dropped-logo");
      return true;
    };
    var src = Object.getOwnPropertyDescriptor(HTMLImageElement.prototype, "src");
    Object.defineProperty(HTMLImageElement.prototype, "src", {
      configurable: true, enumerable: src.enumerable, get: src.get,
      set: function (value) { if (!dropped(this, value)) { src.set.call(this, value); } }
    });
    var setAttribute = Element.prototype.setAttribute;
    Element.prototype.setAttribute = function (name, value) {
      if (this instanceof HTMLImageElement && String(name).toLowerCase() === "src" &&
          dropped(this, value)) { return; }
      return setAttribute.call(this, name, value);
    };
  }

  /* Swagger UI leaves two controls without a name: the request body's editor under
     "Try it out" and the Authorize dialog's close button (an icon). Name them as the
     viewer draws them. */
  function nameSwaggerControls() {
    var name = function (selector, label) {
      target.querySelectorAll(selector).forEach(function (el) {
        el.setAttribute("aria-label", label);
      });
    };
    new MutationObserver(function () {
      name("textarea.body-param__text:not([aria-label])", "Request body");
      name("button.close-modal:not([aria-label])", "Close");
    }).observe(target, { subtree: true, childList: true });
  }

  if (config.ui === "swagger") {
    if (!window.SwaggerUIBundle) { failed("swagger-ui-bundle.js"); return; }
    nameSwaggerControls();
    window.SwaggerUIBundle({
      url: config.openapiUrl,
      domNode: target,
      // BaseLayout: no top bar with a URL box for loading other definitions.
      layout: "BaseLayout",
      // Off: its links sit inside each operation's expand button (nested controls, which
      // screen readers cannot reach); operations are still listed and opened by tag.
      deepLinking: false,
      showExtensions: true,
      showCommonExtensions: true,
      // The default asks validator.swagger.io about the definition: nothing leaves here.
      validatorUrl: null,
      oauth2RedirectUrl: window.location.origin + config.oauth2RedirectUrl,
      presets: [window.SwaggerUIBundle.presets.apis],
      onComplete: function () { document.body.setAttribute("data-ready", "true"); }
    });
  } else {
    if (!window.Redoc) { failed("redoc.standalone.js"); return; }
    dropRedoclyLogo();
    window.Redoc.init(config.openapiUrl, {
      // The bar above scrolls away with the page; nothing is fixed on top of Redoc.
      scrollYOffset: 0,
      hideDownloadButton: false
    }, target, function (err) {
      if (err) { failed(err); return; }
      document.body.setAttribute("data-ready", "true");
    });
  }
})();
