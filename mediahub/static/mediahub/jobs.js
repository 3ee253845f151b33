/* Live progress of mediahub's jobs: polls the admin's small JSON endpoint (no reload). */
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="mediahub-jobs-progress"]');
  if (!meta) { return; }
  var url = meta.content;
  var FINISHED = ["succeeded", "failed", "cancelled"];

  function pending() {
    return Array.prototype.filter.call(
      document.querySelectorAll("[data-mediahub-job]"),
      function (el) { return FINISHED.indexOf(el.dataset.state) === -1; }
    );
  }

  function update(el, job) {
    el.dataset.state = job.state;
    var bar = el.querySelector("progress");
    if (bar) {
      if (job.percent === null) { bar.removeAttribute("value"); } else { bar.value = job.percent; }
    }
    var text = el.querySelector(".mediahub-job-text");
    if (text) { text.textContent = job.text; }
    var state = document.querySelectorAll('[data-mediahub-job-state="' + el.dataset.mediahubJob + '"]');
    Array.prototype.forEach.call(state, function (s) { s.textContent = job.state_display; });
  }

  function poll() {
    var els = pending();
    if (!els.length) { return; }
    var ids = els.map(function (el) { return el.dataset.mediahubJob; });
    fetch(url + "?ids=" + encodeURIComponent(ids.join(",")), {
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (data) {
      if (data) {
        els.forEach(function (el) {
          var job = data.jobs[el.dataset.mediahubJob];
          if (job) { update(el, job); }
        });
      }
    }).catch(function () { /* the next poll tries again */ }).then(function () {
      window.setTimeout(poll, 1000);
    });
  }

  window.setTimeout(poll, 1000);
}());
