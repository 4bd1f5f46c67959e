/* The progress bar of a long job (a subsidy run computing, a report being
   generated): asks the panel's progress URL every second, moves the bar and
   its text, and reloads the page once the job has finished (done or failed),
   so the page shows the result or the error.

   The URL answers JSON {done, total, percent, finished, stage}; the panel's
   data-progress-template places them in the text ("{done} / {total}",
   "{percent}", "{stage}"). */
(function () {
  "use strict";

  var INTERVAL = 1000;

  function start(panel) {
    var url = panel.getAttribute("data-progress-url");
    var template = panel.getAttribute("data-progress-template") || "{percent}%";
    var bar = panel.querySelector("progress");
    var text = panel.querySelector("[data-progress-text]");
    var failures = 0;

    function show(data) {
      if (bar) {
        bar.max = Math.max(data.total, 1);
        bar.value = data.done;
        bar.textContent = data.percent + "%";
      }
      if (text) {
        text.textContent = template
          .replace("{done}", data.done)
          .replace("{total}", data.total)
          .replace("{percent}", data.percent)
          .replace("{stage}", data.stage || "");
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
          if (data.finished) {
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
    var panels = document.querySelectorAll("[data-progress-url]");
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
