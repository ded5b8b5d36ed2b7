"""Rules, with no Flask, Dash, Redis or SQL: the domain and its lifecycle, roles and scope,
input schemas, the actions and what they need, intake, SLA policy, KPI formulas, routing, and
what the wall paints. Everything else asks these modules."""
