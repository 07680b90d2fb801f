// A classic script each page loads before its module. When the module graph fails to load
// (a phone switching networks mid-load: Chromium fails the requests in flight with
// ERR_NETWORK_CHANGED, and one missing module stops the whole page), reload, up to three
// times with a growing wait, then say so instead of leaving a blank page.
(function () {
  var KEY = "classroom-boot-retries";
  var failed = false;
  window.addEventListener("error", function (event) {
    var el = event.target;
    if (!el || el.tagName !== "SCRIPT" || el.type !== "module" || failed) return;
    failed = true;
    var tries = Number(sessionStorage.getItem(KEY) || "0");
    if (tries < 3) {
      sessionStorage.setItem(KEY, String(tries + 1));
      setTimeout(function () { location.reload(); }, 500 * (tries + 1));
      return;
    }
    sessionStorage.removeItem(KEY);
    var note = document.createElement("main");
    note.id = "main";
    note.setAttribute("role", "alert");
    note.className = "boot-failed";
    var text = document.createElement("p");
    text.textContent = "페이지를 다 불러오지 못했습니다. 연결을 확인하고 다시 시도하세요. — " +
      "The page did not load completely. Check your connection and try again.";
    var again = document.createElement("button");
    again.type = "button";
    again.textContent = "다시 시도 · Try again";
    again.addEventListener("click", function () { location.reload(); });
    note.appendChild(text);
    note.appendChild(again);
    document.body.appendChild(note);
  }, true);
  window.addEventListener("load", function () {
    if (!failed) sessionStorage.removeItem(KEY);
  });
})();
