// Live updates by short polling: fetch this very page every few seconds and swap its <main>,
// so what the server renders is the one source of truth. Stops while the tab is hidden.
(function () {
  "use strict";
  var main = document.getElementById("main");
  var badge = document.getElementById("live");
  if (!main) { return; }
  var every = (parseFloat(main.getAttribute("data-refresh")) || 2) * 1000;
  function refresh() {
    if (document.hidden) { return; }
    var url = window.location.pathname + (window.location.search ? window.location.search + "&" : "?") + "fragment=main";
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.text();
      })
      .then(function (html) {
        main.innerHTML = html;
        badge.textContent = "live";
        badge.className = "live";
      })
      .catch(function () {
        badge.textContent = "offline";
        badge.className = "live live-off";
      });
  }
  window.setInterval(refresh, every);
})();
