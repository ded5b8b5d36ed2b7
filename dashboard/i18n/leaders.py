"""Texts of the leaders' view (``/leaders`` and its exports), simplified Chinese and English.

Kept apart from ``dashboard/i18n.py`` so the two can be edited independently; ``tl`` falls
back to the shared texts for keys that are not here.
"""
from __future__ import annotations

from dashboard.i18n import TEXT as SHARED
from dashboard.i18n import pick

TEXT = {
    "page": ("领导视图", "Leaders' view"),
    "crumb_label": ("当前范围", "You are here"),
    "f_period": ("统计周期", "Period"),
    "f_category": ("类别（全部）", "Category (all)"),
    "f_urgency": ("紧急程度（全部）", "Urgency (all)"),
    "f_status": ("状态（全部）", "Status (all)"),
    "f_min": ("网格员最少案件数", "Min. cases per worker"),
    "status_open": ("在办（全部）", "Open (any)"),
    "export_csv": ("导出 CSV", "Export CSV"),
    "export_xlsx": ("导出 Excel", "Export Excel"),
    "export_note": ("导出当前筛选的全部事件（最多 {n} 条）", "Exports every case of this selection (at most {n})"),
    "kpi_reported": ("周期上报", "Reported"),
    "kpi_closed": ("已结案", "Closed"),
    "kpi_overdue_sub": ("当前在办，不限周期", "open now, any period"),
    "pending_n": ("{n} 件未到期", "{n} not yet due"),
    "trend_title": ("上报与结案趋势", "Reports and closures"),
    "trend_by_hour": ("（按小时）", " (by hour)"),
    "trend_by_day": ("（按日）", " (by day)"),
    "rank_towns": ("镇街排名（按上报量）", "Towns by reports"),
    "rank_grids": ("网格排名（按上报量）", "Grids by reports"),
    "rank_hint": ("点击名称下钻", "Click a name to drill down"),
    "workers_title": ("网格员排名（至少 {n} 件）", "Grid workers with at least {n} cases"),
    "workers_none": ("没有达到 {n} 件的网格员", "No grid worker has {n} cases or more"),
    "col_rank": ("#", "#"),
    "col_name_town": ("镇街", "Town"),
    "col_name_grid": ("网格", "Grid"),
    "col_worker": ("网格员", "Grid worker"),
    "col_main_grid": ("主要网格", "Main grid"),
    "col_closed": ("结案", "Closed"),
    "col_id": ("编号", "ID"),
    "col_time": ("上报时间", "Reported"),
    "col_accepted": ("受理时间", "Accepted"),
    "col_closed_at": ("结案时间", "Closed"),
    "cases_title": ("事件列表", "Cases"),
    "cases_first": ("显示最新 {shown} 条，共 {total} 条；完整数据请导出", "Newest {shown} of {total}; export for all"),
    "cases_all": ("共 {total} 条", "{total} cases"),
    "cases_none": ("没有符合条件的事件", "No case matches"),
    "denied_title": ("无权访问", "Not allowed"),
    "notfound_title": ("未找到", "Not found"),
    "denied_back": ("返回我的范围", "Back to my scope"),
    "denied_town": ("您的账号只能查看{town}的数据", "Your account sees {town} only"),
    "denied_role": ("您的账号不能使用领导视图", "Your account cannot use the leaders' view"),
    "notfound_detail": ("没有这个镇街或网格，或网格不属于该镇街", "No such town or grid, or the grid is not in that town"),
    "col_closure_rate": ("结案率", "Closure rate"),
    "col_overdue_title": ("当前在办且超期的事件，不限周期", "Open and overdue now, whatever the period"),
    "unavailable": ("数据暂不可用，请稍后刷新", "Data unavailable, refresh later"),
    "sheet_cases": ("事件", "Cases"),
    "sheet_info": ("说明", "About"),
    "info_scope": ("范围", "Scope"),
    "info_period": ("周期", "Period"),
    "info_filters": ("筛选", "Filters"),
    "info_as_of": ("数据截至", "Data as of"),
    "info_rows": ("导出条数", "Rows exported"),
    "info_total": ("符合条件", "Rows matching"),
    "info_truncated": ("超过上限，只导出最新的 {n} 条", "Over the limit: only the newest {n} exported"),
    "info_none": ("无", "none"),
    "info_demo": ("演示环境的事件由模拟器生成（描述带【演示】）",
                  "In the demo, cases come from the simulator (descriptions start with 【演示】)"),
}


def tl(key: str, lang: str = "zh", **fmt) -> str:
    """The text for ``key`` in ``lang`` (this module's, else the shared one), formatted."""
    pair = TEXT.get(key) or SHARED[key]
    text = pick(pair, lang)
    return text.format(**fmt) if fmt else text
