/* Big-screen helpers that need no server work: the clock, the live/stale indicator, and the
   camera tiles (snapshot refresh for visible tiles, HLS players loaded on demand). */
(function () {
    const STALE_AFTER_MS = 10000;
    const SNAPSHOT_EVERY_MS = 3000;
    let lastOk = null, lastOkAt = Date.now();

    const formatters = {};
    /* The wall clock in the deployment's time zone (not the kiosk PC's), e.g. 2026-11-27 09:30:05. */
    function formatClock(d, tz) {
        const key = tz || "local";
        if (!formatters[key]) {
            formatters[key] = new Intl.DateTimeFormat("en-CA", {timeZone: tz, hour12: false, year: "numeric",
                month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit"});
        }
        const p = {};
        formatters[key].formatToParts(d).forEach(function (x) { p[x.type] = x.value; });
        return p.year + "-" + p.month + "-" + p.day + " " + (p.hour === "24" ? "00" : p.hour) + ":" + p.minute + ":" + p.second;
    }

    window.griddash = Object.assign({}, window.griddash, {
        screen: {
            /* Called every second with the server's last heartbeat value. The indicator is
               "live" while heartbeats keep changing, "stale" when none came for 10 s
               (Redis or database down, server gone, network cut), and recovers by itself. */
            tick: function (ok, cfg) {
                if (ok !== lastOk) { lastOk = ok; lastOkAt = Date.now(); }
                const clock = formatClock(new Date(), (cfg && cfg.tz) || undefined);
                const el = document.getElementById("live-status");
                const stale = ok === null || ok === undefined || Date.now() - lastOkAt > STALE_AFTER_MS;
                const label = el ? el.getAttribute(stale ? "data-stale" : "data-live") : (stale ? "STALE" : "LIVE");
                return [clock, label, stale ? "sc-status stale" : "sc-status live"];
            }
        }
    });

    /* Refresh snapshot tiles every few seconds, only while the page is visible. */
    setInterval(function () {
        if (document.visibilityState !== "visible") { return; }
        const t = Date.now();
        document.querySelectorAll("img[data-snapshot]").forEach(function (img) {
            if (!img.isConnected || img.offsetParent === null) { return; }
            const base = img.getAttribute("data-snapshot");
            img.src = base + (base.indexOf("?") >= 0 ? "&" : "?") + "t=" + t;
        });
    }, SNAPSHOT_EVERY_MS);

    /* A tile whose image fails shows a placeholder instead of a broken image. */
    document.addEventListener("error", function (e) {
        const img = e.target;
        if (img && img.tagName === "IMG" && img.hasAttribute("data-snapshot")) {
            img.closest(".sc-cam") && img.closest(".sc-cam").classList.add("sc-cam-failed");
        }
    }, true);
    document.addEventListener("load", function (e) {
        const img = e.target;
        if (img && img.tagName === "IMG" && img.hasAttribute("data-snapshot")) {
            img.closest(".sc-cam") && img.closest(".sc-cam").classList.remove("sc-cam-failed");
        }
    }, true);

    /* HLS tiles: load hls.js from our own assets the first time one appears. */
    let hlsLoading = null;
    function withHls(cb) {
        if (window.Hls) { cb(window.Hls); return; }
        if (!hlsLoading) {
            hlsLoading = new Promise(function (resolve) {
                const s = document.createElement("script");
                s.src = "/assets/vendor/hls.min.js";
                s.onload = function () { resolve(window.Hls); };
                document.head.appendChild(s);
            });
        }
        hlsLoading.then(cb);
    }
    new MutationObserver(function () {
        document.querySelectorAll("video[data-hls]:not([data-hls-on])").forEach(function (v) {
            v.setAttribute("data-hls-on", "1");
            const src = v.getAttribute("data-hls");
            if (v.canPlayType("application/vnd.apple.mpegurl")) { v.src = src; return; }
            withHls(function (Hls) {
                if (Hls && Hls.isSupported()) { const h = new Hls(); h.loadSource(src); h.attachMedia(v); }
            });
        });
    }).observe(document.documentElement, {childList: true, subtree: true});
})();
