// The few lines of htmx glue. Charts: every [data-chart] element names a json_script id
// holding a Plotly figure; drawn on load and after each htmx swap (htmx.onLoad), then marked
// data-ready once drawn and its title placed. A chart marked [data-chart-links] carries a URL
// per point (customdata): a click opens it.
// On the case page plotly.js loads async (script[data-plotly]), so the page's sections are
// asked for while it is still being read; charts that arrive before it are drawn when it has run.
(function () {
  "use strict";

  // Plotly draws a title on one line and cuts what does not fit; a title wider than its
  // chart becomes a line of text above it instead, which wraps. Its markup (<br>, <b>) is
  // dropped and it is set as text, never as HTML.
  function titleAbove(el) {
    var title = el.querySelector(".gtitle");
    var layout = el.layout || {};
    var text = layout.title && (typeof layout.title === "string" ? layout.title : layout.title.text);
    if (!title || !text || title.getBBox().width <= el.clientWidth) return;
    var line = document.createElement("p");
    line.className = "chart-title";
    line.textContent = text.replace(/<br\s*\/?>/gi, " ").replace(/<[^>]*>/g, "");
    el.parentNode.insertBefore(line, el);
    window.Plotly.relayout(el, { "title.text": "", "margin.t": 24 });
  }

  function linkPoints(el) {
    el.on("plotly_click", function (data) {
      var point = data && data.points && data.points[0];
      var url = point && point.customdata;
      if (typeof url === "string" && url.charAt(0) === "/" && url.charAt(1) !== "/") {
        window.location.assign(url);
      }
    });
  }

  function drawCharts(root) {
    if (typeof window.Plotly === "undefined") return;
    root.querySelectorAll("[data-chart]").forEach(function (el) {
      if (el.dataset.drawn) return;
      var source = document.getElementById(el.dataset.chart);
      if (!source) return;
      var fig = JSON.parse(source.textContent);
      el.dataset.drawn = "1";
      window.Plotly.newPlot(el, fig.data || [], fig.layout || {}, { responsive: true, displaylogo: false })
        .then(function () {
          if (el.hasAttribute("data-chart-links")) linkPoints(el);
          titleAbove(el);
          el.dataset.ready = "1";
        });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var plotly = document.querySelector("script[data-plotly]");
    if (plotly && typeof window.Plotly === "undefined") {
      plotly.addEventListener("load", function () { drawCharts(document); });
    }
    if (window.htmx) {
      window.htmx.onLoad(drawCharts);
    } else {
      drawCharts(document);
    }
  });
})();

// ---- Case console (queue and case page): modals, messages, keyboard flow --------------------
// Modals are <dialog>s that htmx swaps into #modal-root; a saved form answers 204 with the
// HX-Trigger events "caseChanged" (sections reload), "closeModal" and "showMessage".
// A direct URL of a dialog (/cases/N/priority/ ...) is the same form on a page of its own that
// posts without htmx and redirects back to the case.
// Keys (listed by "?"): j/k move (queue) or step to the next/previous case (case page), Enter
// open, x select, a assign to me, n note, / search, u back to the queue; on the case page an
// element with data-key="<key>" (s status, d dismiss, p propose, A approve) is clicked, so a key
// exists only where its action is offered. Keys never fire while typing or with a dialog open.
// A failed htmx request (403, 404, 500, network) says so in the message bar.
(function () {
  "use strict";

  function modalRoot() { return document.getElementById("modal-root"); }

  function closeModal() {
    var root = modalRoot();
    if (!root) return;
    var dialog = root.querySelector("dialog");
    if (dialog && dialog.open) dialog.close();
    // Emptied after the events of the same response ("showMessage" follows "closeModal") have
    // bubbled up from the form that asked: a detached form's events reach no listener.
    window.setTimeout(function () { if (!root.querySelector("dialog[open]")) root.innerHTML = ""; }, 0);
  }

  function showMessage(text, level) {
    var box = document.getElementById("messages");
    if (!box || !text) return;
    var div = document.createElement("div");
    div.className = "message " + (level || "success");
    if (level === "error") div.setAttribute("role", "alert");
    div.textContent = text;
    box.replaceChildren(div);
  }

  var FAILURES = {
    400: "The server could not read that request. Reload the page and try again.",
    403: "You do not have permission to do that. Ask an admin if your role should allow it.",
    404: "Not found: it may have been merged, removed, or never existed.",
    405: "That action is not available here.",
  };
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr.status;
    var text = FAILURES[status] || "The server failed (" + status + "). Try again; if it keeps failing, tell an admin.";
    showMessage(text, "error");
  });
  document.addEventListener("htmx:sendError", function () {
    showMessage("Could not reach the server. Check the connection and try again.", "error");
  });

  // The queue remembers its filter and sort, so the case page steps through the same order
  // (j/k, and the Previous/Next links) and "Back to the queue" returns to it.
  var QUEUE_QUERY = "console.queueQuery";
  function rememberQueue() {
    if (!document.getElementById("queue-results")) return;
    try { window.sessionStorage.setItem(QUEUE_QUERY, window.location.search.replace(/^\?/, "")); } catch (e) { /* storage off */ }
  }
  function queueQuery() {
    try { return window.sessionStorage.getItem(QUEUE_QUERY) || ""; } catch (e) { return ""; }
  }
  function followQueue() {
    var query = queueQuery();
    if (!query) return;
    document.querySelectorAll("a[data-step]").forEach(function (a) {
      a.href = a.href.split("?")[0] + "?dir=" + a.dataset.step + "&" + query;
    });
    var back = document.querySelector("a[data-queue-link]");
    if (back) back.href = back.href.split("?")[0] + "?" + query;
  }
  document.addEventListener("DOMContentLoaded", function () { rememberQueue(); followQueue(); });
  document.addEventListener("htmx:pushedIntoHistory", rememberQueue);

  function step(direction) {
    var link = document.querySelector("a[data-step='" + direction + "']");
    if (!link) return false;
    window.location.assign(link.href);
    return true;
  }

  function pressKeyed(key) {
    var el = document.querySelector("[data-key='" + key + "']");
    if (!el || el.disabled) return false;
    // A section loaded a moment ago may hold a link htmx has not processed yet; without this
    // the click would follow the link's href instead of opening its dialog.
    if (window.htmx) htmx.process(el);
    el.click();
    return true;
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    var root = modalRoot();
    if (!root || event.detail.target !== root) return;
    var dialog = root.querySelector("dialog");
    if (!dialog) return;
    if (!dialog.open) dialog.showModal();
    dialog.addEventListener("close", function () { root.innerHTML = ""; }, { once: true });
    var first = dialog.querySelector(
      ".has-error input, .has-error select, .has-error textarea, " +
      "input:not([type=hidden]), select, textarea, button[type=submit]"
    );
    if (first) first.focus();
  });
  document.addEventListener("closeModal", closeModal);
  document.addEventListener("showMessage", function (event) { showMessage(event.detail.value); });
  document.addEventListener("click", function (event) {
    var close = event.target.closest("[data-close-modal]");
    if (close && close.closest("#modal-root")) { event.preventDefault(); closeModal(); }
    var help = event.target.closest("[data-keys-help]");
    if (help) { event.preventDefault(); openHelp(); }
  });
  document.addEventListener("change", function (event) {
    var all = event.target.closest("[data-select-all]");
    if (!all) return;
    document.querySelectorAll("input[name='" + all.dataset.selectAll + "']").forEach(function (box) {
      box.checked = all.checked;
    });
  });

  function openHelp() {
    var help = document.getElementById("keys-help");
    if (help && !help.open) help.showModal();
  }

  function rows() { return Array.prototype.slice.call(document.querySelectorAll("tr[data-row]")); }
  function currentRow() { return document.querySelector("tr[data-row].current"); }

  function setCurrent(row) {
    rows().forEach(function (r) { r.classList.remove("current"); r.removeAttribute("aria-current"); });
    if (!row) return;
    row.classList.add("current");
    row.setAttribute("aria-current", "true");
    var link = row.querySelector("a.row-link") || row.querySelector("a");
    if (link) link.focus();
    row.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    var all = rows();
    if (!all.length) return;
    var at = all.indexOf(currentRow());
    if (at === -1) {
      var focused = document.activeElement && document.activeElement.closest("tr[data-row]");
      at = focused ? all.indexOf(focused) : (step > 0 ? -1 : all.length);
    }
    setCurrent(all[Math.max(0, Math.min(all.length - 1, at + step))]);
  }

  function typing(target) {
    return target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName);
  }

  function assignToMe() {
    var row = currentRow() || (document.activeElement && document.activeElement.closest("tr[data-row]"));
    if (row && row.dataset.assignUrl && window.htmx) {
      window.htmx.ajax("POST", row.dataset.assignUrl, {
        source: row, values: { assignee: "me" }, swap: "none"
      });
      return;
    }
    var button = document.getElementById("assign-me");
    if (button && !button.disabled) button.click();
  }

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter" && target.tagName === "TEXTAREA" && target.form) {
      event.preventDefault();
      target.form.requestSubmit();
      return;
    }
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey || typing(target)) return;
    if (document.querySelector("dialog[open]")) return;
    var handled = true;
    switch (event.key) {
      case "j": if (rows().length) move(1); else handled = step("next"); break;
      case "k": if (rows().length) move(-1); else handled = step("prev"); break;
      case "Enter": {
        var row = currentRow();
        if (row && !target.closest("a, button")) window.location.assign(row.dataset.href);
        else handled = false;
        break;
      }
      case "x": {
        var box = currentRow() && currentRow().querySelector("input[name='cases']");
        if (box) box.checked = !box.checked; else handled = false;
        break;
      }
      case "a": assignToMe(); break;
      case "n": {
        var note = document.getElementById("note-body");
        if (note) { note.scrollIntoView({ block: "center" }); note.focus(); } else handled = false;
        break;
      }
      case "/": {
        var search = document.getElementById("id_q");
        if (search) search.focus(); else handled = false;
        break;
      }
      case "u": {
        var back = document.querySelector("a[data-queue-link]");
        if (back) window.location.assign(back.href); else handled = false;
        break;
      }
      case "?": openHelp(); break;
      case "s": case "d": case "p": case "A": handled = pressKeyed(event.key); break;
      default: handled = false;
    }
    if (handled) event.preventDefault();
  });
})();
// ---- end of case console block ---------------------------------------------------------------

