"""scenario → run: the engine, its runtimes, load generation and sampling."""
