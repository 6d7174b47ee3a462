"""The import rules of the design, checked on the source and on a real bot-side interpreter."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN_IN_CORE = {"telegram", "discord", "celery", "kombu", "bots", "jobs", "dreambooth"}
HEAVY = {"torch", "diffusers", "ultralytics", "transformers", "peft", "mediapipe", "cv2"}


def _top_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in tree.body:  # module level only: lazy imports inside functions are the point
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _all_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_core_never_imports_front_ends_or_the_queue() -> None:
    for path in (ROOT / "core").rglob("*.py"):
        bad = _all_imports(path) & FORBIDDEN_IN_CORE
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_bots_import_no_heavy_library_at_module_level() -> None:
    for path in (ROOT / "bots").rglob("*.py"):
        bad = _top_level_imports(path) & HEAVY
        assert not bad, f"{path.relative_to(ROOT)} imports {bad} at module level"


def test_the_bot_process_modules_do_not_load_torch() -> None:
    code = (
        "import sys\n"
        "import bots.cli, bots.serve, bots.telegram.app, bots.discord.app\n"
        "import core.studio.service, core.studio.delivery\n"
        "import jobs.queue, jobs.celery_app\n"
        f"heavy = sorted(m for m in {sorted(HEAVY)!r} if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=120)


def test_every_chat_entry_point_is_wired_in_one_place() -> None:
    """The studio, its Celery queue and the Deliverer are built in ``bots/wiring.py`` only."""
    builders = {"bootstrap", "CeleryJobQueue", "Deliverer", "create_app"}
    for path in (ROOT / "bots").rglob("*.py"):
        if path.name == "wiring.py":
            continue
        calls = {
            node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path)))
            if isinstance(node, ast.Call)
        }
        assert not calls & builders, f"{path.relative_to(ROOT)} builds {calls & builders} itself"
