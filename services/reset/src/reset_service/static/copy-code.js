// The "Copy code" button of the verification-code page: the only script of the pages.
// The button stays hidden without JavaScript; the code is then copied by hand (it is selectable).
"use strict";

(function () {
  function announce(statusId, text) {
    var status = document.getElementById(statusId);
    if (status) {
      // Cleared first, so a second click is announced again by screen readers.
      status.textContent = "";
      window.setTimeout(function () {
        status.textContent = text;
      }, 50);
    }
  }

  // Fallback where the async Clipboard API is missing (older browsers, non-secure origins).
  function copyBySelection(source) {
    var range = document.createRange();
    range.selectNodeContents(source);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    try {
      return document.execCommand("copy");
    } catch (e) {
      return false;
    }
  }

  function setUp(button) {
    var source = document.getElementById(button.dataset.copyFrom);
    if (!source) {
      return;
    }
    var statusId = button.dataset.status;
    // The page's language: the words come translated in data attributes.
    var copied = button.dataset.copied || "Copied";
    var copyFailed = button.dataset.failed || "Select the code and copy it";
    button.hidden = false;
    button.addEventListener("click", function () {
      var code = source.textContent.trim();
      var failed = function () {
        announce(statusId, copyBySelection(source) ? copied : copyFailed);
      };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(code).then(function () {
          announce(statusId, copied);
        }, failed);
      } else {
        failed();
      }
    });
  }

  document.querySelectorAll("button[data-copy-from]").forEach(setUp);
})();
