/* Selects the whole value of a field marked data-select-on-focus when it
   gets focus (the API key shown once), ready to copy. A file rather than an
   onfocus attribute: the Content Security Policy refuses inline script. */
(function () {
  "use strict";

  function init() {
    var fields = document.querySelectorAll("[data-select-on-focus]");
    for (var i = 0; i < fields.length; i += 1) {
      fields[i].addEventListener("focus", function (event) {
        event.target.select();
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
