"""Long-running loops besides the persister: the SLA watcher."""
