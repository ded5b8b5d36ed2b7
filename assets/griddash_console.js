/* The operator console in the browser: reloading the list (it holds still otherwise), the red
   alarm's optional sound (?sound=1), and the keyboard: Tab enters the list at the first case,
   Enter opens the focused case, a step's key (shown on its button) presses it. */
(function () {
    "use strict";

    function gridApi() {
        try { return window.dash_ag_grid.getApi("case-grid"); } catch (e) { return null; }
    }


    let lastAlarmIds = null;

    window.dash_clientside = Object.assign({}, window.dash_clientside, {
        console: {
            /* A new snapshot (filters, or the "n new" bar) starts the list again from the top;
               one's own step reloads the rows in place (same snapshot: nothing new moves in). */
            reloadList: function (query, refresh) {
                const api = gridApi();
                if (!api) { return window.dash_clientside.no_update; }
                const trig = (window.dash_clientside.callback_context.triggered || [])
                    .map(function (t) { return t.prop_id; });
                if (trig.indexOf("list-query.data") >= 0) {
                    api.purgeInfiniteCache();
                    api.ensureIndexVisible(0, "top");
                } else {
                    api.refreshInfiniteCache();
                }
                return window.dash_clientside.no_update;
            },
            alarmSound: function (ids, cfg) {
                ids = ids || [];
                if (lastAlarmIds !== null && cfg && cfg.sound) {
                    if (ids.some(function (i) { return lastAlarmIds.indexOf(i) < 0; })) { window.griddash.beep(); }
                }
                lastAlarmIds = ids;
                return window.dash_clientside.no_update;
            }
        }
    });

    window.dashAgGridFunctions = Object.assign({}, window.dashAgGridFunctions, {
        /* Tab into the list: the first case's first cell, not a column header. */
        focusFirstCase: function (params) {
            if (params.api.getDisplayedRowCount() === 0 || !params.api.getDisplayedRowAtIndex(0)
                || !params.api.getDisplayedRowAtIndex(0).data) {
                return false;
            }
            const cols = params.api.getAllDisplayedColumns();
            params.api.ensureIndexVisible(0);
            params.api.setFocusedCell(0, cols[0]);
            return true;
        }
    });

    function typing(el) {
        if (!el) { return false; }
        const tag = el.tagName;
        return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
    }

    document.addEventListener("keydown", function (e) {
        const row = e.target && e.target.closest && e.target.closest("#case-grid .ag-row");
        if (e.key === "Enter" && row) {
            /* Enter on a case (its row or one of its cells) opens it, as a click would */
            const cell = e.target.closest(".ag-cell") || row.querySelector('.ag-cell[col-id="description"]');
            if (cell) { e.preventDefault(); cell.click(); }
            return;
        }
        if (e.key === "Escape") {  /* a pending confirmation is cancelled */
            const no = document.getElementById("case-confirm-no");
            if (no && no.offsetParent) { no.click(); }
            return;
        }
        if (e.altKey || e.ctrlKey || e.metaKey || typing(e.target) || e.key.length !== 1) { return; }
        const button = document.querySelector('#case-buttons button[data-key="' + e.key.toUpperCase() + '"]');
        if (button) {
            e.preventDefault();
            button.click();
        }
    });
})();
