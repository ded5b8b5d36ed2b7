"""User-facing texts in simplified Chinese (default) and English."""
from __future__ import annotations

LANGS = ("zh", "en")

TEXT = {
    "title": ("路桥区全科网格综合指挥平台", "Luqiao Grid Governance Command Center"),
    "live_map": ("实时事件地图", "Live incident map"),
    "demo_badge": ("演示数据", "DEMO DATA"),
    "demo_note": ("网格边界为示意图，事件由模拟器生成", "Schematic grids; incidents come from the simulator"),
    "data_as_of": ("数据截至", "Data as of"),
    "open_cases": ("在办事件", "Open cases"),
    "red": ("红色", "Red"),
    "yellow": ("黄色", "Yellow"),
    "green": ("绿色", "Green"),
    "live": ("实时", "LIVE"),
    "stale": ("数据中断", "STALE"),
    "grids": ("网格", "grids"),
}


def t(key: str, lang: str = "zh") -> str:
    zh, en = TEXT[key]
    return en if lang == "en" else zh
