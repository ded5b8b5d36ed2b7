"""DEMO DATA: a simulator of grid workers' reports and of the departments' follow-ups.

Rate. Reports follow the district's real volume (1.63 million a year, about 0.05 per second)
with a day/night rhythm, multiplied by ``speed`` for demos: at the default speed 20 that is
about 62 reports a minute on average over a day, ~130 a minute at the 9-11 am peak and 5-7 a
minute between 1 and 5 am. Busier grids (markets, industrial zones) report two or three times
the average, and every report is filed by one of its own grid's workers
(``dashboard.demo.workers``).

Follow-ups. Each report gets its lifecycle (accepted, assigned, escalated, supervised,
resolved, closed) with delays drawn against the case's own deadlines
(``dashboard.core.sla.default_policy()``): ~95 % accepted within the accept window, ~92 % closed
within the close window, red cases (1 h / 24 h) the fastest, a small tail of late ones. Most
cases are resolved at grid or village level, a few at town, very few at district level. A case
is assigned to the department the routing table proposes (``dashboard.core.routing``); a few
(``ROUTE_ONWARD_SHARE``) are routed onward (流转) to another department with a reason, and every
resolution carries a result note, as an operator's must. In live
mode the delays are divided by ``speed`` too, except for a few "stuck" cases that keep
real-time delays and close late, so that the SLA clock has something to do.

Backfill. On an empty database the simulator first publishes ``backfill_days`` of history at
the real rate with real delays, day by day: a day's reports (with their case heads), then the
steps that fall in that day, while steps due later wait in a heap. The wall fills while it
runs and memory holds only the steps still to come; steps due after "now" stay scheduled for
live mode. A generated report that fails validation is logged and skipped, never the history.

Storm. ``python -m dashboard demo storm TOWN`` (or ``SIMULATOR_STORM``) sets the Redis key
``demo:storm`` to a town code for some minutes. While it is set the simulator files, within
~5 s, a red report in every grid of that town, then keeps filing red reports there; the
command room is overwhelmed, so these are accepted after real-time minutes, not sped up.

Everything goes through the same path as the API: ``ReportIn`` validation, ``report_event``,
the Redis stream, the checked appends of ``dashboard.stream.commands``. Every simulated report's
``source`` is ``"demo-simulator"`` and its description starts with 【演示】.
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

import shapely

from dashboard.core.actions import ActionError
from dashboard.core.domain import LEVELS, TRANSITIONS, Event, categories
from dashboard.core.intake import report_event
from dashboard.core.routing import propose
from dashboard.core.schemas import ReportIn
from dashboard.core.sla import default_policy
from dashboard.demo.workers import grid_weights, grid_workers, reporter_name
from dashboard.stream.commands import Commands

log = logging.getLogger(__name__)

REPORTS_PER_YEAR = 1_630_000
BASE_RATE = REPORTS_PER_YEAR / (365 * 86400)  # reports per second, ~0.0517
SOURCE = "demo-simulator"
DEMO_PREFIX = "【演示】"

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
RAISED_URGENCY_SHARE = 0.07  # the grid worker judges the case more urgent than its category

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

# --- follow-up delays, against the case's own SLA windows (A accept, C close, in hours)
ACCEPT_ON_TIME = {"red": 0.97, "yellow": 0.95, "green": 0.95}
ACCEPT_MEDIAN_H = {"red": 0.2, "yellow": 0.75, "green": 1.5}   # capped at 30 % of the window
CLOSE_ON_TIME = {"red": 0.95, "yellow": 0.915, "green": 0.915}
# Level a case is resolved at (grid, village, town, district): 微事不出格、小事不出村、大事不出镇.
LEVEL_SHARES = {"red": (0.45, 0.35, 0.15, 0.05), "yellow": (0.58, 0.31, 0.09, 0.02),
                "green": (0.68, 0.25, 0.06, 0.01)}

# --- 流转: a few cases turn out to be another department's; the command room routes them on
ROUTE_ONWARD_SHARE = 0.03
ONWARD = {  # where such a case plausibly goes instead (demo), by category
    "fire_hazard": ["应急管理局"], "production_safety": ["消防救援大队", "市场监管分局"],
    "flood_risk": ["住建局"], "dispute": ["公安分局"], "public_security": ["司法调解中心"],
    "rental_housing": ["消防救援大队", "住建局"], "food_safety": ["卫健局"],
    "unlicensed_business": ["综合行政执法局"], "illegal_construction": ["住建局"],
    "environment": ["生态环境分局", "综合行政执法局"], "road_occupation": ["市场监管分局"],
    "garbage": ["生态环境分局"], "damaged_facility": ["供电供水公司", "综合行政执法局"],
    "road_damage": ["综合行政执法局"], "utilities": ["住建局"], "assistance": ["卫健局"],
}
ROUTE_REASONS = ["经核实属{dept}职责，申请流转", "原承办部门反馈不属本部门职能，流转{dept}办理",
                 "涉及{dept}专业处置，流转办理"]
# 办结 says what was done (a resolution without a result note is refused).
RESULT_NOTES = {
    "fire_hazard": ["已清除易燃杂物，消防通道畅通", "已拆除私拉电线并督促整改"],
    "production_safety": ["已责令停工整改，复查合格", "已现场处置隐患并复查"],
    "flood_risk": ["已疏通排水沟，积水消除", "已加固并落实专人值守"],
    "dispute": ["双方达成调解协议", "已调解，双方表示认可"],
    "public_security": ["已加强巡逻防控", "已现场处置并登记备案"],
    "rental_housing": ["已登记租住人员信息", "已督促房东整改到位"],
    "floating_population": ["已办理居住登记", "人员信息已核实更新"],
    "food_safety": ["已责令整改并立案调查", "问题食品已下架处理"],
    "unlicensed_business": ["已责令停止经营，依法处理", "已指导办理证照"],
    "price_quality": ["已督促明码标价", "涉事产品已封存送检"],
    "illegal_construction": ["违建已拆除", "已责令停工并限期拆除"],
    "environment": ["污染源已查处并整改", "已清理完毕，水体恢复"],
    "road_occupation": ["已劝离摊贩，道路畅通", "已清理占道物品"],
    "garbage": ["已清理完毕", "垃圾已清运，现场整洁"],
    "damaged_facility": ["已修复完毕", "已设置警示并完成维修"],
    "road_damage": ["路面已修补", "已更换破损地砖"],
    "utilities": ["已抢修恢复", "故障已排除，恢复正常"],
    "assistance": ["已落实临时救助", "已上门走访并纳入帮扶"],
}
DEFAULT_RESULT_NOTES = ["已现场处置并回访", "已处置完毕"]

# --- storm (demo): a town's grids fill with red reports; the command room cannot keep up
STORM_KEY = "demo:storm"
STORM_MINUTES = 30.0
STORM_WAVE_S = 4.0         # every grid of the town gets a red report within this many seconds
STORM_RATE = 0.5           # red reports a second in the town after the first wave (real time)
STORM_POLL_S = 1.0
STORM_ACCEPT_MIN = (3.0, 12.0, 75.0)  # real minutes to acceptance: min, median, max
STORM_CATEGORIES = {"flood_risk": 6, "production_safety": 2, "fire_hazard": 1, "damaged_facility": 1}
STORM_TEXTS = {
    "flood_risk": ["{p}积水已没过膝盖，有车辆被困", "{p}河道水位快速上涨，接近堤顶", "{p}地下车库进水，需要紧急排水",
                   "{p}低洼处民房进水，有老人需要转移"],
    "production_safety": ["{p}厂房彩钢瓦被大风掀起，随时可能坠落", "{p}工地塔吊未固定，大风中晃动"],
    "fire_hazard": ["{p}电线被风吹断落地，冒出火花"],
    "damaged_facility": ["{p}大树倒伏压住道路，车辆无法通行", "{p}广告牌被风吹歪，有坠落危险"],
}
CATCH_UP_S = 5.0           # a loop that fell further behind (Redis away) does not file a burst


def local_hour(ts: float, tz: ZoneInfo) -> int:
    return datetime.fromtimestamp(ts, tz).hour


def set_storm(r, geo, town: str, minutes: float = STORM_MINUTES) -> None:
    """Start (or extend) a demo storm over ``town`` for ``minutes``. ValueError for a town code
    the geography does not know."""
    if town not in geo.towns:
        known = ", ".join(f"{c} {t.get('name', '')}" for c, t in geo.towns.items())
        raise ValueError(f"unknown town code {town!r}; the towns are: {known}")
    if not minutes > 0:
        raise ValueError("the storm needs a positive number of minutes")
    r.set(STORM_KEY, town, px=int(minutes * 60_000))


def stop_storm(r) -> bool:
    return bool(r.delete(STORM_KEY))


def current_storm(r) -> tuple[str, float] | None:
    """(town code, seconds left) of the storm under way, or None."""
    town = r.get(STORM_KEY)
    if town is None:
        return None
    return town.decode() if isinstance(town, bytes) else town, max(r.pttl(STORM_KEY), 0) / 1000


class Simulator:
    """Publishes demo reports and follow-ups through ``runtime.publisher`` until ``stop()``."""

    def __init__(self, runtime, speed: float = 20.0, seed: int | None = None,
                 backfill_days: float = 30.0, stuck_share: float = 0.03, storm: str | None = None,
                 storm_minutes: float = STORM_MINUTES, policy=None):
        self.rt = runtime
        self.speed = max(speed, 0.001)
        self.rng = random.Random(seed)
        self.backfill_days = backfill_days
        self.stuck_share = stuck_share
        self.tz = ZoneInfo(runtime.settings.timezone)
        geo = runtime.geo
        if storm and storm not in geo.towns:
            raise ValueError(f"SIMULATOR_STORM: unknown town code {storm!r}; one of {', '.join(geo.towns)}")
        self.storm, self.storm_minutes = storm or None, storm_minutes
        if policy is None:
            policy = default_policy()
        self.policy = policy
        self._stop = threading.Event()
        # (due unix time, seq, event, expected version, status before it): follow-ups go through
        # the same checked appends as an operator's (dashboard.stream.commands); a case an operator took
        # over (the step is refused) gets no more simulated steps.
        self._queue: list[tuple[float, int, Event, int, str]] = []
        self._taken_over: set = set()
        self._shift: dict = {}  # case -> versions added meanwhile by the SLA clock or supervisors
        self._seq = 0
        self._grids = list(geo.grids.values())
        self._geoms = dict(zip(geo._grid_codes, geo._geoms))
        self._bounds = {code: g.bounds for code, g in self._geoms.items()}
        self._anchors: dict[str, tuple[float, float]] = {}
        weights = grid_weights(geo)
        self._weights = [weights[g.code] for g in self._grids]
        self._cum_weights = _cumulative(self._weights)
        self.workers = grid_workers(geo)
        self._cats = list(CATEGORY_WEIGHTS)
        self._cat_cum = _cumulative([CATEGORY_WEIGHTS[c] for c in self._cats])
        # live mode
        self._next_report: float | None = None
        self._storm_town: str | None = None
        self._storm_polled = -math.inf
        self._storm_wave: list[tuple[float, str]] = []
        self._storm_grids: tuple[list, list[float]] = ([], [])
        self._storm_next = math.inf
        self._storm_warned: str | None = None
        # counters
        self.published = 0          # events appended to the stream (reports and steps)
        self.reports = 0            # reports published
        self.skipped = 0            # generated reports that failed validation (logged, skipped)
        self.refused = 0            # steps refused (an operator took the case over)
        self.storm_reports = 0

    def stop(self) -> None:
        self._stop.set()

    # ------------------------------------------------------------------ generation
    def rate(self, ts: float) -> float:
        """Reports per second at unix time ``ts`` (live, sped up)."""
        return BASE_RATE * HOURLY[local_hour(ts, self.tz)] * self.speed

    def arrivals(self, start: float, end: float, speed: float = 1.0):
        """Report times in [start, end) at ``speed`` times the district's rate with the day/night
        rhythm (a Poisson process; memoryless, so consecutive windows chain exactly)."""
        ts = start
        while True:
            ts += self.rng.expovariate(BASE_RATE * speed * HOURLY[local_hour(ts, self.tz)])
            if ts >= end:
                return
            yield ts

    def _point_in(self, code: str, grid) -> tuple[float, float]:
        """A point (lat, lon), rounded as it travels, that lies in the grid and that the
        geography's lookup puts in that grid (so a report never lands across a town border)."""
        geom = self._geoms[code]
        minx, miny, maxx, maxy = self._bounds[code]
        locate = self.rt.geo.locate
        for _ in range(30):
            lon, lat = round(self.rng.uniform(minx, maxx), 6), round(self.rng.uniform(miny, maxy), 6)
            if shapely.contains_xy(geom, lon, lat):
                found = locate(lat, lon)
                if found is not None and found.code == code:
                    return lat, lon
        return self._anchor(code, grid)

    def _anchor(self, code: str, grid) -> tuple[float, float]:
        """The grid's own point, or a point well inside it when the lookup disagrees."""
        if code not in self._anchors:
            geom = self._geoms[code]
            rp = geom.representative_point()
            candidates = [(grid.lat, grid.lon), (round(rp.y, 6), round(rp.x, 6))]
            good = [c for c in candidates if (g := self.rt.geo.locate(*c)) is not None and g.code == code]
            self._anchors[code] = (good or candidates)[0]
        return self._anchors[code]

    def _pick(self, items: list, cum: list[float]):
        return self.rng.choices(items, cum_weights=cum)[0]

    def make_report(self, at: datetime, grid=None, storm: bool = False) -> Event:
        """One validated "reported" event at ``at``: in ``grid`` (default: drawn by the grids'
        weights), by one of that grid's workers. ``storm``: a red storm report."""
        r = self.rng
        grid = grid or self._pick(self._grids, self._cum_weights)
        if storm:
            cat = r.choices(list(STORM_CATEGORIES), weights=list(STORM_CATEGORIES.values()))[0]
            text = r.choice(STORM_TEXTS[cat])
            urgency = "red"
        else:
            cat = self._pick(self._cats, self._cat_cum)
            text = r.choice(TEXTS[cat])
            urgency = categories()[cat].urgency
            if r.random() < RAISED_URGENCY_SHARE:
                urgency = {"green": "yellow", "yellow": "red", "red": "red"}[urgency]
        lat, lon = self._point_in(grid.code, grid)
        place = grid.village_name + r.choice(PLACES)
        workers = self.workers.get(grid.code) or ["（未登记）"]
        report = ReportIn(category=cat, description=DEMO_PREFIX + text.format(p=place), lat=lat, lon=lon,
                          reporter=reporter_name(r.choice(workers)), grid=grid.code, urgency=urgency,
                          id=uuid.UUID(int=r.getrandbits(128), version=4),
                          reported_at=at, source=SOURCE)
        return report_event(report, self.rt.geo, now=at)

    def follow_ups(self, report: Event, compress: float = 1.0, *, accept_after: timedelta | None = None,
                   late: bool = False) -> list[Event]:
        """The case's later events in time order, delays drawn against its own SLA windows and
        divided by ``compress``. ``accept_after``: the command room accepts after this much
        real time (a storm), the later steps follow at ``compress``. ``late``: closes late."""
        r = self.rng
        d = report.data
        iid, t0 = report.incident_id, report.at
        urgency = d["urgency"] if d["urgency"] in ACCEPT_ON_TIME else "green"
        rule = self.policy.rule(d["category"], d["urgency"])
        A, C = rule.accept.total_seconds() / 3600, rule.close.total_seconds() / 3600

        # Acceptance: most within the window, red within minutes; a few late.
        if r.random() < ACCEPT_ON_TIME[urgency]:
            median = min(ACCEPT_MEDIAN_H[urgency], 0.3 * A)
            accept_h = r.lognormvariate(math.log(median), 0.7)
            if accept_h >= 0.97 * A:
                accept_h = r.uniform(0.3, 0.95) * A
        else:
            accept_h = A * r.uniform(1.05, 2.5)
        accept_h = max(accept_h, 1 / 60)
        red = urgency == "red"
        assign_h = accept_h + r.lognormvariate(math.log(0.08 if red else 0.3), 0.6)
        # Closing: most within the close window (about a third of it on average), a few late.
        if not late and r.random() < CLOSE_ON_TIME[urgency]:
            close_h = C * (0.06 + 0.9 * r.betavariate(1.6, 3.0))
        else:
            close_h = C * (r.uniform(1.02, 1.5) if r.random() < 0.8 else r.uniform(1.5, 2.5))
        if close_h < assign_h + 0.03 * C:  # accepted late: the work still takes its time
            close_h = assign_h + C * r.uniform(0.05, 0.3)
        resolve_h = assign_h + (close_h - assign_h) * r.uniform(0.7, 0.95)

        def at(hours: float) -> datetime:
            if accept_after is None:
                return t0 + timedelta(hours=hours / compress)
            return t0 + accept_after + timedelta(hours=(hours - accept_h) / compress)

        out: list[tuple[float, Event]] = []

        def ev(kind: str, hours: float, actor: str = "指挥中心", note: str = "", **data) -> None:
            out.append((hours, Event(id=uuid.UUID(int=r.getrandbits(128), version=4), incident_id=iid,
                                     type=kind, at=at(hours), actor=actor, note=note, data=data)))

        ev("accepted", accept_h)
        dept = propose(d["category"], d["town"])
        ev("assigned", assign_h, department=dept)
        onward = [x for x in ONWARD.get(d["category"], ()) if x != dept]
        if onward and r.random() < ROUTE_ONWARD_SHARE:  # 流转: the case was another department's
            dept = r.choice(onward)
            ev("routed", assign_h + (resolve_h - assign_h) * r.uniform(0.05, 0.2), department=dept,
               note=r.choice(ROUTE_REASONS).format(dept=dept))
        roll, target = r.random(), 0
        for share in LEVEL_SHARES[urgency]:
            if roll < share:
                break
            roll -= share
            target += 1
        target = min(target, len(LEVELS) - 1)
        for lvl in range(1, target + 1):
            ev("escalated", assign_h + (resolve_h - assign_h) * lvl / (target + 1),
               level=LEVELS[lvl], note="上报上级协调处置")
        if close_h > 0.6 * C and r.random() < 0.5:
            ev("supervised", assign_h + (resolve_h - assign_h) * 0.45, actor="区指挥中心", note="督办：请加快处置")
        result = r.choice(RESULT_NOTES.get(d["category"], DEFAULT_RESULT_NOTES))
        ev("resolved", resolve_h, actor=dept, note=result)
        ev("closed", close_h, note="回访群众满意，结案")
        out.sort(key=lambda item: item[0])  # stable: the steps' versions follow their times
        return [e for _, e in out]

    # ------------------------------------------------------------------ appending
    @property
    def commands(self):
        if getattr(self, "_commands", None) is None:
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

    def _append_one(self, item) -> int:
        """Append one scheduled step through the checked path. A step refused because the case
        gained versions while its status stayed where the department left it (the SLA clock
        raised its urgency, a leader supervised it) is done at the new version; a case whose
        status someone else moved is theirs from then on. Returns 1 if appended."""
        ev, version, status = item[2], item[3], item[4]
        iid = ev.incident_id
        if iid in self._taken_over:
            return 0
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
        except ActionError:
            self._taken_over.add(iid)  # an operator moved the case along: leave it to them
            self._shift.pop(iid, None)
            self.refused += 1
            return 0
        if ev.type == "closed":
            self._shift.pop(iid, None)
        return 1

    def _append_batch(self, items: list, chunk: int = 1000) -> int:
        """Pipelined checked appends of scheduled steps (backfill), each case's in order. The
        same Lua check as ``Commands.append_many``, but a pipeline holds at most one step per
        case, so each refusal is seen before that case's next step is sent: a step refused
        because the SLA clock or a person added versions meanwhile goes the single path
        (``_append_one``), and a case someone else moved along gets no further steps."""
        cmds = self.commands
        done = 0
        pending = items
        while pending:
            batch, later, seen = [], [], set()
            for i, it in enumerate(pending):
                iid = it[2].incident_id
                if iid in self._taken_over:
                    continue
                if len(batch) >= chunk:
                    later.extend(pending[i:])
                    break
                (later if iid in seen else batch).append(it)
                seen.add(iid)
            pipe = self.rt.redis.pipeline(transaction=False)
            for it in batch:
                cmds.queue_append(pipe, it[2], it[3] + self._shift.get(it[2].incident_id, 0))
            for it, res in zip(batch, pipe.execute() if batch else []):
                if res[0] == b"ok":
                    done += 1
                    if it[2].type == "closed":
                        self._shift.pop(it[2].incident_id, None)
                else:
                    done += self._append_one(it)
            pending = later
        return done

    # ------------------------------------------------------------------ backfill
    def backfill(self, days: float, now: datetime | None = None, chunk_hours: float = 24.0) -> int:
        """Publish ``days`` of history at the real rate, chunk by chunk in time order: a chunk's
        reports (with their case heads), then the steps due within it. Steps due after ``now``
        stay scheduled for live mode. Returns the number of reports published."""
        now = now or datetime.now(timezone.utc)
        end = now.timestamp()
        chunk_start = end - days * 86400
        reports = steps = skipped = 0
        t_begin = time.monotonic()
        while chunk_start < end and not self._stop.is_set():
            chunk_end = min(chunk_start + chunk_hours * 3600, end)
            batch: list[Event] = []
            for ts in self.arrivals(chunk_start, chunk_end):
                at = datetime.fromtimestamp(ts, timezone.utc)
                try:
                    rep = self.make_report(at)
                except ValueError as exc:  # FieldError, pydantic's ValidationError
                    skipped += 1
                    log.warning("simulator backfill: a generated report at %s was refused and skipped: %s",
                                at.isoformat(), exc)
                    continue
                batch.append(rep)
                self._schedule(self._versioned(self.follow_ups(rep, 1.0)))
            # Reports first (each with its case head), then the steps that fall in this chunk,
            # in time order: every case's report is in the stream before its steps.
            self.published += self.rt.publisher.publish_many(batch)
            reports += len(batch)
            due = []
            while self._queue and self._queue[0][0] <= chunk_end:
                due.append(heapq.heappop(self._queue))
            n = self._append_batch(due)
            steps += n
            self.published += n
            log.debug("simulator backfill up to %s: %d reports, %d steps, %d steps waiting",
                      datetime.fromtimestamp(chunk_end, self.tz), len(batch), n, len(self._queue))
            chunk_start = chunk_end
            self._storm_while_busy()
        self.reports += reports
        self.skipped += skipped
        log.info("simulator backfilled %d demo reports (%d events; %d generated reports skipped, "
                 "%d steps scheduled after now) over %.1f days in %.1f s", reports, reports + steps,
                 skipped, len(self._queue), days, time.monotonic() - t_begin)
        return reports

    # ------------------------------------------------------------------ live
    def tick(self, now: float) -> int:
        """Carry out every scheduled step due by ``now``. Returns how many were appended."""
        done = 0
        while self._queue and self._queue[0][0] <= now:
            item = heapq.heappop(self._queue)
            try:
                done += self._append_one(item)
            except Exception:
                heapq.heappush(self._queue, item)  # Redis away: keep it, retry on the next tick
                raise
        self.published += done
        if len(self._taken_over) > 100_000:
            self._taken_over.clear()
        return done

    def new_report(self, now: float, grid=None, storm: bool = False) -> Event:
        rep = self.make_report(datetime.fromtimestamp(now, timezone.utc), grid=grid, storm=storm)
        if storm:  # the command room is overwhelmed: acceptance after real-time minutes
            lo, med, hi = STORM_ACCEPT_MIN
            minutes = min(max(self.rng.lognormvariate(math.log(med), 0.6), lo), hi)
            follow = self.follow_ups(rep, self.speed, accept_after=timedelta(minutes=minutes))
        elif self.rng.random() < self.stuck_share:  # real-time delays, closed late
            follow = self.follow_ups(rep, 1.0, late=True)
        else:
            follow = self.follow_ups(rep, self.speed)
        self.rt.publisher.publish(rep)  # first the report; its follow-ups only once it is out
        self.published += 1
        self.reports += 1
        self.storm_reports += storm
        self._schedule(self._versioned(follow))
        return rep

    def _poll_storm(self, now: float) -> None:
        """About once a second: is a storm on (``demo:storm``), and over which town?"""
        if now - self._storm_polled < STORM_POLL_S:
            return
        self._storm_polled = now
        raw = self.rt.redis.get(STORM_KEY)
        town = raw.decode() if isinstance(raw, bytes) else raw
        if town is not None and town not in self.rt.geo.towns:
            if self._storm_warned != town:
                log.warning("simulator: %s names an unknown town %r; ignored", STORM_KEY, town)
                self._storm_warned = town
            town = None
        if town == self._storm_town:
            return
        self._storm_town = town
        self._storm_wave = []
        self._storm_next = math.inf
        if town is None:
            log.info("simulator: the demo storm is over")
            return
        in_town = [(g, w) for g, w in zip(self._grids, self._weights) if g.town_code == town]
        self._storm_grids = ([g for g, _ in in_town], _cumulative([w for _, w in in_town]))
        grids = [g.code for g, _ in in_town]
        self.rng.shuffle(grids)
        step = STORM_WAVE_S / max(len(grids), 1)
        self._storm_wave = [(now + i * step, code) for i, code in enumerate(grids)]
        self._storm_wave.reverse()  # popped from the end, earliest first
        self._storm_next = now + STORM_WAVE_S + self.rng.expovariate(STORM_RATE)
        log.info("simulator: demo storm over town %s (%d grids)", town, len(grids))

    def _storm_step(self, now: float) -> int:
        """File the storm's reports due by ``now``."""
        n = 0
        geo = self.rt.geo
        while self._storm_wave and self._storm_wave[-1][0] <= now:
            due, code = self._storm_wave[-1]
            self.new_report(due, grid=geo.grids[code], storm=True)
            self._storm_wave.pop()
            n += 1
        if self._storm_town is not None and self._storm_grids[0]:
            if self._storm_next < now - CATCH_UP_S:
                self._storm_next = now
            grids, cum = self._storm_grids
            while self._storm_next <= now:
                self.new_report(self._storm_next, grid=self._pick(grids, cum), storm=True)
                self._storm_next += self.rng.expovariate(STORM_RATE)
                n += 1
        return n

    def _storm_while_busy(self) -> None:
        """Between backfill chunks: a storm started meanwhile is served at once."""
        if getattr(self.rt, "redis", None) is None:
            return
        now = time.time()
        self._poll_storm(now)
        self._storm_step(now)

    def step(self, now: float) -> float:
        """One pass of the live loop at unix time ``now``: due steps, new reports, the storm.
        Returns the time it next has something to do."""
        self._poll_storm(now)
        self.tick(now)
        self._storm_step(now)
        if self._next_report is None or self._next_report < now - CATCH_UP_S:
            self._next_report = now + self.rng.expovariate(self.rate(now))
        while self._next_report <= now:
            self.new_report(self._next_report)
            self._next_report += self.rng.expovariate(self.rate(self._next_report))
        wake = min(self._next_report, now + STORM_POLL_S)
        if self._queue:
            wake = min(wake, self._queue[0][0])
        if self._storm_wave:
            wake = min(wake, self._storm_wave[-1][0])
        if self._storm_town is not None:
            wake = min(wake, self._storm_next)
        return wake

    def run(self) -> None:
        if self.storm:
            try:
                set_storm(self.rt.redis, self.rt.geo, self.storm, self.storm_minutes)
                log.info("simulator: demo storm over %s for %.0f minutes (SIMULATOR_STORM)", self.storm,
                         self.storm_minutes)
            except Exception:
                log.exception("simulator: could not start the demo storm")
        if self.backfill_days > 0:
            try:
                if self.rt.store.count_incidents() == 0:
                    self.backfill(self.backfill_days)
            except Exception:
                log.exception("simulator backfill failed")
        while not self._stop.is_set():
            try:
                wake = self.step(time.time())
            except Exception as exc:  # Redis away: try again shortly, nothing is dropped
                log.warning("simulator: %s", exc)
                self._stop.wait(1.0)
                continue
            self._stop.wait(max(0.0, min(wake - time.time(), 0.5)))


def _cumulative(weights: list[float]) -> list[float]:
    out, total = [], 0.0
    for w in weights:
        total += w
        out.append(total)
    return out
