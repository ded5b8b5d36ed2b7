"""Soak test of the big screen: one /screen open in headless Chromium for a long time.

    .venv/bin/python bench/soak.py [--minutes 30] [--sample-every 60] [--port P] [--json PATH]
                                   [--speed 60] [--backfill-days 7] [--keep]
                                   [--url U --pid P --api-key gdk_... --kiosk TOKEN]

Starts ``python app.py`` exactly like bench/screen.py (embedded default in a temporary
INSTANCE_DIR, simulator at demo speed 60, 7 days of backfill, waits until the backfill is
stored; the admin API key for its own polling and the district kiosk link made the same way),
opens the kiosk link (a wall screen: it signs the browser in and lands on /screen; another
``--path`` is opened next) in headless Chromium (the flags of tests/browser/conftest.py plus
``--enable-precise-memory-info`` and ``--js-flags=--expose-gc``), waits until the live
indicator is live, and every ``--sample-every`` seconds records:

* browser: JS heap used after ``window.gc()`` (``performance.memory.usedJSHeapSize``) and
  CDP ``Performance.getMetrics`` JSHeapUsedSize, DOM nodes (``Nodes``, after gc) and event
  listeners (``JSEventListeners``), elements in the document, the share of wall time spent in
  script (``ScriptDuration`` delta), the CPU and PSS of all Chromium processes (psutil), the
  bytes the page downloaded (a PerformanceObserver summing Resource Timing ``transferSize``:
  the DevTools Network domain is NOT enabled, it would keep response bodies in memory and
  make Chromium's memory grow by itself), console errors (SEVERE);
* server: RSS of the app process and of the embedded redis-server (psutil, separately),
  Redis ``used_memory`` and the stream length, app CPU % over the interval;
* open incidents (``/api/v1/kpis`` ``open_total``) and whether ``#live-status`` is live.

At the end: a table over time, start / end / max, and a least-squares slope per hour for the
heap, DOM nodes and RSS figures; "steady growth" is flagged when the slope is positive and the
end value exceeds the start value by more than 20 %.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
import screen as sb  # noqa: E402  (bench/screen.py: App, chromium, table, git_state ...)

GROWTH_FLAG = 0.20


def slope_per_hour(ts: list[float], ys: list[float]) -> float | None:
    pts = [(t, y) for t, y in zip(ts, ys) if y is not None]
    if len(pts) < 2:
        return None
    n = len(pts)
    mt = sum(t for t, _ in pts) / n
    my = sum(y for _, y in pts) / n
    den = sum((t - mt) ** 2 for t, _ in pts)
    if den == 0:
        return None
    return sum((t - mt) * (y - my) for t, y in pts) / den * 3600


def browser_processes(driver) -> list[psutil.Process]:
    """Chromium's processes: the children of chromedriver (browser, renderers, GPU, utility)."""
    try:
        svc = psutil.Process(driver.service.process.pid)
        return [p for p in svc.children(recursive=True)]
    except (psutil.Error, AttributeError):
        return []


def redis_info(app: sb.App) -> dict:
    """INFO memory of the app's embedded redis-server (read only)."""
    import redis
    for p in app.processes():
        try:
            if "redis" not in p.name():
                continue
            cmd = p.cmdline()
            port = None
            for i, a in enumerate(cmd):
                if a == "--port" and i + 1 < len(cmd):
                    port = int(cmd[i + 1])
                elif ":" in a and a.split(":")[-1].isdigit():  # "redis-server 127.0.0.1:PORT" (proc title)
                    port = int(a.split(":")[-1])
            if port:
                r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)
                try:
                    mem = r.info("memory")
                    return {"used_memory": mem.get("used_memory"), "stream_length": r.xlen("incidents:events")}
                finally:
                    r.close()
        except Exception:  # noqa: BLE001
            continue
    return {}


