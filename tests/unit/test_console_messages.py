"""The console says why an action was refused in the page's language."""
from __future__ import annotations

import pytest

from callbacks.console import action_error_text
from dashboard.core.actions import ActionError


@pytest.mark.parametrize("exc,action,lang,expected", [
    (ActionError(422, "return needs note", field="note"), "return", "zh", "退回需要填写处置意见 / 备注"),
    (ActionError(422, "assign needs department", field="department"), "assign", "en", "Assign needs Department"),
    (ActionError(422, "note: text of at most 2000 characters", field="note"), "accept", "zh", "处置意见 / 备注过长"),
    (ActionError(409, "the case changed meanwhile: it is at version 3, not 1; reload it", version=3,
                 status="accepted", allowed=["assign"]), "accept", "zh", "该事件已被他人更新（现为第 3 版），请查看最新状态后重试"),
    (ActionError(409, "close is not allowed while the case is accepted; allowed: assign, supervise", version=2,
                 status="accepted", allowed=["assign", "supervise"]), "close", "zh",
     "当前状态（已受理）不能反馈结案；可执行：交办、督办"),
    (ActionError(404, "no such case"), "accept", "zh", "事件不存在或尚未入库"),
])
def test_refusals_are_told_in_the_page_language(exc, action, lang, expected):
    assert action_error_text(exc, action, lang) == expected
