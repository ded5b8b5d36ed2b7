"""DEMO DATA: a simulator of grid workers' reports and of the departments' follow-ups.

Reports follow the district's real volume (1.63 million a year, about 0.05 per second) with a
day/night rhythm and busier hotspot grids, multiplied by ``speed`` for demos. Each report gets
lifecycle follow-ups (accepted, assigned, escalated, resolved, closed) after realistic delays,
some of them late, so that the closure KPIs mean something. In live mode the delays are divided
by ``speed`` too, except for a few "stuck" cases that keep real-time delays and become overdue.

On an empty database the simulator first backfills ``backfill_days`` of history at the real
rate with real delays, so that a fresh demo shows a month's trend at once.

Everything goes through the same path as the API: ``ReportIn`` validation, ``report_event``,
the Redis stream. Every simulated report's ``source`` is ``"demo-simulator"``.
"""
from __future__ import annotations

import heapq
import logging
import math
import random
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from shapely.geometry import Point

from .domain import LEVELS, TRANSITIONS, Event, categories, departments
from .intake import report_event
from .schemas import ReportIn

log = logging.getLogger(__name__)

REPORTS_PER_YEAR = 1_630_000
BASE_RATE = REPORTS_PER_YEAR / (365 * 86400)  # reports per second, ~0.0517
SOURCE = "demo-simulator"

# Relative report volume by local hour (grid workers patrol by day); mean is 1.
_HOURLY = [0.15, 0.1, 0.08, 0.08, 0.1, 0.25, 0.6, 1.1, 1.6, 1.9, 1.9, 1.6,
           1.1, 1.3, 1.7, 1.8, 1.7, 1.4, 1.0, 0.8, 0.6, 0.45, 0.3, 0.2]
_MEAN = sum(_HOURLY) / 24
HOURLY = [h / _MEAN for h in _HOURLY]

# How often each category is reported (weights), roughly after the article's typical cases.
CATEGORY_WEIGHTS = {
    "fire_hazard": 6, "production_safety": 3, "flood_risk": 1, "dispute": 9, "public_security": 5,
    "rental_housing": 14, "floating_population": 8, "food_safety": 4, "unlicensed_business": 4,
    "price_quality": 2, "illegal_construction": 5, "environment": 6, "road_occupation": 7,
    "garbage": 10, "damaged_facility": 6, "road_damage": 5, "utilities": 3, "assistance": 2,
}

PLACES = ["路口", "菜市场旁", "老街", "出租房", "厂区门口", "河道边", "学校周边", "小区内", "村道旁", "公交站附近"]
TEXTS = {
    "fire_hazard": ["{p}商户违规使用明火，存在火灾隐患", "{p}楼道私拉电线给电动车充电", "{p}堆放易燃杂物，堵塞消防通道"],
    "production_safety": ["{p}小作坊无防护设施作业", "{p}厂房外墙脚手架松动", "{p}液化气瓶露天存放"],
    "flood_risk": ["{p}排水沟堵塞，雨天易积水", "{p}河堤有渗漏迹象", "{p}临时工棚未加固，台风来临有风险"],
    "dispute": ["{p}两户邻居因宅基地边界发生争执", "{p}租户与房东因押金产生纠纷", "{p}家庭成员因赡养问题发生矛盾"],
    "public_security": ["{p}夜间有可疑人员徘徊", "{p}路灯损坏，夜间照明不足", "{p}有人聚众赌博"],
    "rental_housing": ["{p}出租房未登记租住人员信息", "{p}出租房烟感报警器缺失", "{p}群租房隔断过多，存在隐患"],
    "floating_population": ["{p}新来务工人员未办理居住登记", "{p}外来人员信息需核实更新"],
    "food_safety": ["{p}小吃摊无健康证经营", "{p}餐馆后厨卫生条件差", "{p}销售过期食品"],
    "unlicensed_business": ["{p}无证经营废品收购点", "{p}无照开设小作坊"],
    "price_quality": ["{p}商店未明码标价", "{p}销售疑似假冒伪劣产品"],
    "illegal_construction": ["{p}村民违规加盖彩钢棚", "{p}未经审批搭建违章建筑"],
    "environment": ["{p}河道漂浮垃圾，水体发黑", "{p}小厂排放刺鼻废气", "{p}夜间焚烧垃圾"],
    "road_occupation": ["{p}摊贩占道经营影响通行", "{p}店铺货物堆放占用人行道"],
    "garbage": ["{p}垃圾乱堆乱放未及时清运", "{p}建筑垃圾随意倾倒"],
    "damaged_facility": ["{p}道路旁围墙有损坏，需要抓紧修复", "{p}护栏破损存在安全隐患", "{p}井盖缺失"],
    "road_damage": ["{p}路面塌陷出现坑洞", "{p}人行道地砖松动破损"],
    "utilities": ["{p}自来水管破裂漏水", "{p}电线杆倾斜", "{p}燃气管道有异味"],
    "assistance": ["{p}独居老人生活困难需要帮扶", "{p}残疾人家庭申请临时救助"],
}
SURNAMES = "陈王林李张黄吴郑蔡杨周徐金何叶应卢梁罗潘"
GIVEN = ["君辉", "建国", "丽萍", "海燕", "志强", "晓东", "美华", "国平", "小燕", "伟军", "玲芳", "永明", "佳怡", "文斌"]


