/* Folder picker: browse or type ahead through the folders of a storage, one
 * listing request per level (admin:mediahub_folders), and create a folder on the
 * way. Enhances every input.mediahub-folder-input inside an element carrying
 * data-folders-url. data-keep-basename="1" (renaming a file): choosing a folder
 * keeps the file's own name; data-navigate="1" (the picker popup): choosing opens
 * that folder.
 */
(function () {
  "use strict";

  var t = window.gettext || function (s) { return s; };
  var fmt = window.interpolate || function (s, o) {
    return s.replace(/%\((\w+)\)s/g, function (_m, k) { return o[k]; });
  };
  var counter = 0;

  function csrfToken() {
    var field = document.querySelector("[name=csrfmiddlewaretoken]");
    if (field) { return field.value; }
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function enhance(input) {
    var root = input.closest("[data-folders-url]");
    if (!root) { return; }
    var url = root.dataset.foldersUrl;
    var keepBase = input.dataset.keepBasename === "1";
    var navigate = input.dataset.navigate === "1";
    var basename = "";
    if (keepBase) {
      var value = input.value;
      basename = value.slice(value.lastIndexOf("/") + 1);
    } else if (input.closest(".mediahub-move")) {
      basename = input.value.replace(/\/$/, "").split("/").pop() + "/";
    }
    counter += 1;
    var id = "mediahub-folders-" + counter;
    var open = el("button", "button mediahub-browse-folders", t("Browse folders"));
    open.type = "button";
    open.setAttribute("aria-expanded", "false");
    open.setAttribute("aria-controls", id);
    var panel = el("div", "mediahub-folder-panel");
    panel.id = id;
    panel.hidden = true;
    panel.setAttribute("role", "group");
    panel.setAttribute("aria-label", t("Folders"));
    var where = el("p", "mediahub-folder-where");
    where.setAttribute("aria-live", "polite");
    var list = el("ul", "mediahub-folder-list");
    var create = el("div", "mediahub-folder-create");
    var newName = el("input", "vTextField");
    newName.type = "text";
    newName.id = id + "-new";
    newName.maxLength = 255;
    var newLabel = el("label", "", t("New folder here"));
    newLabel.htmlFor = newName.id;
    var newButton = el("button", "button", t("Create"));
    newButton.type = "button";
    create.appendChild(newLabel);
    create.appendChild(newName);
    create.appendChild(newButton);
    var error = el("p", "errornote mediahub-folder-error");
    error.hidden = true;
    error.setAttribute("role", "alert");
    panel.appendChild(where);
    panel.appendChild(list);
    if (!navigate) { panel.appendChild(create); }
    panel.appendChild(error);
    input.insertAdjacentElement("afterend", open);
    open.insertAdjacentElement("afterend", panel);
    input.setAttribute("aria-controls", id);

    var current = "";
    var timer = null;

    function folderPart(value) {
      if (keepBase) { return value.slice(0, value.lastIndexOf("/") + 1); }
      return value;
    }

    function choose(folder) {
      if (navigate) {
        var target = new URL(window.location.href);
        target.searchParams.set("path", folder);
        ["cursor", "back", "page", "prefix"].forEach(function (k) { target.searchParams.delete(k); });
        window.location.href = target.toString();
        return;
      }
      input.value = folder + basename;
      input.dispatchEvent(new Event("change", { bubbles: true }));
    }

    function load(path, query) {
      var target = new URL(url, window.location.href);
      target.searchParams.set("path", path);
      if (query) { target.searchParams.set("q", query); }
      return fetch(target.toString(), { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) {
          return response.json().then(function (body) {
            if (!response.ok) { throw new Error(body.error || ("HTTP " + response.status)); }
            return body;
          });
        })
        .then(function (body) { render(path, body); error.hidden = true; })
        .catch(function (problem) { error.textContent = problem.message; error.hidden = false; });
    }

    function item(label, className, onClick) {
      var li = el("li");
      var b = el("button", "button " + className, label);
      b.type = "button";
      b.addEventListener("click", onClick);
      li.appendChild(b);
      list.appendChild(li);
      return b;
    }

    function render(path, body) {
      current = path;
      list.textContent = "";
      where.textContent = fmt(t("In %(folder)s"), { folder: path || "/" }, true);
      item(t("Choose this folder"), "default mediahub-folder-choose", function () {
        choose(path);
        if (!navigate) { close(); }
      });
      if (path) {
        item(t("Up one level"), "mediahub-folder-up", function () {
          var parent = path.replace(/[^/]+\/$/, "");
          choose(parent);
          load(parent, "");
        });
      }
      body.folders.forEach(function (folder) {
        item(folder.name + "/", "mediahub-folder-option", function () {
          choose(folder.path);
          load(folder.path, "").then(function () {
            var first = list.querySelector("button");
            if (first) { first.focus(); }
          });
        }).dataset.path = folder.path;
      });
      if (!body.folders.length) {
        var none = el("li", "help", t("No sub-folders."));
        list.appendChild(none);
      }
      if (body.truncated) {
        list.appendChild(el("li", "help", t("More folders: type the start of a name to narrow the list.")));
      }
    }

    function close() {
      panel.hidden = true;
      open.setAttribute("aria-expanded", "false");
      open.focus();
    }

    open.addEventListener("click", function () {
      if (!panel.hidden) { close(); return; }
      panel.hidden = false;
      open.setAttribute("aria-expanded", "true");
      var folder = folderPart(input.value.trim());
      folder = folder && !/\/$/.test(folder) ? folder.replace(/[^/]*$/, "") : folder;
      load(folder, "").then(function () {
        var first = list.querySelector("button");
        if (first) { first.focus(); }
      });
    });
    panel.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { event.preventDefault(); close(); }
    });
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var value = folderPart(input.value);
        var slash = value.lastIndexOf("/");
        var parent = value.slice(0, slash + 1);
        var query = value.slice(slash + 1);
        panel.hidden = false;
        open.setAttribute("aria-expanded", "true");
        load(parent, query);
      }, 200);
    });
    function createFolder() {
      var name = newName.value.trim();
      if (!name) { newName.focus(); return; }
      fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify({ path: current, name: name })
      }).then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) { throw new Error(body.error || ("HTTP " + response.status)); }
          return body;
        });
      }).then(function (body) {
        newName.value = "";
        choose(body.path);
        return load(body.path, "");
      }).then(function () {
        var first = list.querySelector("button");
        if (first) { first.focus(); }
      }).catch(function (problem) {
        error.textContent = problem.message;
        error.hidden = false;
      });
    }
    newButton.addEventListener("click", createFolder);
    newName.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); createFolder(); }
    });
  }

  function init() {
    document.querySelectorAll("input.mediahub-folder-input").forEach(enhance);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
