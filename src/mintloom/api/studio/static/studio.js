// mintloom studio: keyboard shortcuts of the review queue (j/k move, a approve, r reject).
(function () {
  "use strict";
  function groups() { return Array.prototype.slice.call(document.querySelectorAll(".group")); }
  function focused() {
    var el = document.activeElement;
    return el && el.closest ? el.closest(".group") : null;
  }
  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    var tag = (ev.target && ev.target.tagName) || "";
    if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA") { return; }
    var all = groups();
    if (!all.length) { return; }
    var current = focused();
    var i = current ? all.indexOf(current) : -1;
    if (ev.key === "j" || ev.key === "k") {
      var next = ev.key === "j" ? Math.min(i + 1, all.length - 1) : Math.max(i - 1, 0);
      all[next].focus();
      ev.preventDefault();
    } else if ((ev.key === "a" || ev.key === "r") && current) {
      var button = current.querySelector('button[data-key="' + ev.key + '"]');
      if (button) { button.click(); ev.preventDefault(); }
    }
  });
})();
