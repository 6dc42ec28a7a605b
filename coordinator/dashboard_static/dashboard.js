// Renders every [data-spec] element with the Vega-Lite spec of that name (vendored vega-embed).
(function () {
  "use strict";
  var specs = JSON.parse(document.getElementById("specs").textContent);
  var jobs = [];
  document.querySelectorAll("[data-spec]").forEach(function (element) {
    var spec = specs[element.getAttribute("data-spec")];
    jobs.push(
      vegaEmbed(element, spec, { renderer: "svg", actions: false }).catch(function (error) {
        element.setAttribute("data-failed", String(error));
        element.textContent = String(error);
      })
    );
  });
  Promise.all(jobs).then(function () {
    document.body.setAttribute("data-charts", "ready");
  });
})();