def local_hour(ts: float, tz: ZoneInfo) -> int:
    return datetime.fromtimestamp(ts, tz).hour


class Simulator:
    """Publishes demo reports and follow-ups through ``runtime.publisher`` until ``stop()``."""

    def __init__(self, runtime, speed: float = 60.0, seed: int | None = None,
                 backfill_days: float = 7.0, stuck_share: float = 0.03):
        self.rt = runtime
        self.speed = max(speed, 0.001)
        self.rng = random.Random(seed)
        self.backfill_days = backfill_days
        self.stuck_share = stuck_share
        self.tz = ZoneInfo(runtime.settings.timezone)
        self._stop = threading.Event()
        # (due unix time, seq, event, expected version): follow-ups go through the same
        # checked actions as an operator's (dashboard.commands); a case an operator took
        # over (the action is refused) gets no more simulated steps.
        self._queue: list[tuple[float, int, Event, int, str]] = []
        self._taken_over: set = set()
        self._shift: dict = {}  # case -> versions added meanwhile by the SLA clock or supervisors
        self._seq = 0
        geo = runtime.geo
        self._grids = list(geo.grids.values())
        self._geoms = dict(zip(geo._grid_codes, geo._geoms))
        # Hotspots: a few grids (markets, industrial zones) report much more than others.
        self._weights = [self.rng.lognormvariate(0, 0.9) for _ in self._grids]
        self._cats = list(CATEGORY_WEIGHTS)
        self._cat_w = [CATEGORY_WEIGHTS[c] for c in self._cats]
        self.published = 0

    def stop(self) -> None:
        self._stop.set()

    # ------------------------------------------------------------------ generation
    def rate(self, ts: float) -> float:
        """Reports per second at unix time ``ts`` (live, sped up)."""
        return BASE_RATE * HOURLY[local_hour(ts, self.tz)] * self.speed

    def _point_in(self, code: str, grid) -> tuple[float, float]:
        geom = self._geoms[code]
        minx, miny, maxx, maxy = geom.bounds
        for _ in range(30):
            x, y = self.rng.uniform(minx, maxx), self.rng.uniform(miny, maxy)
            if geom.contains(Point(x, y)):
                return round(y, 6), round(x, 6)
        return grid.lat, grid.lon

    def _worker(self, grid) -> str:
        h = sum(grid.code.encode())
        return f"网格员{SURNAMES[h % len(SURNAMES)]}{GIVEN[(h // 7) % len(GIVEN)]}"

    def make_report(self, at: datetime) -> Event:
        grid = self.rng.choices(self._grids, weights=self._weights)[0]
        cat = self.rng.choices(self._cats, weights=self._cat_w)[0]
        lat, lon = self._point_in(grid.code, grid)
        place = grid.village_name + self.rng.choice(PLACES)
        text = self.rng.choice(TEXTS[cat]).format(p=place)
        urgency = categories()[cat].urgency
        roll = self.rng.random()
        if roll < 0.07:  # the grid worker judges it more urgent than usual
            urgency = {"green": "yellow", "yellow": "red", "red": "red"}[urgency]
        report = ReportIn(category=cat, description=f"【演示】{text}", lat=lat, lon=lon,
                          reporter=self._worker(grid), grid=grid.code, urgency=urgency,
                          id=uuid.UUID(int=self.rng.getrandbits(128), version=4),
                          reported_at=at, source=SOURCE)
        return report_event(report, self.rt.geo, now=at)

    def follow_ups(self, report: Event, compress: float) -> list[Event]:
        """The case's later events, with delays divided by ``compress``."""
        r = self.rng
        iid, t0 = report.incident_id, report.at
        plat = report.data["platform"]
        out: list[Event] = []

        def ev(kind: str, hours: float, **data) -> datetime:
            at = t0 + timedelta(hours=hours / compress)
            actor = data.pop("actor", "指挥中心")
            out.append(Event(id=uuid.UUID(int=r.getrandbits(128), version=4), incident_id=iid,
                             type=kind, at=at, actor=actor, note=data.pop("note", ""), data=data))
            return at

        red = report.data["urgency"] == "red"
        u = r.random()
        accept_h = (r.uniform(0.05, 1.0) if red else r.lognormvariate(math.log(1.5), 0.8)) if u < 0.9 \
            else r.uniform(4, 20) if u < 0.96 else r.uniform(24, 60)
        ev("accepted", accept_h)
        dept = r.choice([d.name_zh for d in departments().values() if plat in d.platforms])
        assign_h = accept_h + r.uniform(0.1, 3.0)
        ev("assigned", assign_h, department=dept)
        v = r.random()
        if v < 0.55:
            resolve_h = assign_h + r.uniform(1, 8)
        elif v < 0.85:
            resolve_h = assign_h + r.uniform(24, 72)
        elif v < 0.95:
            resolve_h = assign_h + r.uniform(72, 118)
        else:
            resolve_h = assign_h + r.uniform(125, 240)  # late: past the 5-day limit
        level_roll = r.random()
        target = 0 if level_roll < 0.55 else 1 if level_roll < 0.85 else 2 if level_roll < 0.97 else 3
        for lvl in range(1, target + 1):
            ev("escalated", assign_h + (resolve_h - assign_h) * lvl / (target + 1),
               level=LEVELS[lvl], note="上报上级协调处置")
        if resolve_h > 48 and r.random() < 0.5:
            ev("supervised", assign_h + (resolve_h - assign_h) / 2, actor="区指挥中心", note="督办：请加快处置")
        ev("resolved", resolve_h, actor=dept, note="已处置完毕")
        ev("closed", resolve_h + r.uniform(0.5, 12), note="回访群众满意，结案")
        return out

    # ------------------------------------------------------------------ running
    @property
    def commands(self):
        if getattr(self, "_commands", None) is None:
            from .commands import Commands
            self._commands = Commands(self.rt.redis, self.rt.store, self.rt.settings.stream)
        return self._commands

    def _schedule(self, follow: list[tuple[Event, int, str]]) -> None:
        for e, version, status in follow:
            self._seq += 1
            heapq.heappush(self._queue, (e.at.timestamp(), self._seq, e, version, status))

    @staticmethod
    def _versioned(events: list[Event]) -> list[tuple[Event, int, str]]:
        """A case is at version 1 after its report; its n-th follow-up expects version n and
        the status its earlier steps left."""
        out, status = [], "reported"
        for i, e in enumerate(events):
            out.append((e, i + 1, status))
            status = TRANSITIONS[e.type][1] or status
        return out

    def backfill(self, days: float, now: datetime | None = None) -> int:
        """Publish ``days`` of history at the real rate; schedule follow-ups still to come."""
        now = now or datetime.now(timezone.utc)
        start = now.timestamp() - days * 86400
        ts = start
        reports: list[Event] = []
        past: list[tuple[Event, int]] = []
        n = 0
        while True:
            ts += self.rng.expovariate(BASE_RATE * HOURLY[local_hour(ts, self.tz)])
            if ts >= now.timestamp():
                break
            rep = self.make_report(datetime.fromtimestamp(ts, timezone.utc))
            fu = self._versioned(self.follow_ups(rep, 1.0))
            reports.append(rep)
            past.extend((e, v) for e, v, _ in fu if e.at <= now)
            self._schedule([item for item in fu if item[0].at > now])
            n += 1
        # Reports first (each with its case head), then the steps in time order: every case's
        # report is in the stream before its steps.
        self.published += self.rt.publisher.publish_many(reports)
        past.sort(key=lambda item: item[0].at)
        self.published += self.commands.append_many(past)
        log.info("simulator backfilled %d demo reports (%d events) over %.1f days", n,
                 len(reports) + len(past), days)
        return n

    def tick(self, now: float) -> int:
        """Carry out every scheduled step due by ``now``. Returns how many were appended.

        A step refused because the case gained versions while its status stayed where the
        department left it (the SLA clock raised its urgency, a leader supervised it) is done at
        the new version; a case whose status someone else moved is theirs from then on."""
        from .commands import ActionError

        done = 0
        while self._queue and self._queue[0][0] <= now:
            item = heapq.heappop(self._queue)
            ev, version, status = item[2], item[3], item[4]
            iid = ev.incident_id
            if iid in self._taken_over:
                continue
            try:
                for attempt in range(3):
                    v = version + self._shift.get(iid, 0)
                    try:
                        self.commands.append(ev, v)
                        break
                    except ActionError as exc:
                        head_v, head_s = exc.extra.get("version"), exc.extra.get("status")
                        if attempt == 2 or head_s != status or head_v is None or head_v <= v:
                            raise
                        self._shift[iid] = self._shift.get(iid, 0) + head_v - v
                done += 1
                if ev.type == "closed":
                    self._shift.pop(iid, None)
            except ActionError:
                self._taken_over.add(iid)  # an operator moved the case along: leave it to them
                self._shift.pop(iid, None)
            except Exception:
                heapq.heappush(self._queue, item)  # Redis away: keep it, retry on the next tick
                raise
        self.published += done
        if len(self._taken_over) > 100_000:
            self._taken_over.clear()
        return done

    def new_report(self, now: float) -> Event:
        rep = self.make_report(datetime.fromtimestamp(now, timezone.utc))
        stuck = self.rng.random() < self.stuck_share
        follow = self._versioned(self.follow_ups(rep, 1.0 if stuck else self.speed))
        self.rt.publisher.publish(rep)  # first the report; its follow-ups only once it is out
        self.published += 1
        self._schedule(follow)
        return rep

    def run(self) -> None:
        if self.backfill_days > 0:
            try:
                if self.rt.store.count_incidents() == 0:
                    self.backfill(self.backfill_days)
            except Exception:
                log.exception("simulator backfill failed")
        next_report = time.time() + self.rng.expovariate(self.rate(time.time()))
        while not self._stop.is_set():
            now = time.time()
            try:
                self.tick(now)
                if now >= next_report:
                    self.new_report(now)
                    next_report = now + self.rng.expovariate(self.rate(now))
            except Exception as exc:  # Redis away: try again shortly, nothing is dropped
                log.warning("simulator: %s", exc)
                self._stop.wait(1.0)
                continue
            wake = min(next_report, self._queue[0][0] if self._queue else next_report)
            self._stop.wait(max(0.0, min(wake - time.time(), 0.5)))
