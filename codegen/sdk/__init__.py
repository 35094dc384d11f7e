"""Client SDKs generated from openapi.yaml (`make sdk`, or `python -m codegen.sdk [--out DIR]`):

- a Python client package (openapi-python-client, options in openapi-python-client.yaml beside this file);
- TypeScript types for openapi-fetch (openapi-typescript), `schema.d.ts`.

A warning means a missing or doubtful piece (openapi-python-client leaves the operation out; openapi-typescript
prints Redocly's lint findings), yet both write their output and openapi-typescript exits 0: so here, anything
either prints on stderr, where both print their warnings, fails the run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
HERE = Path(__file__).resolve().parent
SPEC = ROOT / "openapi.yaml"
OUT = ROOT / "build" / "sdk"
NODE_BIN = ROOT / "node_modules" / ".bin"


class GeneratorError(Exception):
    """A generator failed or warned; the message holds what it printed."""


def python_client(spec: Path, out: Path) -> Path:
    """The Python client package (project `taskapi-client`, package `taskapi_client`) in `out`, replaced."""
    bin_dir = Path(sys.executable).parent  # the venv's: openapi-python-client, and the ruff it formats with
    _run(
        [
            str(bin_dir / "openapi-python-client"), "generate",
            "--path", str(spec),
            "--output-path", str(out),
            "--overwrite",
            # PEP 621 metadata, built by uv itself (no build backend to download)
            "--meta", "uv",
            "--config", str(HERE / "openapi-python-client.yaml"),
            "--fail-on-warning",
        ],
        env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "RUFF_NO_CACHE": "true"},
    )  # fmt: skip
    return out


def typescript_types(spec: Path, out: Path) -> Path:
    """`out/schema.d.ts`: the `paths` and `components` types that openapi-fetch's `createClient<paths>` takes."""
    target = out / "schema.d.ts"
    _run(
        [
            str(NODE_BIN / "openapi-typescript"), str(spec),
            "--output", str(target),
            # A request property with a `default` is optional (TaskCreate.priority): 7.x makes it required.
            "--default-non-nullable", "false",
            "--redocly", str(HERE / "redocly.yaml"),
        ],
    )  # fmt: skip
    return target


def _run(command: list[str], env: dict[str, str] | None = None) -> None:
    if not Path(command[0]).exists():
        raise GeneratorError(f"{command[0]} is missing: `make sdk` installs it (.venv, and npm ci)")
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False)
    if result.returncode != 0 or result.stderr.strip():
        said = f"{result.stdout}{result.stderr}".rstrip()
        raise GeneratorError(f"{Path(command[0]).name} (exit {result.returncode}) warned or failed:\n{said}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codegen.sdk", description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", type=Path, default=SPEC)
    parser.add_argument("--out", type=Path, default=OUT, help="default: build/sdk/")
    args = parser.parse_args(argv)
    failed = False
    for generate, out in ((python_client, args.out / "python"), (typescript_types, args.out / "typescript")):
        try:
            print(f"sdk: wrote {generate(args.spec, out)}")
        except GeneratorError as error:
            print(f"sdk: {error}", file=sys.stderr)
            failed = True
    return 1 if failed else 0
