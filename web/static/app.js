// The portal's only script besides htmx: the copy-link buttons, and pausing
// htmx polling while the tab is hidden (the CSP-safe equivalent of an
// hx-trigger filter, which needs eval). Loaded with the page's CSP nonce; no
// inline handlers anywhere.
(function () {
  "use strict";
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest("[data-copy-link]");
    if (!btn) return;
    var link = new URL(btn.getAttribute("data-copy-link") || location.href, location.href).href;
    var done = function (msg) {
      var status = btn.parentElement.querySelector("[data-copy-status]");
      if (status) status.textContent = msg;
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(link).then(function () { done("Link copied"); }, function () { done(link); });
    } else {
      done(link);
    }
  });
  // A polling element's request is skipped while nobody can see it; the
  // next tick after the tab is shown again goes through.
  document.addEventListener("htmx:beforeRequest", function (ev) {
    if (document.visibilityState !== "hidden") return;
    var trigger = ev.detail && ev.detail.elt && ev.detail.elt.getAttribute("hx-trigger");
    if (trigger && trigger.indexOf("every ") === 0) ev.preventDefault();
  });
})();
