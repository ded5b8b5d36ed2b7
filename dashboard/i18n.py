"""User-facing texts in simplified Chinese (default) and English."""
from __future__ import annotations

LANGS = ("zh", "en")

TEXT = {
    "title": ("路桥区全科网格综合指挥平台", "Luqiao Grid Governance Command Center"),
    "demo_badge": ("演示数据", "DEMO DATA"),
    "demo_note": ("网格边界为示意图，事件由模拟器生成", "Schematic grids; incidents come from the simulator"),
    "data_as_of": ("数据截至", "Data as of"),
    "live": ("实时", "LIVE"),
    "stale": ("数据中断", "STALE"),
    "connecting": ("连接中", "CONNECTING"),
    "revoked": ("大屏链接已撤销", "LINK REVOKED"),
    "revoked_note": ("此大屏链接已被撤销或已失效，画面不再更新。请联系管理员重新发放链接。",
                     "This screen's link was revoked or has expired; the wall no longer updates. "
                     "Ask an administrator for a new link."),
    "stale_note": ("数据中断：画面停留在 {t} 的数据，正在自动重连…",
                   "Data interrupted: the wall shows data as of {t}; reconnecting…"),
    "stale_since": ("自 {t} 起未更新", "not updated since {t}"),
    "as_of_short": ("截至 {t}", "as of {t}"),
    "alarm_title": ("红色事件待受理", "Red cases waiting"),
    "alarm_more": ("另有 {n} 件", "+{n} more"),
    "pending_n": ("{n} 件未到期", "{n} not due"),
    "open_n": ("{n} 件在办", "{n} still open"),
    "of_open": ("在办 {n}", "of {n} open"),
    "year_n": ("本年 {n}", "year {n}"),
    "accept_mean": ("受理 {h}", "accept {h}"),
    "overdue_mark": ("超期", "overdue"),
    "waiting_mark": ("待受理", "waiting"),
    "district": ("全区", "District"),
    "denied": ("无权访问此页面", "You may not open this page"),
    "home": ("返回首页", "Home"),
    "logout": ("退出", "Sign out"),
    "photo_link": ("外部照片链接", "External photo link"),
    "signed_in_as": ("当前用户", "Signed in as"),
    "kpi_reports_today": ("今日上报", "Reports today"),
    "kpi_accepted_1d": ("1天内受理率", "Accepted ≤1 day"),
    "kpi_closed_5d": ("5天内办结率", "Closed ≤5 days"),
    "kpi_closure_rate": ("结案率", "Closure rate"),
    "kpi_overdue": ("超期未办", "Overdue now"),
    "kpi_open_red": ("红色在办", "Open red"),
    "kpi_open_yellow": ("黄色在办", "Open yellow"),
    "kpi_open_green": ("绿色在办", "Open green"),
    "kpi_mean_close": ("平均办结", "Mean to close"),
    "hours": ("小时", "h"),
    "period_today": ("今日", "today"),
    "period_7d": ("近7天", "last 7 days"),
    "period_30d": ("近30天", "last 30 days"),
    "period_year": ("本年", "this year"),
    "levels_title": ("办结层级", "Resolved at"),
    "level_grid": ("微事不出格", "Grid"),
    "level_village": ("小事不出村", "Village"),
    "level_town": ("大事不出镇", "Town"),
    "level_district": ("区级", "District"),
    "ranking_title": ("镇街排名", "Towns"),
    "ranking_title_village": ("村社排名", "Villages"),
    "col_town": ("镇街", "Town"),
    "col_village": ("村社", "Village"),
    "col_reports": ("上报", "Reports"),
    "col_rate": ("结案率", "Closed"),
    "col_overdue": ("超期", "Overdue"),
    "trend_title": ("近30天趋势", "Last 30 days"),
    "trend_reports": ("上报", "Reported"),
    "trend_closed": ("结案", "Closed"),
    "ticker_title": ("最新上报（红色待受理置顶）", "Latest reports (red waiting first)"),
    "cameras_title": ("视频监控", "Cameras"),
    "camera_offline": ("离线", "OFFLINE"),
    "camera_last_seen": ("最后在线", "last seen"),
    "camera_follow": ("跟随红色事件", "Following red incident"),
    "camera_page": ("轮巡", "Touring"),
    "legend_red": ("紧急", "Urgent"),
    "legend_yellow": ("较急", "Soon"),
    "legend_green": ("一般", "Routine"),
    "legend_overdue": ("超期", "Overdue"),
    "legend_fill_r": ("红格：有红色事件待受理或超期", "Red grid: a red case waiting or overdue"),
    "legend_fill_y": ("黄格：有事件超期或黄色待受理", "Yellow grid: a case overdue or yellow waiting"),
    "legend_fill_g": ("绿格：在办事件均在时限内", "Green grid: open cases all in hand"),
    "detail_timeline": ("处置过程", "Timeline"),
    "detail_cameras": ("附近监控", "Nearest cameras"),
    "detail_photos": ("现场照片", "Photos"),
    "detail_open_cases": ("在办事件", "Open cases"),
    "detail_none": ("该网格无在办事件", "No open cases in this grid"),
    "close": ("关闭", "Close"),
    "reporter": ("上报人", "Reporter"),
    "status": ("状态", "Status"),
    "no_data": ("暂无", "n/a"),
    "switch_lang": ("English", "中文"),
    "console": ("事件处置台", "Operator console"),
    "col_reported": ("上报时间", "Reported"),
    "col_grid": ("网格", "Grid"),
    "col_category": ("类别", "Category"),
    "col_urgency": ("紧急程度", "Urgency"),
    "col_sla": ("时限", "Deadline"),
    "col_department": ("承办部门", "Department"),
    "col_description": ("事件描述", "Description"),
    "bulk_assign": ("批量交办", "Assign selected"),
    "pick_case": ("在左侧列表中选择一个事件", "Pick a case in the list"),
    "note": ("处置意见 / 备注", "Note"),
    "handler": ("承办人（可选）", "Handler (optional)"),
    "level": ("上报层级", "Level"),
    "accept_by": ("受理时限", "Accept by"),
    "close_by": ("办结时限", "Close by"),
    "overdue_by": ("已超期", "overdue by"),
    "remaining": ("剩余", "left"),
    "version_pending": ("最新操作正在入库…", "latest step being stored…"),
    "done_ok": ("已提交", "Submitted"),
    "assigned_n": ("已交办 {n} 件", "{n} assigned"),
    "conflicts_n": ("{n} 件冲突未交办", "{n} refused"),
}

