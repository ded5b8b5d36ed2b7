"""The read side for pages and APIs: KPI figures, the live picture, the leaders' view and its
exports. No Flask or Dash: pages and HTTP routes call these."""
