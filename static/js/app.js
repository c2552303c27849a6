// Small behaviours beyond htmx. Every script lives in static/ so a strict CSP can forbid inline ones.
(function () {
  "use strict";

  // Enter sends, Shift+Enter makes a new line.
  document.addEventListener("keydown", function (event) {
    var field = event.target;
    if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
    if (!field.matches || !field.matches("#composer textarea")) return;
    event.preventDefault();
    if (field.value.trim()) field.form.requestSubmit();
  });

  // Empty the message box once htmx has read it, so the next message can be typed at once.
  document.addEventListener("htmx-before-request", function (event) {
    if (event.target.id === "composer") event.target.querySelector("textarea").value = "";
  });

  // Copy buttons on code blocks.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) return;
    var code = button.closest(".code-block").querySelector("code");
    navigator.clipboard.writeText(code.innerText).then(function () {
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = "Copy"; }, 1500);
    });
  });

  // When a swap removes the focused Stop or Retry button, focus what replaced it, so a keyboard
  // user is not sent back to the top of the page: the new message's own button, else the message box.
  var lastFocused = null;
  document.addEventListener("focusin", function (event) { lastFocused = event.target; });
  function restoreFocus() {
    var gone = lastFocused;
    if (!gone || gone.isConnected) return;
    if (document.activeElement && document.activeElement !== document.body) return;
    lastFocused = null;
    var item = gone.closest && gone.closest(".message");
    var replacement = item && item.id ? document.getElementById(item.id) : null;
    var next = (replacement && replacement.querySelector(".message-actions button")) ||
      document.querySelector("#composer textarea");
    if (next) next.focus();
  }

  // Keep the newest text in view while a reply streams, unless the reader scrolled up.
  var pinned = true;
  function nearBottom() {
    return window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 80;
  }
  window.addEventListener("scroll", function () { pinned = nearBottom(); }, { passive: true });
  var messages = document.getElementById("messages");
  if (messages) {
    new MutationObserver(function () {
      restoreFocus();
      if (pinned) window.scrollTo(0, document.documentElement.scrollHeight);
    }).observe(messages, { childList: true, subtree: true, characterData: true });
    window.scrollTo(0, document.documentElement.scrollHeight);
  }
})();
