// fusioncell pages: times in the reader's own zone, and live parts that do not refresh under the reader's hand.
"use strict";

function localTimes(root) {
  const lang = document.documentElement.lang || "en";
  const format = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "medium" });
  for (const el of root.querySelectorAll("time[datetime]")) {
    const when = new Date(el.getAttribute("datetime"));
    if (!Number.isNaN(when.getTime())) {
      el.title = el.textContent.trim(); // the UTC spelling stays one hover away
      el.textContent = format.format(when);
    }
  }
}

document.addEventListener("DOMContentLoaded", () => localTimes(document));
document.addEventListener("htmx:afterSettle", (event) => localTimes(event.detail.elt));
// a signed note opened for reading would close under a refresh: hold the refresh while one is open
document.addEventListener("htmx:beforeRequest", (event) => {
  if (event.detail.elt.id === "ledger-live" && event.detail.elt.querySelector("details[open]")) {
    event.preventDefault();
  }
});
