"""The accounts the integration tests sign in with (made by the ``accounts`` fixture)."""

PASSWORD = "correct horse battery"
TOWN, OTHER_TOWN = "331004106", "331004103"  # 金清镇, 新桥镇
DEPARTMENT = "综合行政执法局"
# username -> (role, town, department): one account of every role, two town operators
USERS = {
    "admin": ("admin", None, None),
    "leader": ("leader", None, None),
    "op": ("operator", TOWN, None),
    "op_other": ("operator", OTHER_TOWN, None),
    "handler": ("handler", None, DEPARTMENT),
    "worker": ("reporter", TOWN, None),
}
