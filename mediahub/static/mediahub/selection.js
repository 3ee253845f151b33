/* Media library selection, after django.contrib.admin's actions.js: a checkbox per
 * row, "select all" for the page, "select everything in this folder" across pages
 * (select_across=1; rows unchecked afterwards are sent as exclusions), the action
 * bar's counter; plus the rows' action menus and keyboard navigation.
 */
(function () {
  "use strict";

  var t = window.gettext || function (s) { return s; };
  var nt = window.ngettext || function (s, p, n) { return n === 1 ? s : p; };
  var fmt = window.interpolate || function (s, o) {
    return s.replace(/%\((\w+)\)s/g, function (_m, k) { return o[k]; });
  };

  function init() {
    var form = document.getElementById("changelist-form");
    if (form) { selection(form); }
    menus();
    keyboard();
  }

  function selection(form) {
    var boxes = Array.prototype.slice.call(form.querySelectorAll("input.action-select"));
    var toggle = document.getElementById("action-toggle");
    var counter = document.getElementById("mediahub-counter");
    var across = form.querySelector("input.select-across");
    var acrossOffer = form.querySelector(".mediahub-across");
    var acrossOn = form.querySelector(".mediahub-across-on");
    var action = document.getElementById("mediahub-action");
    if (!counter) { return; }

    function update() {
      var checked = boxes.filter(function (box) { return box.checked; }).length;
      boxes.forEach(function (box) {
        var row = box.closest("tr, li");
        if (row) { row.classList.toggle("selected", box.checked); }
      });
      if (toggle) {
        toggle.checked = checked === boxes.length && checked > 0;
        toggle.indeterminate = checked > 0 && checked < boxes.length;
      }
      if (across.value === "1") {
        var excluded = boxes.length - checked;
        counter.textContent = excluded
          ? fmt(nt("Everything in this folder, except %(n)s item", "Everything in this folder, except %(n)s items", excluded), { n: excluded }, true)
          : t("Everything in this folder");
      } else {
        counter.textContent = fmt(
          nt("%(sel)s of %(cnt)s selected", "%(sel)s of %(cnt)s selected", checked),
          { sel: checked, cnt: boxes.length }, true
        );
      }
      var all = checked === boxes.length && boxes.length > 0;
      if (acrossOffer) { acrossOffer.hidden = !(all && across.value !== "1"); }
      if (acrossOn) { acrossOn.hidden = across.value !== "1"; }
    }

    var last = null;
    boxes.forEach(function (box) {
      box.addEventListener("click", function (event) {
        if (event.shiftKey && last && last !== box) {
          var a = boxes.indexOf(last);
          var b = boxes.indexOf(box);
          boxes.slice(Math.min(a, b), Math.max(a, b) + 1).forEach(function (other) { other.checked = box.checked; });
        }
        last = box;
        update();
      });
    });
    if (toggle) {
      toggle.addEventListener("click", function () {
        boxes.forEach(function (box) { box.checked = toggle.checked; });
        if (!toggle.checked) { across.value = "0"; }
        update();
      });
    }
    var selectAcross = document.getElementById("mediahub-select-across");
    if (selectAcross) {
      selectAcross.addEventListener("click", function () {
        across.value = "1";
        boxes.forEach(function (box) { box.checked = true; });
        update();
        var clear = document.getElementById("mediahub-clear-selection");
        if (clear) { clear.focus(); }
      });
    }
    var clearButton = document.getElementById("mediahub-clear-selection");
    if (clearButton) {
      clearButton.addEventListener("click", function () {
        across.value = "0";
        boxes.forEach(function (box) { box.checked = false; });
        update();
        if (toggle) { toggle.focus(); }
      });
    }
    form.addEventListener("submit", function (event) {
      if (event.submitter && event.submitter.form !== form) { return; }
      if (!action || !action.value) {
        event.preventDefault();
        if (action) { action.focus(); }
        return;
      }
      form.querySelectorAll("input[name=exclude]").forEach(function (old) { old.remove(); });
      if (across.value === "1") {
        boxes.forEach(function (box) {
          if (!box.checked) {
            var hidden = document.createElement("input");
            hidden.type = "hidden";
            hidden.name = "exclude";
            hidden.value = box.value;
            form.appendChild(hidden);
          }
        });
      }
    });
    // Back/forward cache: the page comes back with boxes as they were.
    window.addEventListener("pageshow", update);
    update();
  }

  function menus() {
    var all = Array.prototype.slice.call(document.querySelectorAll("details.mediahub-menu"));
    all.forEach(function (menu) {
      menu.addEventListener("toggle", function () {
        if (!menu.open) { return; }
        all.forEach(function (other) { if (other !== menu) { other.open = false; } });
        var first = menu.querySelector("a, button");
        if (first && menu.dataset.keyboard === "1") { first.focus(); }
      });
      menu.querySelector("summary").addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { menu.dataset.keyboard = "1"; }
        if (event.key === "ArrowDown") {
          event.preventDefault();
          menu.dataset.keyboard = "1";
          if (menu.open) {
            var first = menu.querySelector(".mediahub-menu-items a, .mediahub-menu-items button");
            if (first) { first.focus(); }
          } else {
            menu.open = true;
          }
        }
      });
      menu.addEventListener("keydown", function (event) {
        var items = Array.prototype.slice.call(menu.querySelectorAll(".mediahub-menu-items a, .mediahub-menu-items button"));
        var index = items.indexOf(document.activeElement);
        if (event.key === "Escape" && menu.open) {
          event.preventDefault();
          menu.open = false;
          menu.querySelector("summary").focus();
        } else if (index >= 0 && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
          event.preventDefault();
          var next = items[(index + (event.key === "ArrowDown" ? 1 : items.length - 1)) % items.length];
          next.focus();
        }
      });
    });
    document.addEventListener("click", function (event) {
      all.forEach(function (menu) {
        if (menu.open && !menu.contains(event.target)) { menu.open = false; }
      });
    });
  }

  /* Arrow keys move between the rows (list) or cards (grid); Space on a row link
   * toggles its checkbox. */
  function keyboard() {
    var root = document.getElementById("result_list");
    if (!root) { return; }
    var grid = root.classList.contains("mediahub-grid");
    root.addEventListener("keydown", function (event) {
      var items = Array.prototype.slice.call(root.querySelectorAll(".mediahub-nav-item, tbody th a"));
      var index = items.indexOf(document.activeElement);
      if (index < 0) { return; }
      var step = 0;
      if (event.key === "ArrowDown") { step = grid ? columns(items) : 1; }
      if (event.key === "ArrowUp") { step = grid ? -columns(items) : -1; }
      if (grid && event.key === "ArrowRight") { step = 1; }
      if (grid && event.key === "ArrowLeft") { step = -1; }
      if (event.key === "Home") { step = -index; }
      if (event.key === "End") { step = items.length - 1 - index; }
      if (event.key === " ") {
        var holder = document.activeElement.closest("tr, li");
        var box = holder && holder.querySelector("input.action-select");
        if (box) {
          event.preventDefault();
          box.click();
        }
        return;
      }
      if (!step) { return; }
      event.preventDefault();
      var target = items[Math.max(0, Math.min(items.length - 1, index + step))];
      target.focus();
    });
  }

  function columns(items) {
    if (items.length < 2) { return 1; }
    var top = items[0].getBoundingClientRect().top;
    var n = 0;
    for (var i = 0; i < items.length; i++) {
      if (Math.abs(items[i].getBoundingClientRect().top - top) > 4) { break; }
      n += 1;
    }
    return Math.max(1, n);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
