/* "Choose existing" picker of mediahub's model-field widgets.
 *
 * In a form: a button.mediahub-choose[data-picker-url][data-target] opens the media
 * library in a popup (?_popup=1&target=ID). In the popup each file has a
 * "Choose" button that calls window.opener.mediahubPicked(targetId, token, name)
 * and closes the popup; mediahubPicked puts the signed pick token (mediahub.picker)
 * in the target input and shows the name.
 */
(function () {
  "use strict";

  window.mediahubPicked = function (targetId, token, objectName) {
    var input = document.getElementById(targetId);
    if (!input) {
      return;
    }
    input.value = token;
    input.dispatchEvent(new Event("change", { bubbles: true }));
    var shown = document.querySelectorAll(".mediahub-chosen");
    for (var i = 0; i < shown.length; i++) {
      if (shown[i].dataset.for === targetId) {
        shown[i].textContent = objectName;
      }
    }
  };

  document.addEventListener("click", function (event) {
    var opener = event.target.closest("button.mediahub-choose[data-picker-url][data-target]");
    if (opener) {
      event.preventDefault();
      var url = new URL(opener.dataset.pickerUrl, window.location.href);
      url.searchParams.set("_popup", "1");
      url.searchParams.set("target", opener.dataset.target);
      var name = "mediahub_picker_" + opener.dataset.target.replace(/[^A-Za-z0-9_]/g, "_");
      var popup = window.open(url.toString(), name, "width=1000,height=700,resizable=yes,scrollbars=yes");
      if (popup) {
        popup.focus();
      }
      return;
    }
    var pick = event.target.closest("button.mediahub-pick[data-name]");
    if (pick) {
      var root = document.querySelector("[data-popup-target]");
      var target = root ? root.dataset.popupTarget : "";
      if (window.opener && !window.opener.closed && typeof window.opener.mediahubPicked === "function") {
        window.opener.mediahubPicked(target, pick.dataset.token, pick.dataset.name);
        window.close();
      }
    }
  });
})();
