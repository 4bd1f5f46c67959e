/* The progress bar of a subsidy run that is computing: asks the run's
   progress URL every second, moves the bar and its text, and reloads the
   page once the run is no longer computing (computed, failed, cancelled),
   so the page shows the figures or the error. */
(function () {
  "use strict";

  var INTERVAL = 1000;

  function start(panel) {
    var url = panel.getAttribute("data-progress-url");
    var template = panel.getAttribute("data-progress-template") || "{done} / {total}";
    var bar = panel.querySelector("progress");
    var text = panel.querySelector("[data-progress-text]");
    var failures = 0;

    function show(data) {
      if (bar) {
        bar.max = Math.max(data.parts_total, 1);
        bar.value = data.parts_done;
        bar.textContent = data.percent + "%";
      }
      if (text) {
        text.textContent = template
          .replace("{done}", data.parts_done)
          .replace("{total}", data.parts_total)
          .replace("{percent}", data.percent);
      }
    }

    function poll() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("HTTP " + response.status);
          }
          return response.json();
        })
        .then(function (data) {
          failures = 0;
          show(data);
          if (data.state !== "computing") {
            window.location.reload();
            return;
          }
          window.setTimeout(poll, INTERVAL);
        })
        .catch(function () {
          // A dropped request or a restarting server: ask again, less often.
          failures += 1;
          window.setTimeout(poll, INTERVAL * Math.min(failures + 1, 10));
        });
    }

    window.setTimeout(poll, INTERVAL);
  }

  function init() {
    var panels = document.querySelectorAll("[data-run-progress]");
    for (var i = 0; i < panels.length; i += 1) {
      start(panels[i]);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
