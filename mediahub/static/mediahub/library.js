/* Media library uploads: several files at once, with progress.
 *
 * Files below the direct-upload threshold are posted to the site; larger ones go
 * straight from the browser to S3 in multipart chunks through presigned part URLs
 * (the site only starts, signs and completes the upload). A failed direct upload
 * is aborted so no partial object remains. Needs the bucket's CORS rules to allow
 * PUT from this origin and to expose the ETag header.
 */
(function () {
  "use strict";

  var PARTS_PER_BATCH = 10;
  var PART_TRIES = 3;

  function init() {
    var form = document.getElementById("mediahub-upload");
    if (!form || !window.fetch) {
      return;
    }
    var progressList = document.getElementById("mediahub-progress");
    var csrf = form.querySelector("[name=csrfmiddlewaretoken]").value;
    var path = form.querySelector("[name=path]").value;
    var input = form.querySelector("input[type=file]");
    var submit = form.querySelector("[type=submit]");
    var direct = form.dataset.direct === "1";
    var threshold = Number(form.dataset.threshold);
    var maxSize = Number(form.dataset.maxSize);

    function postJSON(url, data) {
      return fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          "Accept": "application/json",
          "X-CSRFToken": csrf
        },
        body: JSON.stringify(data)
      }).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          if (!response.ok) {
            throw new Error(body.error || ("HTTP " + response.status));
          }
          return body;
        });
      });
    }

    function addItem(file) {
      var li = document.createElement("li");
      var name = document.createElement("span");
      var bar = document.createElement("progress");
      var status = document.createElement("span");
      name.textContent = file.name;
      bar.max = 100;
      bar.value = 0;
      bar.setAttribute("aria-label", file.name);
      li.appendChild(name);
      li.appendChild(bar);
      li.appendChild(status);
      progressList.appendChild(li);
      return {
        progress: function (fraction) { bar.value = Math.round(Math.min(1, fraction) * 100); },
        done: function (stored) {
          bar.value = 100;
          status.className = "mediahub-ok";
          status.textContent = stored === file.name ? "\u2713" : "\u2713 \u2192 " + stored;
          li.dataset.state = "done";
        },
        fail: function (message) {
          status.className = "mediahub-failed";
          status.textContent = message;
          li.dataset.state = "failed";
        }
      };
    }

    function simpleUpload(file, item) {
      return new Promise(function (resolve, reject) {
        var data = new FormData();
        data.append("csrfmiddlewaretoken", csrf);
        data.append("path", path);
        data.append("files", file);
        var xhr = new XMLHttpRequest();
        xhr.open("POST", form.action);
        xhr.setRequestHeader("Accept", "application/json");
        xhr.setRequestHeader("X-CSRFToken", csrf);
        xhr.upload.onprogress = function (event) {
          if (event.lengthComputable) { item.progress(event.loaded / event.total); }
        };
        xhr.onload = function () {
          var body = {};
          try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
          if (xhr.status >= 400 || (body.errors && body.errors.length)) {
            reject(new Error((body.errors && body.errors[0]) || ("HTTP " + xhr.status)));
          } else {
            resolve(body.files[0].stored_as);
          }
        };
        xhr.onerror = function () { reject(new Error("network error")); };
        xhr.send(data);
      });
    }

    function putPart(url, blob, onProgress) {
      return new Promise(function (resolve, reject) {
        var xhr = new XMLHttpRequest();
        xhr.open("PUT", url);
        xhr.upload.onprogress = function (event) { onProgress(event.loaded); };
        xhr.onload = function () {
          var etag = xhr.getResponseHeader("ETag");
          if (xhr.status >= 200 && xhr.status < 300 && etag) {
            resolve(etag);
          } else if (xhr.status < 300) {
            reject(new Error("S3 did not expose the part's ETag (check the bucket's CORS rules)"));
          } else {
            reject(new Error("S3 answered HTTP " + xhr.status));
          }
        };
        xhr.onerror = function () { reject(new Error("network error (CORS?)")); };
        xhr.send(blob);
      });
    }

    function putPartWithRetry(url, blob, onProgress, tries) {
      return putPart(url, blob, onProgress).catch(function (error) {
        if (tries <= 1) { throw error; }
        return putPartWithRetry(url, blob, onProgress, tries - 1);
      });
    }

    async function directUpload(file, item) {
      var started = await postJSON(form.dataset.startUrl, {
        path: path, filename: file.name, size: file.size, type: file.type
      });
      var token = started.token;
      var partSize = started.part_size;
      var etags = [];
      var sent = 0;
      try {
        for (var first = 1; first <= started.parts; first += PARTS_PER_BATCH) {
          var numbers = [];
          for (var n = first; n < first + PARTS_PER_BATCH && n <= started.parts; n++) {
            numbers.push(n);
          }
          var signed = await postJSON(form.dataset.partsUrl, { token: token, parts: numbers });
          for (var i = 0; i < numbers.length; i++) {
            var number = numbers[i];
            var blob = file.slice((number - 1) * partSize, Math.min(number * partSize, file.size));
            var etag = await putPartWithRetry(signed.urls[String(number)], blob, function (loaded) {
              item.progress((sent + loaded) / file.size);
            }, PART_TRIES);
            sent += blob.size;
            etags.push({ PartNumber: number, ETag: etag });
          }
        }
        var done = await postJSON(form.dataset.completeUrl, {
          token: token, parts: etags, filename: file.name
        });
        return done.files[0].stored_as;
      } catch (error) {
        await postJSON(form.dataset.abortUrl, { token: token }).catch(function () {});
        throw error;
      }
    }

    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      var files = Array.prototype.slice.call(input.files);
      if (!files.length) {
        input.focus();
        return;
      }
      submit.disabled = true;
      var failures = 0;
      for (var i = 0; i < files.length; i++) {
        var file = files[i];
        var item = addItem(file);
        try {
          if (file.size > maxSize) {
            throw new Error("larger than the upload limit");
          }
          var stored = direct && file.size >= threshold
            ? await directUpload(file, item)
            : await simpleUpload(file, item);
          item.done(stored.split("/").pop());
        } catch (error) {
          failures += 1;
          item.fail(error.message);
        }
      }
      submit.disabled = false;
      form.reset();
      progressList.dataset.finished = String(files.length);
      if (!failures) {
        window.location.reload();
      } else {
        var li = document.createElement("li");
        var link = document.createElement("a");
        link.href = window.location.href;
        link.textContent = progressList.dataset.refreshLabel || "Refresh the listing";
        li.appendChild(link);
        progressList.appendChild(li);
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
