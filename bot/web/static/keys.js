// Keyboard shortcuts for the approval page; /keys lists them. Every key does what a link or a
// form on the page already does, so the page works the same without this file.
(function () {
  "use strict";
  // An action key (a form it submits) counts once a page, and only once the page has been
  // showing for ARMED_AFTER ms: a held or doubled "a" must not approve the next reply unread.
  const ARMED_AFTER = 600;
  let rows = [];
  let at = -1;
  let armed = false;
  let acted = false;

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  function select(index) {
    if (!rows.length) return;
    at = Math.max(0, Math.min(rows.length - 1, index));
    rows.forEach((row, i) => row.classList.toggle("selected", i === at));
    rows[at].scrollIntoView({ block: "nearest" });
    const link = rows[at].querySelector("a[data-open], a");
    if (link) link.focus({ preventScroll: true });
  }

  function act(target) {
    if (target.tagName === "FORM") {
      if (!armed || acted) return;
      acted = true;
      target.requestSubmit();
    } else if (target.tagName === "A") target.click();
    else target.focus();
  }

  document.addEventListener("DOMContentLoaded", () => {
    window.setTimeout(() => {
      armed = true;
      document.documentElement.dataset.keys = "on";
    }, ARMED_AFTER);
    rows = Array.from(document.querySelectorAll("[data-row]"));
    const everything = document.querySelector("input.select-page");
    if (everything) {
      everything.hidden = false;
      everything.addEventListener("change", () => {
        document.querySelectorAll('form.bulk input[name="reply"]').forEach((box) => {
          box.checked = everything.checked;
        });
      });
    }
  });

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    if (typing(event.target)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    const key = event.key;
    if (key === "/") {
      const search = document.querySelector('input[type="search"]');
      if (search) { event.preventDefault(); search.focus(); search.select(); }
      return;
    }
    if (key === "?") { event.preventDefault(); window.location.assign("/keys"); return; }
    if (rows.length && (key === "j" || key === "k")) {
      event.preventDefault();
      select(at < 0 ? 0 : at + (key === "j" ? 1 : -1));
      return;
    }
    if (rows.length && at >= 0 && (key === "Enter" || key === "o")) {
      const link = rows[at].querySelector("a[data-open], a");
      if (link) { event.preventDefault(); link.click(); }
      return;
    }
    if (rows.length && at >= 0 && key === "x") {
      const box = rows[at].querySelector('input[type="checkbox"]');
      if (box) { event.preventDefault(); box.checked = !box.checked; }
      return;
    }
    const target = document.querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (target) { event.preventDefault(); act(target); }
  });
})();
