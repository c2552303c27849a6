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
    // A link to one message (a search hit) scrolls to it instead, and keeps it in view.
    var target = location.hash && document.getElementById(location.hash.slice(1));
    if (target && messages.contains(target)) {
      pinned = false;
      target.scrollIntoView({ block: "center" });
    } else {
      window.scrollTo(0, document.documentElement.scrollHeight);
    }
  }

  // "/" anywhere but in a text field focuses the search box.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    var field = event.target;
    if (field.isContentEditable || (field.matches && field.matches("input, textarea, select"))) return;
    var search = document.getElementById("header-search");
    if (!search) return;
    event.preventDefault();
    search.focus();
  });
})();
