/* Map functions for dash-leaflet, referenced from Python with
   dash_extensions.javascript.Namespace("griddash", "map").
   Urgency colours and shapes come from the server (hideout.style), defined once in
   dashboard/domain.py (URGENCY_STYLE). */
window.griddash = Object.assign({}, window.griddash, {
    map: {
        gridStyle: function (feature, context) {
            const h = context.hideout || {};
            const u = (h.urgency || {})[feature.id || feature.properties.code];
            const colors = h.colors || {};
            if (u && colors[u]) {
                return {color: "#9fb3c8", weight: 0.6, fillColor: colors[u], fillOpacity: 0.42,
                        className: "gd-grid gd-grid-" + u};
            }
            return {color: "#6b8299", weight: 0.5, fillColor: "#1b2838", fillOpacity: 0.25,
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
        pointToLayer: function (feature, latlng, context) {
            const h = context.hideout || {};
            const u = feature.properties.u;
            const c = (h.colors || {})[u] || "#999";
            const shape = (h.shapes || {})[u] || "circle";
            let svg;
            if (shape === "triangle") {
                svg = '<polygon points="12,2 22,21 2,21" fill="' + c + '" stroke="#000" stroke-width="1.5"/>';
            } else if (shape === "square") {
                svg = '<rect x="4" y="4" width="16" height="16" fill="' + c + '" stroke="#000" stroke-width="1.5"/>';
            } else {
                svg = '<circle cx="12" cy="12" r="8" fill="' + c + '" stroke="#000" stroke-width="1.5"/>';
            }
            // New red cases pulse for five minutes after their report.
            const fresh = u === "r" && (Date.now() / 1000 - (feature.properties.t || 0)) < 300;
            const icon = L.divIcon({
                className: "gd-marker gd-u-" + u + (fresh ? " gd-pulse" : ""),
                html: '<svg width="24" height="24" viewBox="0 0 24 24" data-incident="' +
                      feature.properties.id + '">' + svg + '</svg>',
                iconSize: [24, 24], iconAnchor: [12, 12]
            });
            return L.marker(latlng, {icon: icon, keyboard: false});
        },
        clusterToLayer: function (feature, latlng, index, context) {
            // The ring takes the colour of the most urgent case inside; the red count is shown.
            const leaves = index.getLeaves(feature.properties.cluster_id, Infinity);
            let reds = 0, worst = "g";
            for (let i = 0; i < leaves.length; i++) {
                const u = leaves[i].properties.u;
                if (u === "r") { reds++; worst = "r"; } else if (u === "y" && worst !== "r") { worst = "y"; }
            }
            const colors = (context.hideout || {}).colors || {};
            const n = feature.properties.point_count;
            const size = n < 10 ? 34 : n < 100 ? 42 : 52;
            const redTag = reds ? '<b class="gd-cluster-red">' + reds + '</b>' : "";
            const icon = L.divIcon({
                className: "gd-cluster",
                html: '<div style="width:' + size + 'px;height:' + size + 'px;line-height:' + size +
                      'px;border-color:' + (colors[worst] || "#9fb3c8") + '">' +
                      feature.properties.point_count_abbreviated + redTag + '</div>',
                iconSize: [size, size], iconAnchor: [size / 2, size / 2]
            });
            return L.marker(latlng, {icon: icon});
        }
    }
});
