"""`python -m codegen [--check] [--root DIR]`: regenerate src/taskapi/generated/ from openapi.yaml, or
report which generated files are stale. `--root` names another copy of the project to work on (the
tests use one), whose pyproject.toml configures the model generator and ruff."""

from __future__ import annotations

import argparse
import pprint
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import jinja2
import yaml

from codegen.spec import FORM, MULTIPART, Operation, Parameter, Spec, SpecError, load, snake_case

ROOT = Path(__file__).resolve().parent.parent
SPEC = "openapi.yaml"
OUT = Path("src") / "taskapi" / "generated"
TEMPLATES = Path(__file__).resolve().parent / "templates"
MODELS_DOCSTRING = '"""Pydantic models of the spec\'s schemas and of each operation\'s parameters."""'
VALIDATION_DOCSTRING = (
    '"""The spec\'s schemas, unabridged, as the server validates requests against them (runtime.validation):\n'
    'components.schemas and each operation\'s parameters, by name, referring to one another as `#/$defs/<name>`."""'
)
# A warning as Python prints it: `<file>:<line>: <Category>Warning: <message>`.
_WARNING = re.compile(r"^\S+:\d+: (\w*Warning): (.+)$", re.MULTILINE)
HEADER = "# DO NOT EDIT. Generated from openapi.yaml by codegen/ (`make generate`); `make check` fails when stale.\n"


def render(spec: Spec, spec_bytes: bytes, root: Path = ROOT) -> dict[str, bytes]:
    """Every generated file, by name, as it should be on disk (formatted by `root`'s settings)."""
    with tempfile.TemporaryDirectory() as tmp:
        models = _models(spec, Path(tmp), root)
        server = _server(spec, Path(tmp), root)
        validation = _validation(spec, Path(tmp), root)
    init = HEADER + '"""Code generated from openapi.yaml: models, operations and the spec itself."""\n'
    return {
        "__init__.py": init.encode(),
        "models.py": models.encode(),
        "server.py": server.encode(),
        "validation.py": validation.encode(),
        "openapi.yaml": spec_bytes,
    }


