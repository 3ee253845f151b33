/* Pending thumbnails: swap the placeholder for the thumbnail once a worker has made it.
 *
 * An <img data-mediahub-thumbnail="pending"> points at mediahub's thumbnail endpoint
 * with ?pending=1: the endpoint answers the placeholder (202) while the thumbnail is
 * being made and a redirect to it once it exists. This script asks again with growing
 * pauses (1 s, 2 s, 4 s, ... at most 30 s, for about 5 minutes) and, when the answer is
 * the redirect, reloads the image. Images added later (a new page of the grid) are
 * found by calling window.mediahubThumbnails.watch(root).
 */
(function () {
  "use strict";
  var FIRST = 1000, LONGEST = 30000, GIVE_UP = 5 * 60 * 1000;

  function poll(img, delay, started) {
    var url = img.getAttribute("src");
    fetch(url, {redirect: "manual", credentials: "same-origin", cache: "no-store"})
      .then(function (response) {
        if (response.type === "opaqueredirect" || (response.status >= 300 && response.status < 400)) {
          img.setAttribute("data-mediahub-thumbnail", "ready");
          img.src = url + (url.indexOf("?") < 0 ? "?" : "&") + "ready=" + Date.now();
        } else if (response.status === 202 || response.status === 503) {
          again(img, delay, started);
        } else {
          img.setAttribute("data-mediahub-thumbnail", "failed");
        }
      })
      .catch(function () { again(img, delay, started); });
  }

  function again(img, delay, started) {
    if (Date.now() - started > GIVE_UP) {
      img.setAttribute("data-mediahub-thumbnail", "timeout");
      return;
    }
    window.setTimeout(function () { poll(img, Math.min(delay * 2, LONGEST), started); }, delay);
  }

  function watch(root) {
    // Marked images, and any image whose URL is a pending thumbnail's (?pending=1).
    var images = (root || document).querySelectorAll(
      'img[data-mediahub-thumbnail="pending"], img[src*="/t/"][src*="pending=1"]:not([data-mediahub-thumbnail])'
    );
    Array.prototype.forEach.call(images, function (img) {
      img.setAttribute("data-mediahub-thumbnail", "polling");
      again(img, FIRST, Date.now());
    });
  }

  window.mediahubThumbnails = {watch: watch};
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { watch(document); });
  } else {
    watch(document);
  }
})();
