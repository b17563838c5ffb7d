// Follows a running load: progress from the status endpoint, then a reload for the report.
(function () {
  "use strict";
  const page = document.getElementById("job");
  if (!page || page.dataset.finished) return;
  const timer = setInterval(() => {
    fetch(page.dataset.statusUrl, { credentials: "same-origin" })
      .then((r) => r.json())
      .then((s) => {
        const bar = document.getElementById("job-progress");
        if (s.total) bar.max = s.total;
        bar.value = s.done;
        document.getElementById("job-count").textContent = s.done + (s.total ? " / " + s.total : "");
        document.getElementById("job-message").textContent = s.message;
        if (s.finished) { clearInterval(timer); window.location.reload(); }
      })
      .catch(() => {});
  }, 1000);
})();
