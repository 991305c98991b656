"""`moviefactory serve`: the studio (a web page and an HTTP API) over the same factory and runs."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .common import app, console, errors, say


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on; anything but localhost needs "
                                                         "--token."),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="Port (0: any free one)."),
    token: Optional[str] = typer.Option(None, "--token", envvar="STUDIO_TOKEN", show_envvar=True,
                                        help="Every request must carry it (header, or the login form's cookie)."),
    workers: int = typer.Option(1, "--workers", min=1, max=64, help="Films made at once (1 on a CPU)."),
    cors: Optional[List[str]] = typer.Option(None, "--cors", help="Allow a web page from ORIGIN to call the API "
                                                                  "(repeatable); none by default."),
    output: Path = typer.Option(Path("runs"), "--output", help="Where runs and the studio's queue live."),
    config: Optional[Path] = typer.Option(None, "--config", help="The server's film settings (YAML): paths, "
                                          "servers and keys' variables that requests may not set."),
    queue_limit: int = typer.Option(20, "--queue-limit", min=1, help="Queued films before new ones get 429."),
    max_upload_mb: float = typer.Option(500.0, "--max-upload-mb", min=0.001, help="Largest upload, in MB."),
) -> None:
    """Run the studio: the page at http://HOST:PORT/, the API under /api, its OpenAPI docs at /docs. Films
    are queued in OUTPUT/studio.sqlite and survive a restart."""
    import uvicorn

    from ..job import file_layer
    from ..studio.app import Settings, create_app
    from ..studio.security import check_host

    with errors():
        check_host(host, token)
        if config is not None:
            file_layer(config)  # a bad settings file is one line now, not an error per film
        settings = Settings(output=output, config=str(config.resolve()) if config else None, token=token,
                            workers=workers, cors=tuple(cors or ()), queue_limit=queue_limit,
                            max_upload_mb=max_upload_mb)
        studio = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(studio, host=host, port=port, log_level="warning", access_log=False,
                                           timeout_graceful_shutdown=5))
    shown = "localhost" if host in ("127.0.0.1", "::1") else host

    async def announce():
        import asyncio

        while not server.started:
            await asyncio.sleep(0.05)
        bound = server.servers[0].sockets[0].getsockname()[1] if server.servers else port
        say(f"moviefactory studio: http://{shown}:{bound}/  (API docs: http://{shown}:{bound}/docs)"
            + ("  token required" if token else ""))

    async def main():
        import asyncio

        task = asyncio.create_task(announce())
        await server.serve()
        task.cancel()

    import asyncio

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        console.print("studio stopped")
    except SystemExit:  # uvicorn could not listen (it said why, in one line: the port is taken, ...)
        raise typer.Exit(2) from None
    if not server.started:
        raise typer.Exit(2)
