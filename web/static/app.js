// The portal's only script besides htmx: the copy-link buttons. Loaded with
// the page's CSP nonce; no inline handlers anywhere.
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
})();
