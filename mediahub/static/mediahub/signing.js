/* Signed links: the expiry time of the chosen lifetime, the custom lifetime's
 * fields, user autocomplete (admin:mediahub_users), and copy-to-clipboard buttons.
 */
(function () {
  "use strict";

  var t = window.gettext || function (s) { return s; };
  var UNITS = { minutes: 60, hours: 3600, days: 86400 };

  /* The page's language, medium date and short time: close to the server's format. */
  function when(date) {
    try {
      return new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
        dateStyle: "medium", timeStyle: "short"
      }).format(date);
    } catch (e) {
      return date.toLocaleString();
    }
  }

  function signForm(form) {
    var radios = Array.prototype.slice.call(form.querySelectorAll("input[name=lifetime]"));
    var amount = form.querySelector("input[name=amount]");
    var unit = form.querySelector("select[name=unit]");
    var expiry = form.querySelector(".mediahub-expiry");
    var username = form.querySelector("input[name=username]");
    var list = document.getElementById("mediahub-users");

    function seconds() {
      var chosen = radios.filter(function (r) { return r.checked; })[0];
      if (!chosen) { return 0; }
      if (chosen.value === "custom") {
        return (Number(amount.value) || 0) * (UNITS[unit.value] || 0);
      }
      return Number(chosen.value);
    }

    function update() {
      var custom = radios.some(function (r) { return r.checked && r.value === "custom"; });
      form.classList.toggle("mediahub-custom-on", custom);
      var s = seconds();
      if (expiry) {
        expiry.textContent = s
          ? (expiry.dataset.prefix || t("Valid until")) + " " + when(new Date(Date.now() + s * 1000))
          : "";
      }
    }

    radios.forEach(function (r) { r.addEventListener("change", update); });
    [amount, unit].forEach(function (field) {
      if (!field) { return; }
      field.addEventListener("input", update);
      field.addEventListener("change", update);
      // Typing a custom lifetime chooses "Custom" (tabbing through the field does not).
      field.addEventListener("input", function () {
        var custom = radios.filter(function (r) { return r.value === "custom"; })[0];
        if (custom && !custom.checked) { custom.checked = true; update(); }
      });
    });
    update();

    if (username && list && form.dataset.usersUrl) {
      var timer = null;
      username.addEventListener("input", function () {
        clearTimeout(timer);
        var query = username.value.trim();
        if (!query) { list.textContent = ""; return; }
        timer = setTimeout(function () {
          var target = new URL(form.dataset.usersUrl, window.location.href);
          target.searchParams.set("q", query);
          fetch(target.toString(), { credentials: "same-origin", headers: { "Accept": "application/json" } })
            .then(function (response) { return response.ok ? response.json() : { users: [] }; })
            .then(function (body) {
              list.textContent = "";
              body.users.forEach(function (name) {
                var option = document.createElement("option");
                option.value = name;
                list.appendChild(option);
              });
            });
        }, 150);
      });
    }
  }

  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      var ok = document.execCommand("copy");
      area.remove();
      if (ok) { resolve(); } else { reject(new Error("copy")); }
    });
  }

  function init() {
    document.querySelectorAll("form.mediahub-sign-form").forEach(signForm);
    var status = document.querySelector(".mediahub-copied");
    document.addEventListener("click", function (event) {
      var button = event.target.closest("button.mediahub-copy[data-copy]");
      if (!button) { return; }
      var source = document.getElementById(button.dataset.copy);
      if (!source) { return; }
      copy(source.value).then(function () {
        button.dataset.copied = "1";
        if (status) { status.textContent = t("Copied to the clipboard."); }
      }, function () {
        source.classList.remove("visually-hidden");
        source.select();
        if (status) { status.textContent = t("Press Ctrl+C (or Cmd+C) to copy."); }
      });
    });
    document.querySelectorAll("input.mediahub-copy-source").forEach(function (input) {
      input.addEventListener("focus", function () { input.select(); });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
