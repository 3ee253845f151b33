// Fetch one public media file from the bucket: works only when the bucket's CORS
// rules allow this site's origin (see `manage.py mediahub_cors`).
(function () {
  const target = document.getElementById("cors-result");
  if (!target) return;
  fetch(target.dataset.url, { mode: "cors" })
    .then((response) => {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.json();
    })
    .then((data) => {
      target.textContent = "CORS works: " + data.message;
      target.dataset.state = "ok";
    })
    .catch((error) => {
      target.textContent = "CORS fetch failed (" + error.message + "): run manage.py mediahub_cors --apply";
      target.dataset.state = "failed";
    });
})();