ACTION_NAMES = {
    "accept": ("受理", "Accept"), "route": ("流转", "Route"), "assign": ("交办", "Assign"),
    "start": ("开始办理", "Start"), "resolve": ("办结", "Resolve"), "close": ("反馈结案", "Close"),
    "return": ("退回", "Return"), "reopen": ("重新办理", "Reopen"), "supervise": ("督办", "Supervise"),
    "escalate": ("上报上级", "Escalate"),
}

EVENT_NAMES = {
    "reported": ("上报", "Reported"), "accepted": ("受理", "Accepted"), "routed": ("流转", "Routed"),
    "assigned": ("交办", "Assigned"), "returned": ("退回", "Returned"), "started": ("办理", "Started"),
    "resolved": ("办结", "Resolved"), "closed": ("反馈结案", "Closed"), "reopened": ("重新办理", "Reopened"),
    "supervised": ("督办", "Supervised"), "escalated": ("上报上级", "Escalated"),
    "urgency_changed": ("调整紧急程度", "Urgency changed"), "noted": ("备注", "Note"),
}


def t(key: str, lang: str = "zh") -> str:
    zh, en = TEXT[key]
    return en if lang == "en" else zh


def pick(pair: tuple[str, str], lang: str) -> str:
    return pair[1] if lang == "en" else pair[0]


def lang_of(value: str | None) -> str:
    return "en" if value == "en" else "zh"
