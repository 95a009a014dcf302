/* Taking an assessment: one question at a time, every answer saved as it is given.
 *
 * Every change is put in a queue in localStorage first, then sent in order, one at a time,
 * as an htmx-style POST (HX-Request header) whose small fragment is swapped in with
 * htmx.swap (which also applies the out-of-band question-map cell). A dropped connection
 * leaves the answers in the queue; they are replayed in order on reconnect (and after a
 * reload). A save is the whole state of one question, so a replay is idempotent.
 * The countdown comes from the server's seconds-left, never from the browser's clock.
 * Screen readers: the timer is silent except at 10, 5 and 1 minute left and when asked; the
 * number of answers waiting to be sent is announced when the queue does not drain at once.
 */
(function () {
  "use strict";

  function csrfToken() {
    var headers = document.body.getAttribute("hx-headers");
    try {
      return JSON.parse(headers)["X-CSRFToken"];
    } catch (e) {
      return "";
    }
  }

  /* Say a message through a live region; emptied first so that the same words twice (the
   * teacher asking again) are read again. */
  function announce(region, message) {
    region.textContent = "";
    window.setTimeout(function () {
      region.textContent = message;
    }, 100);
  }

  /* --- countdown (review and take pages) ------------------------------------------ */
  var countdown = document.getElementById("countdown");
  var endsAt = null;

  function syncCountdown(secondsLeft) {
    endsAt = performance.now() + Number(secondsLeft) * 1000;
  }

  function pad(n) {
    return n < 10 ? "0" + n : String(n);
  }

  function secondsLeft() {
    return Math.max(0, Math.round((endsAt - performance.now()) / 1000));
  }

  /* --- countdown announcements (issue #16 item 1) ---------------------------------- */
  var THRESHOLDS = [600, 300, 60]; // announced once each as the time left crosses them
  var REARM = 30; // s above a threshold said: extra time (a credit), not a save's jitter
  var lastLeft = null;
  var said = {}; // the thresholds announced, until the time left grows well above one
  var lang = document.documentElement.lang || "en";

  /* "12 minutes, 30 seconds" in the page's language, plurals by the browser's CLDR data. */
  function spokenDuration(left) {
    var parts = { hours: Math.floor(left / 3600), minutes: Math.floor((left % 3600) / 60), seconds: left % 60 };
    if (window.Intl && Intl.DurationFormat) {
      return new Intl.DurationFormat(lang, { style: "long" }).format(parts);
    }
    var minutes = Math.ceil(left / 60);
    return new Intl.NumberFormat(lang, { style: "unit", unit: "minute", unitDisplay: "long" }).format(minutes);
  }

  function announceTimeLeft() {
    var region = document.getElementById("time-announcer");
    announce(region, countdown.dataset.announce.replace("{time}", spokenDuration(secondsLeft())));
  }

  function announceThresholds(left) {
    if (lastLeft !== null) {
      THRESHOLDS.forEach(function (threshold) {
        if (left > threshold + REARM) {
          said[threshold] = false;
        } else if (lastLeft > threshold && left <= threshold && left > 0 && !said[threshold]) {
          said[threshold] = true;
          var region = document.getElementById("time-announcer");
          announce(region, countdown.dataset.announce.replace("{time}", spokenDuration(threshold)));
        }
      });
    }
    lastLeft = left;
  }

  var timeLeftButton = document.getElementById("time-left");
  if (countdown && timeLeftButton) {
    timeLeftButton.hidden = false;
    timeLeftButton.addEventListener("click", announceTimeLeft);
    document.addEventListener("keydown", function (event) {
      if (event.altKey && event.shiftKey && event.code === "KeyM") {
        event.preventDefault();
        announceTimeLeft();
      }
    });
  }
  /* --- end of the countdown announcements ------------------------------------------ */

  function tick() {
    var left = secondsLeft();
    var hours = Math.floor(left / 3600);
    var text = pad(Math.floor((left % 3600) / 60)) + ":" + pad(left % 60);
    countdown.textContent = hours ? hours + ":" + text : text;
    countdown.classList.toggle("urgent", left <= 60);
    announceThresholds(left);
    if (left === 0) {
      timeUp();
      return;
    }
    window.setTimeout(tick, 1000);
  }

  /* --- time credited for a service interruption (issue #16 item 2) ----------------- */
  /* The worker credits an outage once the service is back, so the deadline may have moved
   * since the page last heard from the server. At zero the page asks the server (the time
   * URL) before it submits, and asks again until the server answers; a while after its
   * saves recover from a failure it asks too, to show the new time and why. */
  var credit = document.getElementById("time-credit");

  function checkTime() {
    return fetch(credit.dataset.timeUrl, {
      credentials: "same-origin",
      redirect: "manual",
      signal: AbortSignal.timeout(15000),
      headers: { "HX-Request": "true" },
    }).then(function (response) {
      if (response.status >= 500 || response.status === 408 || response.status === 429) {
        throw new Error("not answering: " + response.status);
      }
      if (!response.ok) {
        return 0; // logged out or gone: the server will not say, submit as before
      }
      return response.text().then(function (html) {
        var fragment = document.createElement("template");
        fragment.innerHTML = html;
        var note = fragment.content.getElementById("time-credit");
        var said = credit.textContent.trim();
        credit.replaceWith(note);
        credit = note;
        if (note.textContent.trim() && note.textContent.trim() !== said) {
          // A new credit is a status message; the note is no live region, the announcer is.
          announce(document.getElementById("time-announcer"), note.textContent.trim());
        }
        var seconds = Number(fragment.content.querySelector("[data-seconds-left]").dataset.secondsLeft);
        syncCountdown(seconds);
        return seconds;
      });
    });
  }

  function submitTimeUp() {
    var form = document.getElementById("time-up-form");
    if (form && !form.dataset.sent) {
      form.dataset.sent = "1";
      form.submit();
    }
  }

  function timeUp() {
    if (!credit) {
      submitTimeUp();
      return;
    }
    checkTime().then(
      function (seconds) {
        if (seconds > 0) {
          tick();
        } else {
          // Answers still queued go first (a late one may be taken in grace).
          (root ? flush() : Promise.resolve()).then(submitTimeUp);
        }
      },
      function () {
        window.setTimeout(timeUp, 5000);
      },
    );
  }
  /* --- end of the time credit --------------------------------------------------------- */

  if (countdown) {
    syncCountdown(countdown.dataset.secondsLeft);
    tick();
  }

  var root = document.getElementById("attempt");
  if (!root) {
    return;
  }
  root.classList.add("js");

  /* --- one question at a time ----------------------------------------------------- */
  function markCurrent(position) {
    document.querySelectorAll(".map-cell").forEach(function (cell) {
      var current = cell.dataset.goto === String(position);
      cell.classList.toggle("current", current);
      if (current) {
        cell.setAttribute("aria-current", "step");
      } else {
        cell.removeAttribute("aria-current");
      }
    });
  }

  /* Show question `position`; `focus`: the teacher moved there, so their focus (on a link or
   * form of the question now hidden) goes to the new question's heading. */
  function show(position, focus) {
    var target = document.getElementById("q-" + position);
    if (!target) {
      return;
    }
    document.querySelectorAll("section.question").forEach(function (section) {
      section.hidden = section !== target;
    });
    markCurrent(position);
    history.replaceState(null, "", "?q=" + position);
    if (focus) {
      target.querySelector(".question-text").focus();
    }
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest("[data-goto]");
    if (link) {
      event.preventDefault();
      show(link.dataset.goto, true);
    }
  });
  var current = document.querySelector("section.question:not([hidden])");
  if (current) {
    show(current.dataset.position);
  }

  /* --- the queue of unsent answers ------------------------------------------------ */
  var storageKey = "crowdproof:pending:" + root.dataset.attemptId;
  var indicator = document.getElementById("connection-state");
  var flushing = null; // the running flush, shared by whoever asks for one
  var retryTimer = null;
  var pendingCount = document.getElementById("pending-count");
  var pendingLabels = document.getElementById("pending-labels").content;
  var queueAnnouncer = document.getElementById("queue-announcer");
  var announceTimer = null;
  var announcedPending = false;

  /* Show how many answers wait to be sent. Screen readers hear it only once the number has
   * stood for 2 s (a save that goes through at once is not worth a word), and hear "All
   * answers saved" when a queue they were told about is empty again. */
  function showPending(count) {
    var label = pendingLabels.querySelector('[data-count="' + count + '"]');
    pendingCount.textContent = label ? label.textContent : "";
    pendingCount.hidden = !count;
    pendingCount.dataset.count = count;
    window.clearTimeout(announceTimer);
    announceTimer = window.setTimeout(function () {
      if (count) {
        announce(queueAnnouncer, pendingCount.textContent);
        announcedPending = true;
      } else if (announcedPending) {
        announce(queueAnnouncer, indicator.getAttribute("data-label-saved"));
        announcedPending = false;
      }
    }, 2000);
  }

  function load() {
    try {
      return JSON.parse(window.localStorage.getItem(storageKey) || "[]");
    } catch (e) {
      return [];
    }
  }

  function store(queue) {
    window.localStorage.setItem(storageKey, JSON.stringify(queue));
    showPending(queue.length);
  }

  function setState(state) {
    indicator.dataset.state = state;
    indicator.textContent = indicator.getAttribute("data-label-" + state);
  }

  function enqueue(form) {
    var body = new URLSearchParams(new FormData(form));
    body.delete("csrfmiddlewaretoken");
    // The newest state of a question replaces an unsent older one; the order is kept.
    var queue = load().filter(function (entry) {
      return entry.url !== form.action;
    });
    // left: ms on the timer when given, sent with a save held up by a failure (the grace).
    var left = countdown ? Math.max(0, Math.round(endsAt - performance.now())) : 0;
    queue.push({ id: Date.now() + "-" + Math.random(), url: form.action, body: body.toString(), left: left });
    store(queue);
    flush();
  }

  var heldUp = false; // a failure since the last successful save
  var toldWhy = null; // the server's reason for a 503 shown to the teacher, until an answer

  function retryLater(state) {
    heldUp = true;
    store(load().map(function (entry) {
      entry.held = true; // every answer waiting now is held up by the failure
      return entry;
    }));
    setState(state);
    window.clearTimeout(retryTimer);
    retryTimer = window.setTimeout(flush, 5000);
  }

  // Sent again later: timeouts and rate limits (5xx too); any other refusal is final.
  var RETRIED = [408, 429];

  /* A refusal shows next to its question (a role=alert message), or where the server said
   * (its HX-Retarget: the message area) when the question is not on this page; a later save
   * clears it. */
  function reportRefusal(url, html, target) {
    var form = document.querySelector('form[action="' + new URL(url, location.href).pathname + '"]');
    var slot = form && form.closest("section.question").querySelector("[data-answer-message]");
    if (slot) {
      htmx.swap(slot, html, { swapStyle: "innerHTML" });
    } else if (html && target) {
      htmx.swap(target, html, { swapStyle: "innerHTML" });
    }
  }

  /* Send the queue in order, one request at a time; resolves when it is empty or stuck. */
  function flush() {
    if (!flushing) {
      flushing = sendAll().finally(function () {
        flushing = null;
      });
    }
    return flushing;
  }

  async function sendAll() {
    var queue = load();
    while (queue.length) {
      setState("saving");
      var entry = queue[0];
      var response;
      try {
        response = await fetch(entry.url, {
          method: "POST",
          body: entry.held && entry.left ? entry.body + "&queued_left_ms=" + entry.left : entry.body,
          credentials: "same-origin",
          redirect: "manual", // logged out: the login page is not a saved answer
          signal: AbortSignal.timeout(15000), // a hung connection counts as offline
          headers: {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-CSRFToken": csrfToken(),
            // Stands in for the session and the user on the server (save_grants.py).
            "X-Save-Grant": root.dataset.saveGrant || "",
            "HX-Request": "true",
          },
        });
      } catch (e) {
        retryLater("offline");
        return;
      }
      if (response.type === "opaqueredirect" || response.status === 403) {
        setState("reload"); // logged out, or a new login rotated the CSRF token: kept
        return;
      }
      if (RETRIED.indexOf(response.status) !== -1 || response.status >= 500) {
        var target = response.headers.get("HX-Retarget");
        if (response.status === 503 && target) {
          // Not yet, and the server says why (e.g. lost time being given back): told once.
          var why = await response.text();
          if (why !== toldWhy) {
            toldWhy = why;
            reportRefusal(entry.url, why, target);
          }
        }
        retryLater("saving");
        return;
      }
      toldWhy = null;
      var html = await response.text();
      if (response.ok) {
        htmx.swap("#save-status", html, { swapStyle: "innerHTML" });
        markCurrent(new URLSearchParams(location.search).get("q")); // the swapped map cell
        var seconds = document.querySelector("#save-status [data-seconds-left]");
        if (seconds && countdown) {
          syncCountdown(seconds.dataset.secondsLeft);
        }
        if (heldUp && credit) {
          // Back after a failure: an outage credit may follow within a sweep or two.
          heldUp = false;
          window.setTimeout(function () {
            checkTime().catch(function () {});
          }, 30000 + Math.random() * 60000);
        }
        reportRefusal(entry.url, "", null);
      } else {
        // Refused (bad input, deadline): final. Sending it again would be refused again and
        // hold back every later answer, so it leaves the queue and the teacher is told why.
        reportRefusal(entry.url, html, response.headers.get("HX-Retarget"));
      }
      queue = load().filter(function (item) {
        return item.id !== entry.id;
      });
      store(queue);
    }
    setState("saved");
  }

  /* Answers not yet sent (e.g. offline, then reloaded): put them back into the forms. */
  function restore() {
    load().forEach(function (entry) {
      var form = document.querySelector('form[action="' + new URL(entry.url).pathname + '"]');
      if (!form) {
        return;
      }
      var params = new URLSearchParams(entry.body);
      form.querySelectorAll("input, textarea").forEach(function (input) {
        if (input.name === "csrfmiddlewaretoken") {
          return;
        }
        if (input.type === "checkbox" || input.type === "radio") {
          input.checked = params.getAll(input.name).indexOf(input.value) !== -1;
        } else {
          input.value = params.get(input.name) || "";
        }
      });
    });
  }

  var typing = null;
  document.querySelectorAll("form[data-answer-form]").forEach(function (form) {
    form.addEventListener("change", function () {
      enqueue(form);
    });
    form.addEventListener("input", function (event) {
      if (event.target.tagName === "TEXTAREA") {
        window.clearTimeout(typing);
        typing = window.setTimeout(function () {
          enqueue(form);
        }, 800);
      }
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      enqueue(form);
      var next = form.closest("section.question").nextElementSibling;
      if (next && next.dataset.position) {
        show(next.dataset.position, true);
      }
    });
  });

  /* Leaving for the review page waits until every answer is on the server. */
  document.querySelectorAll("[data-needs-sync]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      if (!load().length) {
        return;
      }
      event.preventDefault();
      flush().then(function () {
        if (!load().length) {
          window.location.href = link.href;
        }
      });
    });
  });

  window.addEventListener("online", flush);
  window.addEventListener("offline", function () {
    setState("offline");
  });
  restore();
  showPending(load().length);
  flush();
})();
