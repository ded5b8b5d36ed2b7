/* Map functions for dash-leaflet, referenced from Python with
   dash_extensions.javascript.Namespace("griddash", "map").
   Urgency colours and shapes come from the server (hideout.colors / hideout.shapes), defined
   once in dashboard/core/domain.py (URGENCY_STYLE); the grid fills (hideout.fill) follow the rule
   in dashboard/core/wall.py. Sizes follow the viewport's height, so symbols keep their size on the
   wall at 1080p and at 4K. */
(function () {
    /* Hatch patterns for the grid fills: red grids are cross-hatched, yellow ones striped, so
       the fills differ by pattern as well as by colour (colour-blind viewers, glare). */
    function ensurePatterns(colors) {
        if (document.getElementById("gd-patterns")) { return; }
        const ns = "http://www.w3.org/2000/svg";
        const svg = document.createElementNS(ns, "svg");
        svg.setAttribute("id", "gd-patterns");
        svg.setAttribute("width", "0"); svg.setAttribute("height", "0");
        svg.setAttribute("aria-hidden", "true");
        svg.style.position = "absolute";
        const defs = document.createElementNS(ns, "defs");
        function pattern(id, color, cross) {
            const p = document.createElementNS(ns, "pattern");
            p.setAttribute("id", id); p.setAttribute("patternUnits", "userSpaceOnUse");
            p.setAttribute("width", "10"); p.setAttribute("height", "10");
            p.setAttribute("patternTransform", "rotate(45)");
            const bg = document.createElementNS(ns, "rect");
            bg.setAttribute("width", "10"); bg.setAttribute("height", "10");
            bg.setAttribute("fill", color); bg.setAttribute("fill-opacity", "0.35");
            p.appendChild(bg);
            const l = document.createElementNS(ns, "rect");
            l.setAttribute("width", "4"); l.setAttribute("height", "10"); l.setAttribute("fill", color);
            p.appendChild(l);
            if (cross) {
                const c = document.createElementNS(ns, "rect");
                c.setAttribute("width", "10"); c.setAttribute("height", "4"); c.setAttribute("fill", color);
                p.appendChild(c);
            }
            defs.appendChild(p);
        }
        pattern("gd-fill-r", colors.r || "#e8402f", true);
        pattern("gd-fill-y", colors.y || "#ffe135", false);
        svg.appendChild(defs);
        document.body.appendChild(svg);
    }

    function unit() {  // 1 % of the viewport's height, in CSS pixels
        return Math.max(window.innerHeight, 400) / 100;
    }

    function symbol(shape, c, late) {
        let svg;
        if (shape === "triangle") {
            svg = '<polygon points="12,2.5 22,20.5 2,20.5" fill="' + c + '" stroke="#000" stroke-width="1.5"/>';
        } else if (shape === "square") {
            svg = '<rect x="4.5" y="4.5" width="15" height="15" fill="' + c + '" stroke="#000" stroke-width="1.5"/>';
        } else {
            svg = '<circle cx="12" cy="12" r="7.5" fill="' + c + '" stroke="#000" stroke-width="1.5"/>';
        }
        if (late) {  // overdue: a white ring around the symbol
            svg = '<circle cx="12" cy="12" r="11" fill="none" stroke="#fff" stroke-width="2" stroke-dasharray="3 2"/>' + svg;
        }
        return svg;
    }

    function marker(feature, latlng, context, extraClass, zOffset) {
        const h = context.hideout || {};
        const p = feature.properties;
        const u = p.u;
        const c = (h.colors || {})[u] || "#999";
        const shape = (h.shapes || {})[u] || "circle";
        const size = Math.round(unit() * (extraClass ? 3.4 : 2.6));
        const icon = L.divIcon({
            className: "gd-marker gd-u-" + u + (p.l ? " gd-late" : "") + (extraClass || ""),
            html: '<svg width="' + size + '" height="' + size + '" viewBox="0 0 24 24" data-incident="' +
                  p.id + '">' + symbol(shape, c, p.l) + '</svg>',
            iconSize: [size, size], iconAnchor: [size / 2, size / 2]
        });
        return L.marker(latlng, {icon: icon, keyboard: false, zIndexOffset: zOffset || 0});
    }

    window.griddash = Object.assign({}, window.griddash, {
        map: {
            gridStyle: function (feature, context) {
                const h = context.hideout || {};
                const f = (h.fill || {})[feature.id || feature.properties.code];
                const colors = h.colors || {};
                ensurePatterns(colors);
                if (f === "r") {
                    return {color: colors.r, weight: 2.5, fillColor: "url(#gd-fill-r)", fillOpacity: 0.75,
                            className: "gd-grid gd-grid-r"};
                }
                if (f === "y") {
                    return {color: colors.y, weight: 1.2, fillColor: "url(#gd-fill-y)", fillOpacity: 0.5,
                            className: "gd-grid gd-grid-y"};
                }
                if (f === "g") {
                    return {color: "#7f95ab", weight: 0.6, fillColor: colors.g, fillOpacity: 0.22,
                            className: "gd-grid gd-grid-g"};
                }
                return {color: "#4e6378", weight: 0.5, fillColor: "#1b2838", fillOpacity: 0.2,
                        className: "gd-grid"};
            },
            townStyle: function (feature, context) {
                return {color: "#e6edf3", weight: 2.5, fill: false, opacity: 0.85, className: "gd-town"};
            },
            labelToLayer: function (feature, latlng, context) {
                const name = String(feature.properties.name).replace(/[&<>"']/g, function (c) {
                    return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
                });
                const icon = L.divIcon({className: "gd-town-label", html: "<span>" + name + "</span>",
                                        iconSize: null});
                return L.marker(latlng, {icon: icon, interactive: false, keyboard: false});
            },
            /* A clustered case (in hand, or not red). */
            pointToLayer: function (feature, latlng, context) {
                return marker(feature, latlng, context, "", 0);
            },
            /* A red case that waits for acceptance or is overdue: its own marker, above every
               cluster, pulsing while it waits for acceptance. */
            alertToLayer: function (feature, latlng, context) {
                const waiting = !!feature.properties.w;
                return marker(feature, latlng, context, " gd-alert" + (waiting ? " gd-pulse" : ""), 10000);
            },
            clusterToLayer: function (feature, latlng, index, context) {
                // The ring takes the colour of the most urgent case inside; counts of red cases
                // and of overdue ones are shown as badges (symbols, not only colour).
                const leaves = index.getLeaves(feature.properties.cluster_id, Infinity);
                let reds = 0, late = 0, worst = "g";
                for (let i = 0; i < leaves.length; i++) {
                    const p = leaves[i].properties;
                    if (p.l) { late++; }
                    if (p.u === "r") { reds++; worst = "r"; } else if (p.u === "y" && worst !== "r") { worst = "y"; }
                }
                const colors = (context.hideout || {}).colors || {};
                const n = feature.properties.point_count;
                const size = Math.round(unit() * (n < 10 ? 3.8 : n < 100 ? 4.4 : 5.2));
                const badges = (reds ? '<b class="gd-cluster-red">▲' + reds + '</b>' : "") +
                               (late ? '<b class="gd-cluster-late">◎' + late + '</b>' : "");
                const icon = L.divIcon({
                    className: "gd-cluster gd-cluster-" + worst,
                    html: '<div style="width:' + size + 'px;height:' + size + 'px;line-height:' + size +
                          'px;border-color:' + (colors[worst] || "#9fb3c8") + '">' +
                          feature.properties.point_count_abbreviated + badges + '</div>',
                    iconSize: [size, size], iconAnchor: [size / 2, size / 2]
                });
                return L.marker(latlng, {icon: icon});
            }
        }
    });
})();
