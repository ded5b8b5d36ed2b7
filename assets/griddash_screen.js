/* Big-screen helpers that need no server work: the clock, the connection state of the wall
   (connecting / live / stale / revoked), each panel's own staleness, and the alarm sound.
   Camera tiles: assets/griddash_cameras.js. */
(function () {
    const STALE_AFTER_MS = 10000;      // no heartbeat for this long: the data is interrupted
    const CONNECT_GRACE_MS = 20000;    // a fresh page says "connecting" this long before "stale"
    const loadedAt = Date.now();
    let lastOk = null, lastOkAt = null, revoked = false, lastAlarmIds = null;

    const formatters = {};
    /* The wall clock in the deployment's time zone (not the kiosk PC's), e.g. 11-27 09:30:05. */
    function formatClock(d, tz, timeOnly) {
        const key = tz || "local";
        if (!formatters[key]) {
            formatters[key] = new Intl.DateTimeFormat("en-CA", {timeZone: tz, hour12: false, year: "numeric",
                month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit"});
        }
        const p = {};
        formatters[key].formatToParts(d).forEach(function (x) { p[x.type] = x.value; });
        const time = (p.hour === "24" ? "00" : p.hour) + ":" + p.minute + ":" + p.second;
        return timeOnly ? time : p.month + "-" + p.day + " " + time;  // the wall's clock: 12-03 09:30:05
    }

    /* A refused callback (401: the kiosk link was revoked, or the session ended) means the wall
       will never update again: say so instead of showing a plain outage. */
    const origFetch = window.fetch;
    window.fetch = function (input, init) {
        return origFetch.apply(this, arguments).then(function (resp) {
            const url = typeof input === "string" ? input : (input && input.url) || "";
            if (url.indexOf("_dash-update-component") >= 0 && (resp.status === 401 || resp.status === 403)) {
                revoked = true;
            }
            return resp;
        });
    };

    function setText(id, text) {
        const el = document.getElementById(id);
        if (el && el.textContent !== text) { el.textContent = text; }
    }

    /* Panels whose figures are older than twice their refresh interval dim and say since when. */
    function markPanel(panelId, noteId, asof, tz, texts) {
        const panel = document.getElementById(panelId);
        if (!panel) { return; }
        if (asof && asof.at) {  // read by bench/plausibility.py: each panel's own "as of"
            panel.setAttribute("data-asof", String(asof.at));
            panel.setAttribute("data-every", String(asof.every));
        }
        const stale = !!(asof && asof.at && Date.now() - asof.at > 2 * asof.every);
        panel.classList.toggle("sc-panel-stale", stale);
        setText(noteId, stale ? " · " + texts.stale_since.replace("{t}", formatClock(new Date(asof.at), tz, true)) : "");
    }


    window.griddash = Object.assign({}, window.griddash, {
        screen: {
            /* Called every second. ``ok`` is the server's last heartbeat (changes every live
               tick); ``kpi``/``slow`` are {at: ms, every: ms} of the figures on the panels. */
            tick: function (ok, kpi, slow, cfg) {
                cfg = cfg || {};
                const texts = cfg.texts || {};
                const now = Date.now();
                if (ok !== null && ok !== undefined && ok !== lastOk) { lastOk = ok; lastOkAt = now; }
                let state;
                if (revoked) {
                    state = "revoked";
                } else if (lastOkAt === null) {
                    state = now - loadedAt < CONNECT_GRACE_MS ? "connecting" : "stale";
                } else {
                    state = now - lastOkAt > STALE_AFTER_MS ? "stale" : "live";
                }
                const root = document.getElementById("screen-root");
                if (root) {
                    root.classList.toggle("sc-wall-stale", state === "stale" || state === "revoked");
                }
                const notice = document.getElementById("wall-notice");
                if (notice) {
                    let msg = "";
                    if (state === "revoked") {
                        msg = texts.revoked_note || "";
                    } else if (state === "stale") {
                        const since = lastOkAt ? formatClock(new Date(lastOk), cfg.tz, true) : "–";
                        msg = (texts.stale_note || "").replace("{t}", since);
                    }
                    if (notice.textContent !== msg) { notice.textContent = msg; }
                    notice.className = "sc-notice" + (msg ? " sc-notice-" + state : " hidden");
                }
                markPanel("panel-kpis", "kpi-stale-note", kpi, cfg.tz, texts);
                markPanel("panel-levels", "kpi-stale-note", kpi, cfg.tz, texts);
                markPanel("panel-ranking", "ranking-stale-note", slow, cfg.tz, texts);
                markPanel("panel-trend", "trend-stale-note", slow, cfg.tz, texts);
                const live = lastOkAt ? {at: lastOk, every: 5000} : null;
                markPanel("panel-ticker", "ticker-stale-note", live, cfg.tz, texts);
                markPanel("panel-map", "", live, cfg.tz, texts);
                const clock = formatClock(new Date(), cfg.tz || undefined);
                return [clock, texts[state] || state, "sc-status " + state];
            },
            /* The kiosk's optional alarm sound (?sound=1): once for every new red case. */
            alarm: function (alerts, cfg) {
                const ids = (alerts || []).map(function (a) { return a.id; });
                if (lastAlarmIds !== null && cfg && cfg.sound) {
                    const fresh = ids.filter(function (i) { return lastAlarmIds.indexOf(i) < 0; });
                    if (fresh.length) { window.griddash.beep(); }
                }
                lastAlarmIds = ids;
                return ids.length;
            }
        }
    });
})();