// ---- Overview and exports ---------------------------------------------------------
// Queue export buttons follow the filter as it is now (htmx changes the URL, not the toolbar).
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-export-base]");
    if (button) button.formAction = button.dataset.exportBase + window.location.search;
  });
})();
// ---- end of overview and exports block -------------------------------------------------------

// ---- Command palette (Ctrl-K / Cmd-K) ------------------------------------------------------
// The <dialog id="palette"> in base.html; its input asks cases:palette for results (htmx) as
// the user types. Arrow keys move through the options, Enter opens one: an option that names
// an element of this page (data-click, e.g. the case's Propose button) clicks it so its dialog
// opens here; otherwise its link is followed. Escape closes it.
(function () {
  "use strict";

  // The results on screen may be for an older text while the request for the new one is on
  // its way (the list says which text it answers, data-term): Enter then waits for them, so it
  // opens what the user typed for, not what was there.
  var enterPending = false;

  function fresh() {
    var list = document.getElementById("palette-results");
    var q = document.getElementById("palette-q");
    return !!(list && q && list.dataset.term !== undefined &&
      list.dataset.term === q.value.trim().split(/\s+/).join(" "));
  }

  function palette() { return document.getElementById("palette"); }
  function input() { return document.getElementById("palette-q"); }
  function options() {
    var p = palette();
    return p ? Array.prototype.slice.call(p.querySelectorAll("[role=option]")) : [];
  }
  function selected() { return options().filter(function (o) { return o.getAttribute("aria-selected") === "true"; })[0]; }

  function select(option) {
    options().forEach(function (o) { o.setAttribute("aria-selected", o === option ? "true" : "false"); });
    var q = input();
    if (!q) return;
    if (option) {
      q.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({ block: "nearest" });
    } else {
      q.removeAttribute("aria-activedescendant");
    }
  }

  function open() {
    var p = palette();
    var q = input();
    if (!p || !q) return;
    if (!p.open) p.showModal();
    q.value = "";
    enterPending = false;
    q.focus();
    if (window.htmx) window.htmx.trigger(q, "paletteOpen");
  }

  function choose(option) {
    var link = option && option.querySelector("a");
    if (!link) return;
    var p = palette();
    if (p && p.open) p.close();
    var selector = link.dataset.click;
    var target = selector ? document.querySelector(selector) : null;
    if (target) {
      if (window.htmx) window.htmx.process(target);
      target.click();
      if (/^(INPUT|TEXTAREA)$/.test(target.tagName)) {
        target.scrollIntoView({ block: "center" });
        target.focus();
      }
      return;
    }
    window.location.assign(link.href);
  }

  function move(step) {
    var all = options();
    if (!all.length) return;
    var at = all.indexOf(selected());
    select(all[(at + step + all.length) % all.length]);
  }

  document.addEventListener("keydown", function (event) {
    if ((event.ctrlKey || event.metaKey) && !event.altKey && !event.shiftKey && (event.key === "k" || event.key === "K")) {
      var p = palette();
      if (!p) return;
      // Another dialog is open (a form being filled): leave it alone.
      if (document.querySelector("dialog[open]:not(#palette)")) return;
      event.preventDefault();
      if (p.open) p.close(); else open();
      return;
    }
    if (!event.target.closest || !event.target.closest("#palette")) return;
    if (event.key === "ArrowDown") { event.preventDefault(); move(1); }
    else if (event.key === "ArrowUp") { event.preventDefault(); move(-1); }
    else if (event.key === "Enter") {
      event.preventDefault();
      if (fresh()) choose(selected() || options()[0]); else enterPending = true;
    }
    // A search field eats the first Escape (to clear itself); one press closes the palette.
    else if (event.key === "Escape") { event.preventDefault(); palette().close(); }
  });

  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-palette]");
    if (opener) { event.preventDefault(); open(); return; }
    var link = event.target.closest("#palette [role=option] a");
    if (link) { event.preventDefault(); choose(link.closest("[role=option]")); }
  });

  // The swap replaces the list itself (outerHTML); once htmx has settled the new one, its first
  // option is selected, and an Enter pressed meanwhile opens it.
  document.addEventListener("htmx:afterSettle", function (event) {
    var elt = event.detail.elt;
    if (!elt || elt.id !== "palette-results") return;
    select(options()[0]);
    if (enterPending && fresh()) { enterPending = false; choose(options()[0]); }
  });
})();
// ---- end of command palette block ------------------------------------------------------------

// ---- Case page: the sticky header ----------------------------------------------------------
// A section link jumps to its section just below the header, whatever height the header has at
// this width (its actions wrap, its title is one line): the page's scroll padding follows it.
(function () {
  "use strict";

  var observer = window.ResizeObserver ? new window.ResizeObserver(pad) : null;

  function pad() {
    var header = document.getElementById("case-header");
    if (!header) return;
    var sticky = window.getComputedStyle(header).position === "sticky";
    document.documentElement.style.scrollPaddingTop = sticky ? header.offsetHeight + 8 + "px" : "";
  }

  function watch() {
    var header = document.getElementById("case-header");
    if (!header || header.dataset.watched) return;
    header.dataset.watched = "1";
    if (observer) observer.observe(header);
    pad();
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (window.htmx) window.htmx.onLoad(watch); else watch();
    window.addEventListener("resize", pad);
  });
})();
