"""``sandbox serve``: every emulator on one local port (registered on the ``sandbox`` group)."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli.main import Context, handle_errors, pass_ctx, sandbox


# -- sandbox -----------------------------------------------------------------------------------------
@sandbox.command("serve")
@click.option("--port", type=click.IntRange(0, 65535), default=8787, show_default=True, help="0 picks a free port.")
@click.option("--data", type=click.Path(dir_okay=False, path_type=Path), default=Path(".reconciler/sandbox.sqlite"), show_default=True)
@click.option("--seed", "seeds", multiple=True, help="Load a named seed, as API:NAME (e.g. mediamath:estate).")
@click.option("--latency-ms", type=float, default=0.0, show_default=True)
@click.option("--fault-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True)
@pass_ctx
@handle_errors
def sandbox_serve(ctx: Context, port: int, data: Path, seeds: tuple[str, ...], latency_ms: float, fault_rate: float) -> None:
    """Serve every emulator on 127.0.0.1:PORT under /mediamath, /liveramp, /mediarithmics."""
    from reconciler.errors import InputError
    from reconciler.sandbox import create_sandbox
    from reconciler.sandbox.base import SandboxServer

    data.parent.mkdir(parents=True, exist_ok=True)
    app = create_sandbox(str(data))
    for seed in seeds:
        api, _, name = seed.partition(":")
        if api not in app.emulators or not name:
            raise InputError(f"--seed {seed}: expected API:NAME with API one of {', '.join(sorted(app.emulators))}")
        with app.store.transaction():
            app.emulators[api].seed(name, None)
    app.set_faults(latency_ms=latency_ms, fault_rate=fault_rate)
    server = SandboxServer(app, port=port)
    mounts = dict.fromkeys("/" + (e.mount or e.name) for e in app.emulators.values())
    ctx.console.print(f"Sandbox on {server.url} ({', '.join(mounts)}); for this machine only. Ctrl+C stops it.")
    try:
        server.serve_forever()
    finally:
        app.store.close()
