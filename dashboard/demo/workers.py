"""DEMO DATA: a small registry of full-time grid workers (专职网格员), one or two per grid.

The demo simulator files every report under the name of one of its grid's own workers, so a
name on the screen belongs to one grid and files a plausible number of reports a day: at the
district's real rate (~4,470 reports a day) and ~950 workers that is 4-5 a day each, a busy
one 10-15, never hundreds.

Everything here is derived deterministically from the grid codes (the same names after every
restart, on every process). The names are invented: common Taizhou surnames with common given
names, unique across the district. A real deployment has its own people registry; this one
exists for the demo only.
"""
from __future__ import annotations

import hashlib
import math
import random
from functools import lru_cache

# Common surnames in Taizhou / Zhejiang, roughly by frequency (weights).
SURNAMES = {
    "陈": 10, "王": 8, "林": 8, "李": 5, "张": 5, "黄": 4, "吴": 4, "郑": 4, "蔡": 3, "杨": 3,
    "周": 3, "徐": 3, "金": 3, "何": 2, "叶": 2, "应": 2, "卢": 2, "梁": 2, "罗": 2, "潘": 2,
    "朱": 2, "胡": 2, "许": 2, "蒋": 1, "方": 1, "管": 1, "颜": 1, "牟": 1, "詹": 1, "陶": 1,
    "葛": 1, "沈": 1, "赵": 1, "章": 1, "狄": 1, "屈": 1, "丁": 1, "洪": 1, "泮": 1, "鲍": 1,
}
GIVEN_NAMES = (
    "君辉", "建国", "丽萍", "海燕", "志强", "晓东", "美华", "国平", "小燕", "伟军", "玲芳", "永明",
    "佳怡", "文斌", "建华", "春燕", "海波", "秀英", "卫东", "红霞", "国庆", "素芬", "志勇", "雪梅",
    "建军", "丽娟", "云飞", "晓燕", "明华", "彩霞", "伟平", "静", "斌", "敏", "勇", "芳", "军",
    "丹丹", "立新", "金龙", "燕飞", "仙芝", "冬梅", "建平", "晓丽", "宏伟", "亚芬", "鹏飞", "慧",
    "振华", "美玲", "玉兰", "国华", "海军", "巧玲", "永康", "晓峰", "凤英", "成龙", "丽君", "剑锋",
    "菊芬", "跃进", "林峰", "小芬", "建伟", "灵芝", "一鸣", "思远", "晨曦", "佳佳", "梦婷", "俊杰",
    "婷婷", "浩然", "雅琴", "国良", "杰", "琳", "群英", "德明", "秀娟", "茂林", "洁",
)

# Hotspots: how much more (or less) a grid reports than the average one. Moderate on purpose:
# a market or an industrial zone reports two or three times the average, not thirty.
WEIGHT_SIGMA = 0.45
WEIGHT_RANGE = (0.35, 3.0)


def _seed(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256(":".join(parts).encode()).digest()[:8], "big")


def grid_weight(code: str) -> float:
    """The grid's relative report volume (mean about 1), fixed per grid code."""
    w = random.Random(_seed("demo-weight", code)).lognormvariate(-WEIGHT_SIGMA ** 2 / 2, WEIGHT_SIGMA)
    return min(max(w, WEIGHT_RANGE[0]), WEIGHT_RANGE[1])


def grid_weights(geo) -> dict[str, float]:
    return {code: grid_weight(code) for code in geo.grids}


def grid_workers(geo) -> dict[str, list[str]]:
    """grid code -> the names of its full-time grid workers (1 or 2; busier grids have 2).
    Names are unique across the district and the same on every call."""
    return {code: list(names) for code, names in _workers(tuple(sorted(geo.grids))).items()}


@lru_cache(maxsize=4)
def _workers(codes: tuple[str, ...]) -> dict[str, list[str]]:
    weights = {c: grid_weight(c) for c in codes}
    ranked = sorted(weights.values())
    median = ranked[len(ranked) // 2] if ranked else 1.0
    surnames, sw = list(SURNAMES), list(SURNAMES.values())
    rng = random.Random(_seed("demo-workers", str(len(codes))))
    capacity = len(SURNAMES) * len(GIVEN_NAMES)
    if 2 * len(codes) > capacity:
        raise ValueError(f"{len(codes)} grids need more demo names than {capacity}")
    used: set[str] = set()
    out: dict[str, list[str]] = {}
    for code in codes:
        n = 2 if weights[code] >= median else 1
        names = []
        while len(names) < n:
            name = rng.choices(surnames, weights=sw)[0] + rng.choice(GIVEN_NAMES)
            if name not in used:
                used.add(name)
                names.append(name)
        out[code] = names
    return out


def reporter_name(worker: str) -> str:
    """How a report names its grid worker (as the source article does: 网格员陈君辉)."""
    return f"网格员{worker}"


def expected_per_worker_day(geo, reports_per_day: float) -> dict[str, float]:
    """Each worker's expected reports a day when the district files ``reports_per_day``."""
    weights = grid_weights(geo)
    total = math.fsum(weights.values())
    out = {}
    for code, names in grid_workers(geo).items():
        for name in names:
            out[name] = reports_per_day * weights[code] / total / len(names)
    return out
