"""Executors: where a stage's batches run (``local`` in this process, or ``ray`` on a cluster)."""

from rankfw.executors.local import Executor, LocalExecutor

__all__ = ["Executor", "LocalExecutor"]
