/* The big screen's camera tiles, drawn in the browser.

   * The camera wall (#camera-wall): the server sends data, not components
     (camera-wall-data, see callbacks/cameras.py); ``render`` keeps one ``.sc-cam`` element per
     slot and changes a slot's picture only once the next picture has loaded (off-screen), so
     a page turn, a new follow or a refresh never shows an empty or black tile. Offline cameras
     show their placeholder at once.
   * Snapshot tiles (``img[data-snapshot]``, on the wall and in the detail panel) are refreshed
     every few seconds while the page is visible, double-buffered the same way; a picture that
     fails to load keeps the previous one and the tile is marked ``sc-cam-failed`` after a few
     failures in a row.
   * HLS tiles (``video[data-hls]``): hls.js is loaded from this app's assets the first time
     one appears. */
(function () {
    "use strict";
    const SNAPSHOT_EVERY_MS = 3000;     // refresh of snapshot tiles
    const FAILS_BEFORE_MARK = 3;        // failed loads in a row before a tile says so
    const READY_TIMEOUT_MS = 15000;     // a stream or player that shows nothing by then failed
    const STREAM_RETRY_TICKS = 5;       // a failed stream tile retries every this many refreshes
    const IMAGE_KINDS = {sim: 1, snapshot: 1, mjpeg: 1};
    const SNAPSHOT_KINDS = {sim: 1, snapshot: 1};

    function withStamp(url, t) {
        return url + (url.indexOf("?") >= 0 ? "&" : "?") + "t=" + t;
    }

    /* ------------------------------------------------------------------ hls.js on demand */
    let hlsLoading = null;
    function withHls(cb) {
        if (window.Hls) { cb(window.Hls); return; }
        if (!hlsLoading) {
            hlsLoading = new Promise(function (resolve) {
                const s = document.createElement("script");
                s.src = "/assets/vendor/hls.min.js";
                s.onload = function () { resolve(window.Hls); };
                s.onerror = function () { hlsLoading = null; resolve(null); };
                document.head.appendChild(s);
            });
        }
        hlsLoading.then(cb);
    }

    function attachHls(v) {
        v.setAttribute("data-hls-on", "1");
        const src = v.getAttribute("data-hls");
        if (v.canPlayType("application/vnd.apple.mpegurl")) { v.src = src; return; }
        withHls(function (Hls) {
            if (Hls && Hls.isSupported() && v.getAttribute("data-hls") === src) {
                const h = new Hls();
                h.loadSource(src);
                h.attachMedia(v);
                v._gdHls = h;
            }
        });
    }

    /* HLS players rendered by Dash (the detail panel's tiles). */
    new MutationObserver(function () {
        document.querySelectorAll("video[data-hls]:not([data-hls-on])").forEach(attachHls);
    }).observe(document.documentElement, {childList: true, subtree: true});

    /* ------------------------------------------------------------------ loading off-screen */

    /* Loads ``tile``'s media without showing it; ``done(el)`` with a media element that has a
       picture, or ``done(null)`` when it failed. ``slot`` is needed only for players that load
       only inside the document (iframes): they wait in the slot, invisible. */
    function loadMedia(tile, slot, src, done) {
        let finished = false, timer = null, poll = null, cand = null;
        function finish(el) {
            if (finished) { return; }
            finished = true;
            clearTimeout(timer);
            clearInterval(poll);
            if (!el) { disposeMedia(cand); }
            done(el);
        }
        timer = setTimeout(function () {
            // A player page may never say "load" through a proxy: show it anyway.
            finish(tile.kind === "embed" ? cand : null);
        }, READY_TIMEOUT_MS);
        if (IMAGE_KINDS[tile.kind]) {
            cand = new Image();
            cand.className = "sc-cam-img";
            cand.alt = "";
            cand.decoding = "async";
            if (SNAPSHOT_KINDS[tile.kind]) { cand.setAttribute("data-snapshot", tile.src); }
            const ready = function () {
                if (cand.naturalWidth > 0) { finish(cand); }
            };
            cand.onload = function () {
                if (cand.decode) {
                    cand.decode().then(ready, function () { cand.naturalWidth > 0 ? ready() : finish(null); });
                } else {
                    ready();
                }
            };
            cand.onerror = function () { finish(null); };
            if (tile.kind === "mjpeg") {
                // A multipart stream may not fire "load": its first frame is enough.
                poll = setInterval(ready, 250);
            }
            cand.src = src;
        } else if (tile.kind === "hls") {
            cand = document.createElement("video");
            cand.className = "sc-cam-img";
            cand.muted = true;
            cand.autoplay = true;
            cand.playsInline = true;
            cand.setAttribute("muted", "");
            cand.setAttribute("data-hls", src);
            cand.addEventListener("loadeddata", function () { finish(cand); });
            cand.addEventListener("error", function () { finish(null); });
            attachHls(cand);
        } else {  // embed: an iframe loads only inside the document
            cand = document.createElement("iframe");
            cand.className = "sc-cam-img sc-cam-next";
            cand.setAttribute("data-embed", "1");
            cand.setAttribute("tabindex", "-1");
            cand.addEventListener("load", function () { finish(cand); });
            cand.src = src;
            slot.appendChild(cand);
        }
    }

    function disposeMedia(el) {
        if (!el) { return; }
        if (el._gdHls) { try { el._gdHls.destroy(); } catch (e) { /* gone already */ } el._gdHls = null; }
        if (el.tagName === "VIDEO") { try { el.pause(); } catch (e) { /* ignore */ } }
        if (el.parentNode) { el.parentNode.removeChild(el); }
        if (el.tagName !== "VIDEO") { el.removeAttribute("src"); }  // ends an MJPEG stream
    }

    /* ------------------------------------------------------------------ the wall's slots */

    function slotState(slot) {
        if (!slot._gd) { slot._gd = {shown: null, media: null, pending: null, token: 0, fails: 0, busy: false, ticks: 0}; }
        return slot._gd;
    }

    function same(a, b) {
        return !!a && !!b && a.id === b.id && a.online === b.online && a.src === b.src && a.kind === b.kind;
    }

    function nameDiv(slot) {
        let el = slot.querySelector(":scope > .sc-cam-name");
        if (!el) {
            el = document.createElement("div");
            el.className = "sc-cam-name";
            slot.appendChild(el);
        }
        return el;
    }

    function setCaption(slot, tile) {
        const el = nameDiv(slot);
        if (el.textContent !== tile.name) { el.textContent = tile.name; }
        if (el.title !== tile.title) { el.title = tile.title || ""; }
        slot.setAttribute("data-camera", tile.id);
        slot.setAttribute("data-kind", tile.kind);
    }

    function clearPlaceholder(slot) {
        slot.querySelectorAll(":scope > .sc-cam-placeholder").forEach(function (p) { p.remove(); });
    }

    /* Show ``media`` (loaded) as ``tile``'s picture in ``slot``. */
    function showMedia(slot, tile, media) {
        const st = slotState(slot);
        const old = st.media;
        media.classList.remove("sc-cam-next");
        if (old && old !== media && old.parentNode === slot) {
            slot.replaceChild(media, old);       // one step: no frame without a picture
        } else if (slot.firstChild !== media) {
            slot.insertBefore(media, slot.firstChild);
        }
        if (old && old !== media) { disposeMedia(old); }
        clearPlaceholder(slot);
        if (media.tagName === "VIDEO") { const p = media.play && media.play(); if (p && p.catch) { p.catch(function () {}); } }
        st.media = media;
        st.shown = tile;
        st.fails = 0;
        slot.className = "sc-cam";
        setCaption(slot, tile);
    }

    function placeholder(slot, lines) {
        const ph = document.createElement("div");
        ph.className = "sc-cam-placeholder";
        lines.forEach(function (l) {
            const d = document.createElement("div");
            d.className = l[0];
            d.textContent = l[1];
            ph.appendChild(d);
        });
        clearPlaceholder(slot);
        slot.insertBefore(ph, slot.firstChild);
    }

    function showOffline(slot, tile, texts) {
        const st = slotState(slot);
        disposeMedia(st.media);
        st.media = null;
        st.shown = tile;
        st.fails = 0;
        placeholder(slot, [["sc-cam-off", texts.camera_offline || "OFFLINE"],
                           ["sc-cam-seen", (texts.camera_last_seen || "") + " " + (tile.seen || "–")]]);
        slot.className = "sc-cam sc-cam-offline";
        setCaption(slot, tile);
    }

    /* ``tile``'s picture could not be loaded and the slot has none of this camera to keep:
       say so with a placeholder (never a black tile); the refresh keeps trying. */
    function showFailed(slot, tile) {
        const st = slotState(slot);
        disposeMedia(st.media);
        st.media = null;
        st.shown = tile;
        placeholder(slot, []);
        slot.className = "sc-cam sc-cam-failed sc-cam-nopic";
        setCaption(slot, tile);
    }

    function markFailure(slot, st) {
        st.fails += 1;
        if (st.fails >= FAILS_BEFORE_MARK) { slot.classList.add("sc-cam-failed"); }
    }

    /* Put ``tile`` into ``slot``: at once when offline, otherwise once its picture loaded. */
    function place(slot, tile, texts) {
        const st = slotState(slot);
        if (same(st.shown, tile)) {
            st.pending = null;
            st.token += 1;             // a page turn that came back: drop the load under way
            if (!tile.online) { showOffline(slot, tile, texts); } else { setCaption(slot, tile); }
            return;
        }
        if (same(st.pending, tile)) { return; }
        const token = ++st.token;
        st.pending = tile;
        if (!tile.online) { st.pending = null; showOffline(slot, tile, texts); return; }
        let tries = 0;
        (function attempt() {
            const src = tries === 0 ? tile.src : withStamp(tile.src, Date.now());
            loadMedia(tile, slot, src, function (media) {
                if (st.token !== token) { disposeMedia(media); return; }  // superseded
                if (media) { st.pending = null; showMedia(slot, tile, media); return; }
                tries += 1;
                if (tries < FAILS_BEFORE_MARK) { setTimeout(attempt, 1000 * tries); return; }
                st.pending = null;
                showFailed(slot, tile);
            });
        })();
    }

    function render(data) {
        const noUpdate = window.dash_clientside.no_update;
        const wall = document.getElementById("camera-wall");
        if (!wall || !data || !Array.isArray(data.tiles)) { return noUpdate; }
        wall.setAttribute("data-follow", data.following || "");
        wall.setAttribute("data-key", data.key || "");
        const texts = data.texts || {};
        const slots = Array.prototype.filter.call(wall.children, function (e) {
            return e.classList.contains("sc-cam");
        });
        for (let i = data.tiles.length; i < slots.length; i++) {
            const st = slotState(slots[i]);
            st.token += 1;
            disposeMedia(st.media);
            slots[i].remove();
        }
        data.tiles.forEach(function (tile, i) {
            let slot = slots[i];
            if (!slot) {
                slot = document.createElement("div");
                slot.className = "sc-cam sc-cam-empty";
                wall.appendChild(slot);
            }
            place(slot, tile, texts);
        });
        return data.key || "";
    }

    /* ------------------------------------------------------------------ refresh */

    function refreshSlot(slot, t) {
        const st = slotState(slot);
        const tile = st.shown;
        if (!tile || !tile.online || st.busy || st.pending) { return; }
        if (!SNAPSHOT_KINDS[tile.kind]) {
            // Streams refresh themselves; one that never came retries now and then.
            if (st.media || (++st.ticks % STREAM_RETRY_TICKS) !== 0) { return; }
        }
        st.busy = true;
        loadMedia(tile, slot, withStamp(tile.src, t), function (media) {
            st.busy = false;
            if (st.shown !== tile || st.pending) { disposeMedia(media); return; }  // moved on meanwhile
            if (media) { showMedia(slot, tile, media); } else { markFailure(slot, st); }
        });
    }

    /* A snapshot image that Dash rendered (the detail panel): its element is React's, so the
       next picture is loaded aside and then set as its source (from the image cache). */
    function refreshImage(img, t) {
        if (img._gdBusy) { return; }
        const base = img.getAttribute("data-snapshot");
        const next = new Image();
        const tile = img.closest(".sc-cam");
        img._gdBusy = true;
        next.onload = function () {
            const swap = function () {
                img._gdBusy = false;
                img._gdFails = 0;
                if (img.isConnected && img.getAttribute("data-snapshot") === base) {
                    img.src = next.src;
                    if (tile) { tile.classList.remove("sc-cam-failed", "sc-cam-broken"); }
                }
            };
            next.decode ? next.decode().then(swap, swap) : swap();
        };
        next.onerror = function () {
            img._gdBusy = false;
            img._gdFails = (img._gdFails || 0) + 1;
            if (tile && img._gdFails >= FAILS_BEFORE_MARK) { tile.classList.add("sc-cam-failed"); }
        };
        next.src = withStamp(base, t);
    }

    setInterval(function () {
        if (document.visibilityState !== "visible") { return; }
        const t = Date.now();
        const wall = document.getElementById("camera-wall");
        if (wall && wall.offsetParent !== null) {
            Array.prototype.forEach.call(wall.children, function (slot) {
                if (slot._gd) { refreshSlot(slot, t); }
            });
        }
        document.querySelectorAll("img[data-snapshot]").forEach(function (img) {
            if (!img.isConnected || img.offsetParent === null || img.closest("#camera-wall")) { return; }
            refreshImage(img, t);
        });
    }, SNAPSHOT_EVERY_MS);

    /* A Dash-rendered tile whose first picture fails shows its tile's background, not a broken
       image; it recovers with the next picture that loads. */
    document.addEventListener("error", function (e) {
        const img = e.target;
        if (img && img.tagName === "IMG" && img.classList.contains("sc-cam-img") && !img.closest("#camera-wall")) {
            const tile = img.closest(".sc-cam");
            if (tile) { tile.classList.add("sc-cam-failed", "sc-cam-broken"); }
        }
    }, true);
    document.addEventListener("load", function (e) {
        const img = e.target;
        if (img && img.tagName === "IMG" && img.classList.contains("sc-cam-img") && !img.closest("#camera-wall")) {
            const tile = img.closest(".sc-cam");
            if (tile) { tile.classList.remove("sc-cam-failed", "sc-cam-broken"); }
        }
    }, true);

    window.dash_clientside = window.dash_clientside || {};
    window.dash_clientside.griddash_cameras = {render: render};
})();