class Sampler:
    def __init__(self, app: sb.App, driver):
        self.app, self.driver = app, driver
        self.t0 = time.time()
        self.prev_script = None
        self.prev_wall = None
        self.prev_browser_cpu = None
        self.prev_app_cpu = None
        self.bytes_total = 0
        self.requests_total = 0
        self.failed_total = 0
        self.failed: list[dict] = []
        self.console_errors: list[dict] = []
        self.samples: list[dict] = []

    OBSERVER = """
        if (!window.__bench) {
            window.__bench = {bytes: 0, requests: 0, failed: 0, failedUrls: []};
            new PerformanceObserver(function (list) {
                list.getEntries().forEach(function (e) {
                    window.__bench.bytes += e.transferSize || 0;
                    window.__bench.requests += 1;
                    if (e.responseStatus === 0 || e.responseStatus >= 400) {
                        window.__bench.failed += 1;
                        if (window.__bench.failedUrls.length < 20) {
                            window.__bench.failedUrls.push([e.responseStatus, e.name.slice(0, 120)]);
                        }
                    }
                });
                performance.clearResourceTimings();
            }).observe({type: 'resource', buffered: true});
        }"""

    def install(self):
        """Count the page's downloads in the page (Resource Timing transferSize), not with the
        DevTools Network domain: that keeps response bodies in the browser's memory."""
        self.driver.execute_script(self.OBSERVER)

    def _drain(self):
        try:
            for e in self.driver.get_log("browser"):
                if e.get("level") == "SEVERE":
                    self.console_errors.append({"t_s": round(time.time() - self.t0, 1), "message": e["message"][:300]})
        except Exception:  # noqa: BLE001
            pass
        try:
            b = self.driver.execute_script("return window.__bench || null;")
        except Exception:  # noqa: BLE001
            b = None
        if b:
            self.bytes_total, self.requests_total, self.failed_total = b["bytes"], b["requests"], b["failed"]
            self.failed = [{"status": st, "url": u} for st, u in b["failedUrls"]]

    def sample(self) -> dict:
        d, now = self.driver, time.time()
        s: dict = {"t_s": round(now - self.t0, 1)}
        self._drain()
        try:
            js = d.execute_script("""
                if (window.gc) { window.gc(); window.gc(); }
                var st = document.getElementById('live-status');
                return {used: performance.memory ? performance.memory.usedJSHeapSize : null,
                        total: performance.memory ? performance.memory.totalJSHeapSize : null,
                        elements: document.getElementsByTagName('*').length,
                        live: st ? st.className : null,
                        markers: document.querySelectorAll('.leaflet-marker-icon').length,
                        paths: document.querySelectorAll('.leaflet-overlay-pane path').length,
                        ticker: document.querySelectorAll('#incident-ticker .sc-tick').length};""")
            metrics = {m["name"]: m["value"] for m in d.execute_cdp_cmd("Performance.getMetrics", {})["metrics"]}
            s.update(js_heap_used=js["used"], js_heap_total=js["total"], elements=js["elements"],
                     live="live" in (js["live"] or "").split(), live_class=js["live"],
                     map_markers=js["markers"], map_paths=js["paths"], ticker_rows=js["ticker"],
                     cdp_heap_used=metrics.get("JSHeapUsedSize"), nodes=metrics.get("Nodes"),
                     listeners=metrics.get("JSEventListeners"), documents=metrics.get("Documents"),
                     layout_objects=metrics.get("LayoutObjects"))
            if self.prev_script is not None:
                s["script_pct"] = 100 * (metrics.get("ScriptDuration", 0) - self.prev_script) / (now - self.prev_wall)
            self.prev_script, self.prev_wall = metrics.get("ScriptDuration", 0), now
        except Exception as exc:  # noqa: BLE001 - a crashed tab is a result, not a reason to stop
            s["browser_error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
        bp = browser_processes(d)
        rss, pss, cpu = 0, 0, 0.0
        by_type: dict[str, int] = {}
        for p in bp:
            try:
                mi = p.memory_full_info()
                rss += mi.rss
                pss += getattr(mi, "pss", mi.rss)
                kind = next((a.split("=", 1)[1] for a in p.cmdline() if a.startswith("--type=")), "browser")
                if kind == "utility":
                    kind = next((a.split("=", 1)[1].split(".")[-1] for a in p.cmdline()
                                 if a.startswith("--utility-sub-type=")), "utility")
                by_type[kind] = by_type.get(kind, 0) + getattr(mi, "pss", mi.rss)
                t = p.cpu_times()
                cpu += t.user + t.system
            except psutil.Error:
                pass
        s["browser_rss"], s["browser_pss"] = rss, pss
        s["browser_pss_by_type"] = by_type
        s["renderer_pss"] = by_type.get("renderer")
        if self.prev_browser_cpu is not None:
            s["browser_cpu_pct"] = 100 * (cpu - self.prev_browser_cpu[0]) / (now - self.prev_browser_cpu[1])
        self.prev_browser_cpu = (cpu, now)
        rs = self.app.rss()
        s["app_rss"], s["redis_rss"] = rs.get("app"), rs.get("redis-server")
        app_cpu = sum(v for _, v in self.app.cpu_times().values())
        if self.prev_app_cpu is not None:
            s["app_cpu_pct"] = 100 * (app_cpu - self.prev_app_cpu[0]) / (now - self.prev_app_cpu[1])
        self.prev_app_cpu = (app_cpu, now)
        ri = redis_info(self.app)
        s["redis_used_memory"], s["stream_length"] = ri.get("used_memory"), ri.get("stream_length")
        s["open_incidents"] = self.app.open_incidents()
        s["downloaded_bytes"] = self.bytes_total
        s["requests"] = self.requests_total
        s["failed_requests"] = self.failed_total
        self.samples.append(s)
        return s


COLUMNS = [  # key, header, formatter
    ("t_s", "t min", lambda v: f"{v / 60:.1f}"),
    ("js_heap_used", "heap (gc)", sb.fmt_bytes),
    ("cdp_heap_used", "CDP heap", sb.fmt_bytes),
    ("nodes", "nodes", lambda v: f"{v:.0f}"),
    ("elements", "elements", str),
    ("listeners", "listeners", lambda v: f"{v:.0f}"),
    ("script_pct", "script %", lambda v: f"{v:.0f}"),
    ("browser_cpu_pct", "chrome CPU%", lambda v: f"{v:.0f}"),
    ("browser_pss", "chrome PSS", sb.fmt_bytes),
    ("renderer_pss", "renderer PSS", sb.fmt_bytes),
    ("app_rss", "app RSS", sb.fmt_bytes),
    ("redis_rss", "redis RSS", sb.fmt_bytes),
    ("redis_used_memory", "redis used", sb.fmt_bytes),
    ("stream_length", "stream", str),
    ("app_cpu_pct", "app CPU%", lambda v: f"{v:.0f}"),
    ("open_incidents", "open", str),
    ("live", "live", lambda v: "yes" if v else "NO"),
    ("downloaded_bytes", "downloaded", sb.fmt_bytes),
]
TRENDS = [("js_heap_used", "JS heap used (after gc)", sb.fmt_bytes),
          ("cdp_heap_used", "CDP JSHeapUsedSize", sb.fmt_bytes),
          ("nodes", "DOM nodes (CDP Nodes)", lambda v: f"{v:,.0f}"),
          ("listeners", "JS event listeners", lambda v: f"{v:,.0f}"),
          ("browser_pss", "Chromium PSS (all processes)", sb.fmt_bytes),
          ("renderer_pss", "Chromium renderer PSS", sb.fmt_bytes),
          ("app_rss", "server RSS: app process", sb.fmt_bytes),
          ("redis_rss", "server RSS: redis-server", sb.fmt_bytes),
          ("redis_used_memory", "Redis used_memory", sb.fmt_bytes),
          ("stream_length", "stream length", lambda v: f"{v:,.0f}"),
          ("open_incidents", "open incidents", lambda v: f"{v:,.0f}")]


def row(s: dict) -> list:
    out = []
    for key, _, f in COLUMNS:
        v = s.get(key)
        out.append("–" if v is None else f(v))
    return out


def trends(samples: list[dict]) -> dict:
    res = {}
    ts = [s["t_s"] for s in samples]
    for key, _, _ in TRENDS:
        ys = [s.get(key) for s in samples]
        vals = [y for y in ys if y is not None]
        if not vals:
            continue
        start, end = vals[0], vals[-1]
        sl = slope_per_hour(ts, ys)
        growth = (end - start) / start if start else None
        # context for the flag: one sample can be a transient (a re-render just then), and a
        # figure that rises and then levels off has a positive slope over the whole run
        half = len(ts) // 2
        sl2 = slope_per_hour(ts[half:], ys[half:])
        first3 = [y for y in ys[:3] if y is not None]
        last3 = [y for y in ys[-3:] if y is not None]
        m0 = statistics.median(first3) if first3 else None
        m1 = statistics.median(last3) if last3 else None
        res[key] = {"start": start, "end": end, "max": max(vals), "min": min(vals), "slope_per_hour": sl,
                    "slope_per_hour_second_half": sl2,
                    "growth_median3": (m1 - m0) / m0 if m0 else None,
                    "growth": growth,
                    "steady_growth": bool(sl is not None and sl > 0 and growth is not None and growth > GROWTH_FLAG)}
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--sample-every", type=float, default=60)
    ap.add_argument("--port", type=int, default=None)
    ap.add_argument("--json", dest="json_path", default=None)
    ap.add_argument("--speed", type=float, default=60.0)
    ap.add_argument("--backfill-days", type=float, default=7.0)
    ap.add_argument("--path", default="/screen")
    ap.add_argument("--url", default=None, help="soak this running app instead of starting one")
    ap.add_argument("--pid", type=int, default=None)
    ap.add_argument("--api-key", default=None, help="with --url: an admin's API key (gdk_...)")
    ap.add_argument("--kiosk", default=None, help="with --url: a district kiosk token (or its /kiosk/ link)")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--report", metavar="JSON", help="only print the report of a saved --json file")
    args = ap.parse_args(argv)
    if args.report:
        saved = json.loads(Path(args.report).read_text())
        saved["trends"] = trends(saved["samples"])
        report(saved, print)
        return 0

    def say(*a):
        print(*a, flush=True)

    workdir = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    app = sb.App(workdir, port=args.port, speed=args.speed, backfill_days=args.backfill_days,
                 url=args.url, pid=args.pid, api_key=args.api_key, kiosk=args.kiosk)
    driver = None
    out: dict = {"conditions": {
        "cores_logical": psutil.cpu_count(), "cpu_model": sb._cpu_model(), "chromium": sb.chromium_version(),
        "git": sb.git_state(), "simulator_speed": args.speed, "backfill_days": args.backfill_days,
        "minutes": args.minutes, "sample_every_s": args.sample_every, "path": args.path,
        "viewport": "1920x1080"}}
    sampler = None
    try:
        say(f"starting app on {app.url} (speed {args.speed}, backfill {args.backfill_days} d) ...")
        app.start()
        out["conditions"]["health_after_backfill"] = app.wait_backfilled(say=say)
        profile = tempfile.mkdtemp(prefix="chrome-", dir=workdir)
        driver = sb.chromium(perf_log=False, profile_dir=profile,
                             extra_args=("--enable-precise-memory-info", "--js-flags=--expose-gc"))
        driver.execute_cdp_cmd("Performance.enable", {})
        driver.get(app.kiosk_url)  # a wall screen: signed in by its link, which opens /screen
        if driver.current_url.split("?")[0] != app.url + args.path:
            driver.get(app.url + args.path)
        t_live = time.time()
        while time.time() - t_live < 60:
            cls = driver.execute_script("var e=document.getElementById('live-status'); return e && e.className;")
            if cls and "live" in cls.split():
                break
            time.sleep(0.5)
        say(f"page live after {time.time() - t_live:.1f} s; settling 10 s, then sampling every "
            f"{args.sample_every:.0f} s for {args.minutes:.0f} min")
        time.sleep(10)
        sampler = Sampler(app, driver)
        sampler.install()
        headers = [h for _, h, _ in COLUMNS]
        end = time.time() + args.minutes * 60
        next_t = time.time()
        while True:
            s = sampler.sample()
            say("  " + "  ".join(f"{h}={c}" for h, c in zip(headers, row(s))))
            next_t += args.sample_every
            if next_t > end + 1:
                break
            time.sleep(max(0.0, next_t - time.time()))
        out["samples"] = sampler.samples
        out["trends"] = trends(sampler.samples)
        out["conditions"]["final_health"] = app.health()
        out["app_log_errors"] = [l for l in app.log_tail(1_000_000).splitlines()
                                 if " ERROR " in l or "Traceback" in l][:20]
        out["console_errors"] = sampler.console_errors
        out["failed_requests"] = sampler.failed
        report(out, say)
    except KeyboardInterrupt:
        if sampler and sampler.samples:
            out["console_errors"], out["failed_requests"] = sampler.console_errors, sampler.failed
            out["samples"] = sampler.samples
            out["trends"] = trends(sampler.samples)
            report(out, say)
    finally:
        if driver is not None:
            try:
                driver.quit()
            except Exception:  # noqa: BLE001
                pass
        app.stop()
        if args.json_path:
            Path(args.json_path).write_text(json.dumps(out, indent=1, default=str, ensure_ascii=False))
            say(f"figures written to {args.json_path}")
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


def report(out: dict, say=print) -> None:
    c = out["conditions"]
    samples = out["samples"]
    say("")
    say("=" * 100)
    say(f"Soak of {c['path']} at {c['viewport']}: {c['minutes']:.0f} min, a sample every {c['sample_every_s']:.0f} s; "
        f"{c['cores_logical']} cores ({c['cpu_model']}); {c['chromium']}")
    say(f"  app: python app.py, embedded default, simulator speed {c['simulator_speed']}, backfill "
        f"{c['backfill_days']} d; git {c['git']['commit']}"
        + (f" + uncommitted changes in {', '.join(c['git']['modified_files'])}" if c["git"]["modified_files"] else ""))
    say(f"  incidents after backfill {c['health_after_backfill'].get('incidents')}, at end "
        f"{c.get('final_health', {}).get('incidents')}")
    say("=" * 100)
    say(sb.table([h for _, h, _ in COLUMNS], [row(s) for s in samples]))
    say("")
    rows = []
    for key, label, f in TRENDS:
        tr = out["trends"].get(key)
        if not tr:
            continue
        sl = tr["slope_per_hour"]
        sl2 = tr.get("slope_per_hour_second_half")
        g3 = tr.get("growth_median3")
        rows.append([label, f(tr["start"]), f(tr["end"]), f(tr["max"]),
                     "–" if sl is None else ("+" if sl >= 0 else "-") + f(abs(sl)) + "/h",
                     "–" if tr["growth"] is None else f"{tr['growth'] * 100:+.0f}%",
                     "STEADY GROWTH" if tr["steady_growth"] else "",
                     "–" if sl2 is None else ("+" if sl2 >= 0 else "-") + f(abs(sl2)) + "/h",
                     "–" if g3 is None else f"{g3 * 100:+.0f}%"])
    say(sb.table(["figure", "start", "end", "max", "slope", "end vs start", "flag",
                  "slope 2nd half", "last3 vs first3 (medians)"], rows))
    say("  flag: slope > 0 and end > start + 20 %. The last two columns tell a transient in the last "
        "sample, or a rise that levelled off, from steady growth.")
    not_live = [s["t_s"] for s in samples if not s.get("live")]
    say(f"live indicator: {'live in every sample' if not not_live else f'NOT live at t = {not_live} s'}")
    dl = samples[-1].get("downloaded_bytes", 0) if samples else 0
    span = (samples[-1]["t_s"] - samples[0]["t_s"]) if len(samples) > 1 else 0
    if span:
        say(f"page downloaded {sb.fmt_bytes(dl)} in {span / 60:.0f} min ({sb.fmt_bytes(dl / span)}/s, "
            f"{sb.fmt_bytes(dl / span * 3600)}/h), {samples[-1].get('requests')} requests, "
            f"{samples[-1].get('failed_requests')} failed")
    if out.get("app_log_errors"):
        say(f"app log errors: {len(out['app_log_errors'])}; first: {out['app_log_errors'][0][:160]}")
    if out.get("failed_requests"):
        say("failed requests (status 0 = no response): " + "; ".join(f"{f['status']} {f['url']}" for f in out["failed_requests"][:5]))
    if out.get("console_errors"):
        say(f"browser console errors (SEVERE): {len(out['console_errors'])}, at t = "
            f"{[e['t_s'] for e in out['console_errors']][:20]} s; first: {out['console_errors'][0]['message'][:200]}")


if __name__ == "__main__":
    sys.exit(main())
