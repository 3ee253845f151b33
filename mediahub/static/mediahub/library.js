/* Media library uploads: several files at once, per-file progress, cancel and retry,
 * drag-and-drop of files and folders (folders keep their structure).
 *
 * Files below the direct-upload threshold are posted to the site; larger ones go
 * straight from the browser to S3 in multipart chunks through presigned part URLs
 * (the site only starts, signs and completes the upload). A failed or cancelled
 * direct upload is aborted so no partial object remains. Needs the bucket's CORS
 * rules to allow PUT from this origin and to expose the ETag header.
 * Strings come from the library's JavaScript catalog (gettext()).
 */
(function () {
  "use strict";

  var PARTS_PER_BATCH = 10;
  var PART_TRIES = 3;
  var PARALLEL = 3;
  var t = window.gettext || function (s) { return s; };
  var fmt = window.interpolate || function (s, o) {
    return s.replace(/%\((\w+)\)s/g, function (_m, k) { return o[k]; });
  };

  function Cancelled() { this.message = t("Cancelled"); this.cancelled = true; }

  function init() {
    var form = document.getElementById("mediahub-upload");
    if (!form || !window.fetch) {
      return;
    }
    var progressList = document.getElementById("mediahub-progress");
    var csrf = form.querySelector("[name=csrfmiddlewaretoken]").value;
    var basePath = form.querySelector("[name=path]").value;
    var input = form.querySelector("input[type=file]");
    var submit = form.querySelector("[type=submit]");
    var direct = form.dataset.direct === "1";
    var threshold = Number(form.dataset.threshold);
    var maxSize = Number(form.dataset.maxSize);
    var queue = [];
    var running = 0;
    var failures = 0;
    var uploaded = 0;

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

    function button(label, className) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "button " + className;
      b.textContent = label;
      return b;
    }

    function addItem(task) {
      var li = document.createElement("li");
      var name = document.createElement("span");
      var bar = document.createElement("progress");
      var status = document.createElement("span");
      var cancel = button(t("Cancel"), "mediahub-cancel");
      var retry = button(t("Retry"), "mediahub-retry");
      name.className = "mediahub-upload-name";
      name.textContent = task.relative;
      bar.max = 100;
      bar.value = 0;
      bar.setAttribute("aria-label", fmt(t("Upload of %(name)s"), { name: task.relative }, true));
      status.className = "mediahub-upload-status";
      cancel.setAttribute("aria-label", fmt(t("Cancel the upload of %(name)s"), { name: task.relative }, true));
      retry.setAttribute("aria-label", fmt(t("Retry the upload of %(name)s"), { name: task.relative }, true));
      retry.hidden = true;
      li.dataset.state = "queued";
      li.appendChild(name);
      li.appendChild(bar);
      li.appendChild(status);
      li.appendChild(cancel);
      li.appendChild(retry);
      progressList.appendChild(li);
      cancel.addEventListener("click", function () {
        task.cancelled = true;
        if (task.xhr) { task.xhr.abort(); }
        if (li.dataset.state === "queued") { item.fail(new Cancelled()); }
      });
      retry.addEventListener("click", function () {
        failures -= 1;
        task.cancelled = false;
        li.dataset.state = "queued";
        delete li.dataset.cancelled;
        status.textContent = "";
        status.className = "mediahub-upload-status";
        retry.hidden = true;
        cancel.hidden = false;
        bar.value = 0;
        enqueue(task);
        cancel.focus();
      });
      var item = {
        li: li,
        progress: function (fraction) {
          li.dataset.state = "running";
          bar.value = Math.round(Math.min(1, fraction) * 100);
        },
        done: function (stored) {
          bar.value = 100;
          status.className = "mediahub-upload-status mediahub-ok";
          var short = stored.split("/").pop();
          status.textContent = short === task.file.name
            ? t("Uploaded")
            : fmt(t("Uploaded as %(name)s (that name was taken)"), { name: short }, true);
          li.dataset.state = "done";
          cancel.hidden = true;
        },
        fail: function (error) {
          if (li.dataset.state === "failed") { return; }
          failures += 1;
          status.className = "mediahub-upload-status mediahub-failed";
          status.textContent = error.message;
          li.dataset.state = "failed";
          if (error.cancelled) { li.dataset.cancelled = "1"; }
          cancel.hidden = true;
          retry.hidden = false;
          finished();
        }
      };
      return item;
    }

    function send(task, method, url, body, headers, onProgress) {
      return new Promise(function (resolve, reject) {
        if (task.cancelled) { reject(new Cancelled()); return; }
        var xhr = new XMLHttpRequest();
        task.xhr = xhr;
        xhr.open(method, url);
        Object.keys(headers).forEach(function (key) { xhr.setRequestHeader(key, headers[key]); });
        xhr.upload.onprogress = function (event) { onProgress(event); };
        xhr.onload = function () { task.xhr = null; resolve(xhr); };
        xhr.onerror = function () { task.xhr = null; reject(new Error(t("Network error; check the connection and retry."))); };
        xhr.onabort = function () { task.xhr = null; reject(new Cancelled()); };
        xhr.send(body);
      });
    }

    function folderOf(task) {
      var slash = task.relative.lastIndexOf("/");
      return basePath + (slash >= 0 ? task.relative.slice(0, slash + 1) : "");
    }

    function simpleUpload(task, item) {
      var data = new FormData();
      data.append("csrfmiddlewaretoken", csrf);
      data.append("path", folderOf(task));
      data.append("files", task.file);
      return send(task, "POST", form.action, data, { "Accept": "application/json", "X-CSRFToken": csrf }, function (event) {
        if (event.lengthComputable) { item.progress(event.loaded / event.total); }
      }).then(function (xhr) {
        var body = {};
        try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
        if (xhr.status >= 400 || (body.errors && body.errors.length)) {
          throw new Error((body.errors && body.errors[0]) || ("HTTP " + xhr.status));
        }
        return body.files[0].stored_as;
      });
    }

    function putPart(task, url, blob, onProgress) {
      return send(task, "PUT", url, blob, {}, function (event) { onProgress(event.loaded); }).then(function (xhr) {
        var etag = xhr.getResponseHeader("ETag");
        if (xhr.status >= 200 && xhr.status < 300 && etag) { return etag; }
        if (xhr.status < 300) {
          throw new Error(t("S3 did not expose the part's ETag (check the bucket's CORS rules)."));
        }
        throw new Error(fmt(t("S3 answered HTTP %(status)s."), { status: xhr.status }, true));
      });
    }

    function putPartWithRetry(task, url, blob, onProgress, tries) {
      return putPart(task, url, blob, onProgress).catch(function (error) {
        if (tries <= 1 || error.cancelled) { throw error; }
        return putPartWithRetry(task, url, blob, onProgress, tries - 1);
      });
    }

    async function directUpload(task, item) {
      var file = task.file;
      var started = await postJSON(form.dataset.startUrl, {
        path: folderOf(task), filename: file.name, size: file.size, type: file.type
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
          if (task.cancelled) { throw new Cancelled(); }
          var signed = await postJSON(form.dataset.partsUrl, { token: token, parts: numbers });
          for (var i = 0; i < numbers.length; i++) {
            var number = numbers[i];
            var blob = file.slice((number - 1) * partSize, Math.min(number * partSize, file.size));
            var etag = await putPartWithRetry(task, signed.urls[String(number)], blob, function (loaded) {
              item.progress((sent + loaded) / file.size);
            }, PART_TRIES);
            sent += blob.size;
            etags.push({ PartNumber: number, ETag: etag });
          }
        }
        if (task.cancelled) { throw new Cancelled(); }
        var done = await postJSON(form.dataset.completeUrl, {
          token: token, parts: etags, filename: file.name
        });
        return done.files[0].stored_as;
      } catch (error) {
        await postJSON(form.dataset.abortUrl, { token: token }).catch(function () {});
        throw error;
      }
    }

    function finished() {
      if (running || queue.length) { return; }
      var pending = progressList.querySelectorAll("li[data-state=queued], li[data-state=running]");
      if (pending.length) { return; }
      submit.disabled = false;
      progressList.dataset.finished = String(uploaded);
      if (!failures && uploaded) {
        window.location.reload();
        return;
      }
      if (!progressList.querySelector(".mediahub-refresh")) {
        var li = document.createElement("li");
        li.className = "mediahub-refresh";
        var link = document.createElement("a");
        link.href = window.location.href;
        link.textContent = t("Refresh the listing");
        li.appendChild(link);
        progressList.appendChild(li);
      }
    }

    async function run(task) {
      var item = task.item;
      running += 1;
      try {
        if (task.cancelled) { throw new Cancelled(); }
        if (task.file.size > maxSize) {
          throw new Error(fmt(t("%(name)s is larger than the upload limit (%(max)s bytes)."), { name: task.file.name, max: maxSize }, true));
        }
        item.progress(0);
        var stored = direct && task.file.size >= threshold
          ? await directUpload(task, item)
          : await simpleUpload(task, item);
        uploaded += 1;
        item.done(stored);
      } catch (error) {
        item.fail(error.cancelled ? error : new Error(error.message));
      } finally {
        running -= 1;
        pump();
        finished();
      }
    }

    function pump() {
      while (running < PARALLEL && queue.length) {
        var task = queue.shift();
        if (task.cancelled) { continue; }
        run(task);
      }
    }

    function enqueue(task) {
      queue.push(task);
      submit.disabled = true;
      pump();
    }

    function add(files) {
      files.forEach(function (entry) {
        var task = { file: entry.file, relative: entry.relative || entry.file.name, cancelled: false };
        task.item = addItem(task);
        enqueue(task);
      });
    }

    /* Folders dropped: walk them with the File and Directory Entries API. */
    function readAll(reader) {
      return new Promise(function (resolve, reject) {
        var all = [];
        (function more() {
          reader.readEntries(function (entries) {
            if (!entries.length) { resolve(all); return; }
            all = all.concat(Array.prototype.slice.call(entries));
            more();
          }, reject);
        })();
      });
    }

    async function walk(entry, prefix, out) {
      if (entry.isFile) {
        var file = await new Promise(function (resolve, reject) { entry.file(resolve, reject); });
        out.push({ file: file, relative: prefix + file.name });
      } else if (entry.isDirectory) {
        var children = await readAll(entry.createReader());
        for (var i = 0; i < children.length; i++) {
          await walk(children[i], prefix + entry.name + "/", out);
        }
      }
    }

    async function filesFromDrop(dataTransfer) {
      var out = [];
      var items = dataTransfer.items ? Array.prototype.slice.call(dataTransfer.items) : [];
      var entries = items.map(function (item) {
        return item.kind === "file" && item.webkitGetAsEntry ? item.webkitGetAsEntry() : null;
      });
      if (entries.length && entries.every(Boolean)) {
        for (var i = 0; i < entries.length; i++) {
          await walk(entries[i], "", out);
        }
        return out;
      }
      return Array.prototype.slice.call(dataTransfer.files || []).map(function (file) {
        return { file: file, relative: file.name };
      });
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var files = Array.prototype.slice.call(input.files);
      if (!files.length) {
        input.focus();
        return;
      }
      add(files.map(function (file) { return { file: file, relative: file.name }; }));
      form.reset();
    });

    var zone = document.getElementById("mediahub-dropzone");
    var depth = 0;
    document.addEventListener("dragenter", function (event) {
      if (event.dataTransfer && Array.prototype.indexOf.call(event.dataTransfer.types || [], "Files") >= 0) {
        depth += 1;
        zone.classList.add("mediahub-dragging");
      }
    });
    document.addEventListener("dragleave", function () {
      depth = Math.max(0, depth - 1);
      if (!depth) { zone.classList.remove("mediahub-dragging"); }
    });
    document.addEventListener("dragover", function (event) {
      event.preventDefault();
      if (event.dataTransfer) { event.dataTransfer.dropEffect = "copy"; }
    });
    document.addEventListener("drop", function (event) {
      event.preventDefault();
      depth = 0;
      zone.classList.remove("mediahub-dragging");
      if (!event.dataTransfer) { return; }
      filesFromDrop(event.dataTransfer).then(function (files) {
        if (files.length) { add(files); }
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
