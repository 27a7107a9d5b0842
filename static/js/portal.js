// Small progressive enhancements; every page works without them.
(function () {
  // "Copy" buttons: data-copy="#selector" copies that input's value.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var input = document.querySelector(button.getAttribute("data-copy"));
    input.select();
    var done = function () { button.textContent = "Copied"; };
    if (navigator.clipboard) { navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy"); done(); }); }
    else { document.execCommand("copy"); done(); }
  });

  // Tables stack into one cell per line on a phone (portal.css); each cell keeps its column's
  // heading as data-label so it still says what it is. Live regions are labelled again after
  // each swap.
  var label = function (root) {
    root.querySelectorAll("table:not(.matrix)").forEach(function (table) {
      var heads = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) { return th.textContent.trim(); });
      if (!heads.length) return;
      table.querySelectorAll("tbody tr").forEach(function (row) {
        Array.prototype.forEach.call(row.children, function (cell, i) {
          if (heads[i] && !cell.hasAttribute("data-label")) cell.setAttribute("data-label", heads[i]);
        });
      });
    });
  };
  label(document);

  // Live regions: data-live-url is fetched every few seconds and its HTML swapped in, so a
  // site admin sees a consent link's state change without reloading.
  document.querySelectorAll("[data-live-url]").forEach(function (region) {
    var url = region.getAttribute("data-live-url");
    var every = parseInt(region.getAttribute("data-live-every") || "3000", 10);
    var tick = function () {
      if (document.hidden) return;
      fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html !== null && html !== region.innerHTML) { region.innerHTML = html; label(region); } })
        .catch(function () {});
    };
    setInterval(tick, every);
  });
})();
