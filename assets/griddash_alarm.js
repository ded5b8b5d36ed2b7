/* The alarm sound of the wall and the console (?sound=1): two short beeps. Loaded before the
   pages' own scripts (assets load in name order); they call window.griddash.beep(). */
(function () {
    "use strict";
    function beep() {
        try {
            const Ctx = window.AudioContext || window.webkitAudioContext;
            const ctx = new Ctx();
            [0, 0.35].forEach(function (start) {
                const o = ctx.createOscillator(), g = ctx.createGain();
                o.frequency.value = 880; o.connect(g); g.connect(ctx.destination);
                g.gain.setValueAtTime(0.25, ctx.currentTime + start);
                g.gain.exponentialRampToValueAtTime(0.001, ctx.currentTime + start + 0.3);
                o.start(ctx.currentTime + start); o.stop(ctx.currentTime + start + 0.3);
            });
        } catch (e) { /* no audio device: the alarm still shows */ }
    }
    window.griddash = Object.assign({}, window.griddash, {beep: beep});
})();
