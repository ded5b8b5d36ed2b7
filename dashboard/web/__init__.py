"""Flask only: sign-in, sessions, keys, CSRF and limits (``security``), one JSON error format
(``errors``), the HTTP API, cameras, KPIs, exports, Open311 and the OpenAPI document."""
