/* <html lang> follows the page's language (?lang=en; simplified Chinese by default), also when
   Dash changes the URL without reloading the page. */
(function () {
    function apply() {
        const en = new URLSearchParams(window.location.search).get("lang") === "en";
        const lang = en ? "en" : "zh-CN";
        if (document.documentElement.lang !== lang) { document.documentElement.lang = lang; }
    }
    apply();
    ["pushState", "replaceState"].forEach(function (name) {
        const orig = history[name];
        history[name] = function () { const r = orig.apply(this, arguments); apply(); return r; };
    });
    window.addEventListener("popstate", apply);
})();
