// A conversation's page: the thread starts scrolled to its latest message and follows new ones
// (appended by htmx polls and replies) unless the reader scrolled up to read older ones. A message
// that arrives twice (a poll and a reply crossing) is shown once.
(() => {
  "use strict";

  const NEAR_BOTTOM_PX = 80;
  const thread = () => document.getElementById("chat-messages");
  let following = true;

  function scrollToEnd(list) {
    list.scrollTop = list.scrollHeight;
  }

  function dropRepeats(list) {
    const seen = new Set();
    for (const item of Array.from(list.children)) {
      if (item.id && seen.has(item.id)) item.remove();
      else seen.add(item.id);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const list = thread();
    if (!list) return;
    scrollToEnd(list);
    list.addEventListener("scroll", () => {
      following = list.scrollHeight - list.scrollTop - list.clientHeight < NEAR_BOTTOM_PX;
    });
  });

  document.addEventListener("htmx:oobAfterSwap", (event) => {
    const list = thread();
    if (!list || event.detail.target !== list) return;
    dropRepeats(list);
    if (following) scrollToEnd(list);
  });
})();
