"""Dashboard layouts: a user's own, else the admin's default, else the built-in one."""

from __future__ import annotations

import time
import typing

import msgspec
from litestar.exceptions import ValidationException

from backend.schemas import Layout, LayoutView, OverviewPanel, TaskColumn, WorkerColumn
from storage import layouts as layout_store
from storage.store import Store

BUILT_IN = Layout(
    overview=["health", "cpu", "memory", "tasks_by_status"],
    worker_columns=list(typing.get_args(WorkerColumn)),
    task_columns=list(typing.get_args(TaskColumn)),
)
CHOICES = {"overview": list(typing.get_args(OverviewPanel)),
           "worker_columns": list(typing.get_args(WorkerColumn)),
           "task_columns": list(typing.get_args(TaskColumn))}


def check(layout: Layout) -> Layout:
    """Refuse repeated entries and tables without their id column (rows could not be told apart)."""
    for field in ("overview", "worker_columns", "task_columns"):
        entries = getattr(layout, field)
        repeated = sorted({entry for entry in entries if entries.count(entry) > 1})
        if repeated:
            raise ValidationException(f"{field}: {', '.join(repeated)} listed more than once")
    for field in ("worker_columns", "task_columns"):
        if "id" not in getattr(layout, field):
            raise ValidationException(f"{field}: must include id")
    return layout


class LayoutService:
    """Reads and writes layouts through the store; a stored layout that no longer validates is ignored."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def effective(self, username: str | None) -> LayoutView:
        """The user's own layout when saved, else the default."""
        own = await self._load(username) if username else None
        return self._view(own, "own") if own else await self.default()

    async def default(self) -> LayoutView:
        """The admin's default layout, else the built-in one."""
        stored = await self._load(layout_store.DEFAULT_OWNER)
        return self._view(stored, "default") if stored else self._view(BUILT_IN, "built-in")

    async def save(self, owner: str, layout: Layout) -> None:
        await self.store.write(layout_store.save(owner, msgspec.to_builtins(check(layout)), time.time()))

    async def reset(self, owner: str) -> None:
        await self.store.write(layout_store.remove(owner))

    async def _load(self, owner: str) -> Layout | None:
        stored = await self.store.read(lambda cur: layout_store.saved(cur, owner))
        try:
            return check(msgspec.convert(stored, Layout)) if stored else None
        except (msgspec.ValidationError, ValidationException):
            return None  # saved by a version that offered other choices: fall back, never fail the page

    @staticmethod
    def _view(layout: Layout, source: str) -> LayoutView:
        return LayoutView(layout=layout, source=source, choices=CHOICES)
