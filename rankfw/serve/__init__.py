"""``rankfw serve``: a trained pipeline over HTTP (Starlette + uvicorn; ``pip install 'rankfw[serve]'``)."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any


def serve(searcher: Any, host: str = "127.0.0.1", port: int = 8080, window_ms: float = 5.0, max_batch: int = 32,
          queue_size: int = 256, max_k: int = 1000, log: Callable[[str], None] = lambda m: None) -> None:
    """Serve ``searcher``'s pipeline until SIGINT / SIGTERM; in-flight requests are answered first."""
    import uvicorn

    from rankfw.serve.app import create_app

    app = create_app(searcher, window_ms, max_batch, queue_size, max_k, log=log)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="on",
                            timeout_graceful_shutdown=60)
    server = _server_class(uvicorn)(config)
    log(f"serving {searcher.engine.output_dir} on http://{host}:{port} (default stage {searcher.stage} "
        f"[{searcher.language}]; POST /search, GET /health, GET /stages)")
    server.run()
    log("stopped (in-flight requests answered)")


def _server_class(uvicorn: Any) -> Any:
    class Server(uvicorn.Server):  # type: ignore[misc,name-defined]
        """uvicorn's server, but a SIGTERM / SIGINT that it has handled (drained) ends with exit 0
        instead of being raised again after the shutdown."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            original = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in original.items():
                    signal.signal(sig, handler)

    return Server


def create_app(*args: Any, **kwargs: Any) -> Any:
    """The ASGI app (see :func:`rankfw.serve.app.create_app`)."""
    from rankfw.serve.app import create_app as make

    return make(*args, **kwargs)
