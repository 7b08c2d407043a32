"""What every request reaches: the server's store (as an embedded ``Client`` that never
runs jobs itself) and the controller that does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import Request

from loxo.client import Client
from loxo.pps.cron import tick_crons
from loxo.server.config import ServerConfig
from loxo.server.controller import Controller
from loxo.server.logs import log_failed_datums


@dataclass
class ServerState:
    config: ServerConfig
    client: Client
    controller: Controller

    @classmethod
    def open(cls, config: ServerConfig) -> ServerState:
        client = Client(config.home, auto_run=False, sandbox=config.sandbox, scratch=config.scratch,
                        db=config.db, storage=config.storage, executor=config.executor)
        controller = Controller(
            lambda now: client.run_pending(now), config.cron_interval,
            on_finish=lambda pipeline, job, state: log_failed_datums(
                client.pfs.store.db, pipeline, job, state),
        )
        client.on_job = controller.job_started  # "job started" lines
        return cls(config, client, controller)

    def changed(self) -> None:
        """Data or specs changed: have the controller look now."""
        self.controller.poke()

    def tick(self, now: datetime) -> None:
        """Commit the cron ticks due by ``now``; the jobs they trigger follow."""
        tick_crons(self.client.pfs, now)
        self.changed()

    def close(self) -> None:
        self.controller.stop()
        self.client.close()


def server_state(request: Request) -> ServerState:
    state: ServerState = request.app.state.loxo
    return state