def _models(spec: Spec, tmp: Path, root: Path) -> str:
    source = tmp / "openapi.models.yaml"
    source.write_text(yaml.safe_dump(spec.models_document(), sort_keys=False, allow_unicode=True), encoding="utf-8")
    target = tmp / "models.py"
    # Options live in pyproject.toml [tool.datamodel-codegen]; it is read from the working directory. Every
    # warning is shown (-W always) and fails generation: the generator warns when it drops a keyword.
    generated = subprocess.run(
        [
            sys.executable,
            "-W",
            "always",
            "-m",
            "datamodel_code_generator",
            "--input",
            str(source),
            "--output",
            str(target),
            "--custom-file-header",
            HEADER.strip() + "\n" + MODELS_DOCSTRING,
            # An enum's default as the enum's member (`Sort.created`, not "created", which mypy refuses).
            "--set-default-enum-member",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    warnings = sorted(set(_WARNING.findall(generated.stderr)))
    if warnings or generated.returncode != 0:
        said = [f"{category}: {message}" for category, message in warnings] or generated.stderr.strip().splitlines()[
            -1:
        ]
        raise SpecError("the model generator (datamodel-code-generator) " + "; ".join(said or ["failed"]))
    return _ruff(target, root)


def _validation(spec: Spec, tmp: Path, root: Path) -> str:
    target = tmp / "validation.py"
    definitions = pprint.pformat(spec.validation_definitions(), width=110, sort_dicts=False)
    target.write_text(
        f"{HEADER}{VALIDATION_DOCSTRING}\n\nfrom typing import Any\n\nDEFINITIONS: dict[str, Any] = {definitions}\n",
        encoding="utf-8",
    )
    return _ruff(target, root)


def _server(spec: Spec, tmp: Path, root: Path) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 - renders Python source, not HTML
    )
    env.filters["pyrepr"] = repr
    info = spec.document["info"]
    text = env.get_template("server.py.jinja").render(
        title=info["title"],
        version=info["version"],
        operations=spec.operations,
        tags=spec.tags,
        tag_class=spec.operations_protocol,
        tag_arg=snake_case,
        param_source=_param_source,
        call_args=_call_args,
        secured_tags=spec.secured_tags,
        schemes=sorted({name for op in spec.operations for name in op.security}),
        FORM=FORM,
        MULTIPART=MULTIPART,
        middleware_headers=spec.middleware_headers,
        constant_headers=spec.constant_headers,
        limits=spec.limits,
        rate_limit_policies=spec.rate_limit_policies,
        rate_limited=spec.rate_limited,
        shapes=spec.response_shapes(),
        write_only=spec.write_only_paths,
    )
    target = tmp / "server.py"
    target.write_text(HEADER + "\n" + text, encoding="utf-8")
    return _ruff(target, root)


def _ruff(path: Path, root: Path) -> str:
    """Lint-fix and format a generated module with the project's ruff settings."""
    # Generated lines may run long (names, docstrings): the formatter wraps what it can, E501 is waived.
    for command in (["format", "--quiet"], ["check", "--fix", "--quiet", "--ignore", "E501"], ["format", "--quiet"]):
        config = ["--config", str(root / "pyproject.toml")]
        subprocess.run([sys.executable, "-m", "ruff", *command, *config, str(path)], cwd=root, check=True)
    return path.read_text(encoding="utf-8")


def _call_args(op: Operation) -> str:
    names = [("principal", op.secured), ("params", op.params_model is not None), ("body", op.body_model is not None)]
    return ", ".join(name for name, present in names if present)


def _param_source(param: Parameter) -> str:
    if param.location == "path":
        return f'request.path_params.get("{param.name}")'
    if param.location == "query":
        return f'request.query_params.getlist("{param.name}")'
    if param.location == "cookie":
        return f'request.cookies.get("{param.name}")'
    return f'runtime.header_parameter(request, "{param.name}")'


def _same(path: Path, data: bytes) -> bool:
    return path.is_file() and path.read_bytes() == data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codegen", description=__doc__)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 naming every stale file")
    parser.add_argument("--root", type=Path, default=ROOT, help="the project (default: this repository)")
    args = parser.parse_args(argv)
    root: Path = args.root.resolve()
    spec_path, out = root / SPEC, root / OUT
    try:
        spec = load(spec_path)
        wanted = render(spec, spec_path.read_bytes(), root)
    except SpecError as exc:
        for problem in exc.problems:
            print(f"codegen: {SPEC}: {problem}", file=sys.stderr)
        if len(exc.problems) > 1:
            print(f"codegen: {SPEC}: {len(exc.problems)} problems; nothing was generated", file=sys.stderr)
        return 2
    except Exception as exc:  # a spec no refusal names yet: a message, never a traceback
        print(
            f"codegen: {SPEC}: cannot read this spec ({type(exc).__name__}: {exc}); nothing was generated. "
            "This is codegen's fault, not the spec's: please report it with the spec",
            file=sys.stderr,
        )
        return 2
    present = {p.name for p in out.iterdir() if p.is_file()} if out.is_dir() else set()
    stale = sorted(name for name, data in wanted.items() if not _same(out / name, data))
    extra = sorted(present - set(wanted))
    if args.check:
        for name in stale:
            print(f"codegen: stale: {OUT / name} (run `make generate`)", file=sys.stderr)
        for name in extra:
            print(f"codegen: not generated: {OUT / name} (remove it)", file=sys.stderr)
        return 1 if stale or extra else 0
    out.mkdir(parents=True, exist_ok=True)
    for name in stale:
        (out / name).write_bytes(wanted[name])
        print(f"codegen: wrote {OUT / name}")
    for name in extra:
        (out / name).unlink()
        print(f"codegen: removed {OUT / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
