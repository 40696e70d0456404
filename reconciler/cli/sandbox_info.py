"""``reconciler sandbox info``: what each emulator's seeds contain and its demo credentials.

Registered on the ``sandbox`` group when imported (``reconciler.cli.main`` imports this module,
beside ``sandbox_commands`` for ``sandbox serve``).
A thin layer: the facts come from each emulator's :meth:`~reconciler.sandbox.base.Emulator.describe`
(built from the constants its seeds load), on a fresh in-memory sandbox; nothing is started or
written.
"""

from __future__ import annotations

import json

import click

from reconciler.cli.main import Context, handle_errors, pass_ctx, sandbox
from reconciler.errors import InputError

INTRO = (
    "The sandbox: local emulators of the vendor APIs, for tests and demos on this machine only.\n"
    "'reconciler sandbox serve --port 8787' serves them at http://127.0.0.1:8787<path>; a workspace\n"
    "whose endpoint is 'sandbox' runs them in-process. The demo credentials work nowhere else."
)


@sandbox.command("info")
@click.option("--api", "apis", multiple=True, metavar="NAME", help="Only this emulator (repeatable).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@pass_ctx
@handle_errors
def sandbox_info(ctx: Context, apis: tuple[str, ...], fmt: str) -> None:
    """Print each emulator's path, demo credentials and what its seeds contain."""
    from reconciler.sandbox import create_sandbox

    app = create_sandbox(":memory:")
    try:
        infos = sorted((e.describe() for e in app.emulators.values()), key=lambda i: i.api)
    finally:
        app.store.close()
    unknown = sorted(set(apis) - {i.api for i in infos})
    if unknown:
        raise InputError(f"--api {unknown[0]}: no such emulator (one of {', '.join(i.api for i in infos)})")
    chosen = [i for i in infos if not apis or i.api in apis]
    if fmt == "json":
        ctx.console.print(json.dumps([i.as_json() for i in chosen], indent=2, sort_keys=True))
        return
    lines = [INTRO]
    for info in chosen:
        lines += ["", f"{info.api}: {info.title}", f"  path         {info.path}  (stands for {info.stands_for})"]
        lines.append("  credentials  " + "  ".join(f"{key}={value}" for key, value in info.credentials))
        for seed in info.seeds:
            lines.append(f"  seed {seed.name}: {seed.summary}")
            widths = [max((len(text) for text in column), default=0) for column in zip(
                *((e.kind, e.id, e.name) for e in seed.entries), strict=True
            )] if seed.entries else []
            for entry in seed.entries:
                row = "  ".join(text.ljust(w) for text, w in zip((entry.kind, entry.id, entry.name), widths, strict=True))
                lines.append(f"    {row}  {entry.note}".rstrip())
        lines += [f"  note: {note}" for note in info.notes]
    ctx.console.print("\n".join(lines))
