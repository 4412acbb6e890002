"""The import graph goes one way (DESIGN.md, CONTRIBUTING.md): an AST walk over every module in
avatarvid/, module-level and function-level imports alike (a lazy import is still a dependency).

    base (errors, assets, geometry, device, timing, safe_yaml, stop, config)   importable anywhere
    media -> perception -> motion -> warp                     the numpy/cv2 chain
    models -> sampling -> stages -> pipelines -> api -> ui -> commands, cli
                                                              may also import the first chain
    data, train, evaluate                                     off the inference path: only they
                                                              and the commands fronting them
                                                              import them
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "avatarvid"

BASE = {"errors", "assets", "geometry", "device", "timing", "safe_yaml", "stop", "config"}
NUMPY_CHAIN = ["media", "perception", "motion", "warp"]
MODEL_CHAIN = ["models", "sampling", "stages", "pipelines", "api", "ui", "commands", "cli"]
RANK = {layer: i for chain in (NUMPY_CHAIN, MODEL_CHAIN) for i, layer in enumerate(chain)}
OFF_PATH = {"data", "train", "evaluate"}
# The commands that front data/, train/ and evaluate/ (they import them lazily in `run`).
FRONTS = {
    "commands.data",
    "commands.data_tts",
    "commands.data_videos",
    "commands.data_clips",
    "commands.train",
}
FRONTS |= {"commands.evaluate", "commands.bench", "commands.study", "ui.quality"}
# Studies drive the command line as a user does (`cli(["vlog", ...])`).
DRIVES_CLI = "evaluate.studies"

# Known violations, each to be removed by the change named in its comment: (importer, imported).
# Known exceptions, each with its reason; none today.
ALLOWED: set[tuple[str, str]] = set()


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    path = PACKAGE.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imported(path: Path, name: str | None = None) -> list[tuple[int, str]]:
    """(line, module under avatarvid/) for every import in the file; "" is the package root.
    `name` is the file's module name (default: from its place in avatarvid/)."""
    name, out = name if name is not None else module_name(path), []
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the importing package
                base = package.split(".") if package else []
                base = base[: len(base) - node.level + 1]
                module = ".".join(["avatarvid", *base, *filter(None, [node.module])])
            else:
                module = node.module or ""
            # `from avatarvid.x import y` imports avatarvid.x.y when y is a module
            sub = [f"{module}.{a.name}" for a in node.names]
            targets = [t for t in sub if is_module(t.removeprefix("avatarvid."))] or [module]
        else:
            continue
        for target in targets:
            if target == "avatarvid" or target.startswith("avatarvid."):
                out.append((node.lineno, target.removeprefix("avatarvid").lstrip(".")))
    return out


def top(name: str) -> str:
    return name.split(".")[0]


def allowed(importer: str, target: str) -> bool:
    src, dst = top(importer), top(target)
    if dst in ("", src) or dst in BASE:  # the package facade, its own layer, the base
        return True
    if importer == "":  # the package facade re-exports the Python API (lazily)
        return dst == "api"
    if dst in OFF_PATH:
        return src in OFF_PATH or importer in FRONTS
    if dst not in RANK:
        return False  # an unplaced module: add it to a layer above
    if src in OFF_PATH:
        return dst not in ("commands", "cli") or importer.startswith(DRIVES_CLI)
    if src in BASE or src not in RANK:
        return False
    if dst in NUMPY_CHAIN:
        return src in MODEL_CHAIN or RANK[dst] <= RANK[src]
    return src in MODEL_CHAIN and RANK[dst] <= RANK[src]


def violations() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = module_name(path)
        for line, target in imported(path):
            if not allowed(importer, target) and (importer, target) not in ALLOWED:
                rel = path.relative_to(PACKAGE.parent)
                found.append(f"{rel}:{line}: {importer or 'avatarvid'} imports {target}")
    return found


def test_every_module_is_placed_in_a_layer():
    tops = {top(module_name(p)) for p in PACKAGE.rglob("*.py")} - {""}
    assert tops <= BASE | set(RANK) | OFF_PATH, sorted(tops - BASE - set(RANK) - OFF_PATH)


def test_imports_go_one_way():
    found = violations()
    for line in found:
        print(line)
    assert not found, "\n" + "\n".join(found)


def test_allow_list_holds_only_imports_that_still_exist():
    edges = {(module_name(p), t) for p in PACKAGE.rglob("*.py") for _line, t in imported(p)}
    assert edges >= ALLOWED, sorted(ALLOWED - edges)


def test_the_walk_sees_lazy_and_relative_imports(tmp_path):
    """The walk itself: an import inside a function counts, relative imports resolve."""
    bench = PACKAGE / "commands" / "bench.py"
    # evaluate.bench is imported in run() only
    assert {t for _l, t in imported(bench)} == {"assets", "commands.options", "evaluate.bench"}
    fake = tmp_path / "fake.py"
    fake.write_text("from . import refiner\n\ndef f():\n    from ..evaluate import identity\n")
    assert imported(fake, "stages.fake") == [(1, "stages.refiner"), (4, "evaluate.identity")]
    assert not allowed("commands.vlog", "cli")
    assert not allowed("stages.refiner", "evaluate.identity")
    assert not allowed("media.video", "perception.face_mesh")
    assert allowed("pipelines.vlog", "warp.face") and not allowed("warp.face", "models.sr_net")
    assert not allowed("models.sr_net", "sampling.sr") and allowed("cli", "commands.vlog")


def test_cli_start_imports_no_torch():
    code = (
        "import sys, avatarvid.cli; avatarvid.cli.build_parser(); "
        "print(avatarvid.cli.__file__); "
        "print(sorted(m for m in ('torch', 'diffusers', 'cv2', 'mediapipe') if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(PACKAGE.parent)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert Path(out[0]).resolve() == PACKAGE / "cli.py"
    assert out[1] == "[]"
