"""The package as users get it: sdist, wheel, installs, release configuration.

One ``python -m build`` per session (sdist, then the wheel built from that sdist)
in a copy of the source tree; the wheel and the sdist are then installed into
fresh virtual environments outside the source tree, and a focused part of the
suite (the codec tests and a storage smoke test) runs against each from a copy
of the sdist's tests, the way cibuildwheel tests every wheel it builds.
"""
from __future__ import annotations

import ast
import email.parser
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import pytest

if sys.version_info >= (3, 11):
    import tomllib

pytestmark = [
    pytest.mark.packaging,
    # a test may run several tools, each bounded by TIMEOUT
    pytest.mark.timeout(1800),
    pytest.mark.skipif(
        not sys.platform.startswith("linux") or sys.version_info < (3, 11),
        reason="the packaging tools of the test extra are installed on Linux, Python 3.11+",
    ),
]

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / ".github" / "workflows" / "wheels.yml"
CHECK_INSTALLED = "tests/packaging/check_installed.py"

#: what runs against each installed package (paths inside the sdist): the tests
#: of the compiled modules (codec, syslog fast path, backends' encoders) and a
#: storage smoke test on SQLite
FOCUSED_TESTS = [
    "tests/lineproto",
    "tests/logs/test_syslogscan.py",
    "tests/backends",
    "tests/store/test_store_lifecycle.py::test_records_carry_every_part[sqlite]",
]
#: what cibuildwheel's test-sources copies beside them (the tests read benchmarks/)
TEST_SOURCES = ["tests", "benchmarks", "pyproject.toml"]

#: platforms the wheels are built for: libc flavours and architectures
LINUX_PLATFORMS = [f"{libc}_{arch}" for libc in ("manylinux", "musllinux")
                   for arch in ("x86_64", "aarch64")]
MACOS_PLATFORMS = ["macosx_x86_64", "macosx_arm64"]
WINDOWS_PLATFORMS = ["win_amd64"]

#: the build's warning when the compiled core cannot be built (see setup.py)
FALLBACK_MESSAGE = "ccstore is installed with its pure-Python implementation instead"
REQUIRED_MESSAGE = "CCSTORE_REQUIRE_EXTENSIONS=1 is set, so this is an error."

#: seconds any one build, install or test run may take (a hang fails, not blocks, CI)
TIMEOUT = 600


# --------------------------------------------------------------------------- helpers


def _base_env(**extra: str) -> dict[str, str]:
    """The environment for tools: this venv's scripts first, nothing that steers the build."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("CCSTORE_") and key not in ("PYTHONPATH", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.update(extra)
    return env


def _run(cmd: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
         ok: bool = True) -> subprocess.CompletedProcess:
    """Run ``cmd``; fail the test with its output unless it exits as ``ok`` expects."""
    proc = subprocess.run(
        [str(c) for c in cmd], check=False, cwd=cwd,
        env=env if env is not None else _base_env(),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT,
    )
    if (proc.returncode == 0) != ok:
        pytest.fail(f"{' '.join(map(str, cmd))} exited {proc.returncode} (cwd {cwd}):\n"
                    f"{proc.stdout[-8000:]}", pytrace=False)
    return proc


def _version() -> str:
    """``ccstore.__version__``, read from the source without importing it."""
    tree = ast.parse((REPO / "ccstore" / "_version.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError("ccstore/_version.py assigns no __version__")


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def _git_files(*tops: str) -> list[str]:
    """Files of the source tree under ``tops``: tracked or new, not ignored, present."""
    proc = _run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--",
                 *tops], cwd=REPO, env=_base_env())
    return sorted(f for f in set(proc.stdout.split("\0")) if f and (REPO / f).is_file())


def _classifier_versions() -> list[str]:
    """Python versions the classifiers claim, as cibuildwheel spells them (39, 310, ...)."""
    found = []
    for c in _pyproject()["project"]["classifiers"]:
        m = re.fullmatch(r"Programming Language :: Python :: 3\.(\d+)", c)
        if m:
            found.append(f"3{m.group(1)}")
    return found


def _metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        return email.parser.Parser().parsestr(zf.read(name).decode("utf-8"))


def _make_venv(path: Path) -> Path:
    _run([sys.executable, "-m", "venv", path])
    return path / "bin" / "python"


def _test_dir(sdist_tree: Path, dest: Path) -> Path:
    """What cibuildwheel's test-sources gives: those parts of the sdist, without ccstore/."""
    dest.mkdir()
    for name in TEST_SOURCES:
        if (sdist_tree / name).is_dir():
            shutil.copytree(sdist_tree / name, dest / name)
        else:
            shutil.copy2(sdist_tree / name, dest / name)
    return dest


def _run_focused_tests(python: Path, cwd: Path, env: dict[str, str]) -> str:
    for target in FOCUSED_TESTS:
        assert (cwd / target.split("::")[0]).exists(), f"{target} is not in the sdist"
    proc = _run([python, "-m", "pytest", "-p", "no:cacheprovider", "-m", "not packaging",
                 *FOCUSED_TESTS], cwd=cwd, env=env)
    assert re.search(r"\b\d+ passed\b", proc.stdout), proc.stdout[-3000:]
    return proc.stdout


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def source_copy(tmp_path_factory) -> Path:
    """The source tree without build leftovers (in-place extensions, build/, caches)."""
    if not (REPO / ".git").exists():
        pytest.skip(f"{REPO} is not a git checkout: the packaging tests build from one")
    dest = tmp_path_factory.mktemp("source") / "ccstore-src"
    for rel in _git_files():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, dest / rel)
    return dest


@pytest.fixture(scope="session")
def dists(source_copy: Path, tmp_path_factory) -> SimpleNamespace:
    """``python -m build``: the sdist, and the wheel built from it, compiled core required."""
    out = tmp_path_factory.mktemp("dist")
    proc = _run([sys.executable, "-m", "build", "--outdir", out, source_copy],
                env=_base_env(CCSTORE_REQUIRE_EXTENSIONS="1"))
    sdists = sorted(out.glob("*.tar.gz"))
    wheels = sorted(out.glob("*.whl"))
    assert len(sdists) == 1 and len(wheels) == 1, (sorted(out.iterdir()), proc.stdout[-3000:])
    return SimpleNamespace(sdist=sdists[0], wheel=wheels[0], log=proc.stdout)


@pytest.fixture(scope="session")
def sdist_tree(dists, tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("sdist-tree")
    with tarfile.open(dists.sdist) as tf:
        if hasattr(tarfile, "data_filter"):
            tf.extractall(dest, filter="data")
        else:  # Python 3.11 before 3.11.4
            tf.extractall(dest)
    (top,) = dest.iterdir()
    return top


# --------------------------------------------------------------------------- the build


def test_build_makes_sdist_and_platform_wheel_named_by_the_version(dists):
    version = _version()
    assert dists.sdist.name == f"ccstore-{version}.tar.gz"
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    assert re.fullmatch(rf"ccstore-{re.escape(version)}-{tag}-{tag}-linux_\w+\.whl",
                        dists.wheel.name), dists.wheel.name
    assert _metadata(dists.wheel)["Version"] == version


def test_version_has_one_source_and_a_changelog_entry():
    project = _pyproject()
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "ccstore._version.__version__"}
    changelog = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(rf"^## \[{re.escape(_version())}\]", changelog, re.MULTILINE), \
        f"CHANGELOG.md has no section for {_version()}"


def test_sdist_carries_sources_tests_and_no_build_output(dists):
    with tarfile.open(dists.sdist) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    expected = set(_git_files("ccstore", "tests", "docs", "benchmarks"))
    expected |= {"pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "LICENSE",
                 "CHANGELOG.md", "ccstore/_lineproto.pyx", "ccstore/py.typed",
                 CHECK_INSTALLED}
    assert not expected - names, f"missing from the sdist: {sorted(expected - names)}"
    # Cython output is made at build time, never shipped (see MANIFEST.in)
    built = sorted(n for n in names if re.search(r"\.(c|so|pyd|dylib|pyc|o)$", n))
    assert not built, f"build output in the sdist: {built}"


def test_wheel_carries_the_compiled_core_package_data_and_license(dists):
    with zipfile.ZipFile(dists.wheel) as zf:
        names = set(zf.namelist())
    for module in ("_lineproto", "logs/_syslogscan", "logs/_headerscan", "logs/_jsonscan",
                   "backends/_hostruns", "backends/_pgcopy", "backends/sqlite/_blocks"):
        pattern = rf"ccstore/{module}\.cpython-\d+-.+\.so"
        assert [n for n in names if re.fullmatch(pattern, n)], \
            f"no compiled ccstore/{module} in {dists.wheel.name}"
    expected = set(_git_files("ccstore")) | {"ccstore/py.typed"}
    assert not expected - names, f"missing from the wheel: {sorted(expected - names)}"
    # the web page and its vendored library (with its licence), served from the package
    for asset in ("index.html", "app.js", "app.css", "vendor/uplot/uPlot.iife.min.js",
                  "vendor/uplot/LICENSE", "vendor/uplot/VERSION"):
        assert f"ccstore/server/static/{asset}" in names, f"{asset} missing from the wheel"
    assert f"ccstore-{_version()}.dist-info/licenses/LICENSE" in names
    strays = sorted(n for n in names if not n.startswith(("ccstore/", "ccstore-")))
    assert not strays, f"files outside the package in the wheel: {strays}"
    meta = _metadata(dists.wheel)
    assert meta["License-Expression"] == "MIT"
    assert meta["Requires-Python"] == ">=3.9"
    assert "Typing :: Typed" in meta.get_all("Classifier")


def test_metadata_passes_twine_check_and_classifiers_exist(dists):
    import trove_classifiers

    _run([sys.executable, "-m", "twine", "check", "--strict", dists.sdist, dists.wheel])
    unknown = sorted(set(_pyproject()["project"]["classifiers"]) - trove_classifiers.classifiers)
    assert not unknown, f"not trove classifiers (the index would refuse the upload): {unknown}"


# --------------------------------------------------------------------------- installs


def test_wheel_installed_outside_the_source_tree_passes_with_the_compiled_core(
        dists, sdist_tree, tmp_path_factory):
    root = tmp_path_factory.mktemp("wheel-install")
    python = _make_venv(root / "venv")
    _run([python, "-m", "pip", "install", "-q", f"{dists.wheel}[test]"])
    cwd = _test_dir(sdist_tree, root / "run")
    env = _base_env()
    proc = _run([python, CHECK_INSTALLED, "cython"], cwd=cwd, env=env)
    assert "IMPLEMENTATION='cython'" in proc.stdout
    _run_focused_tests(python, cwd, env)


def test_sdist_installs_without_a_compiler_and_passes_on_the_python_twin(
        dists, sdist_tree, tmp_path_factory):
    root = tmp_path_factory.mktemp("sdist-install")
    python = _make_venv(root / "venv")
    no_compiler = _base_env(CC="false", CXX="false")
    proc = _run([python, "-m", "pip", "install", "-v", f"{dists.sdist}[test]"], env=no_compiler)
    assert FALLBACK_MESSAGE in proc.stdout, "the build did not say it fell back to pure Python"
    cwd = _test_dir(sdist_tree, root / "run")
    env = _base_env(CCSTORE_IMPL="python")
    proc = _run([python, CHECK_INSTALLED, "python"], cwd=cwd, env=env)
    assert "IMPLEMENTATION='python'" in proc.stdout
    _run_focused_tests(python, cwd, env)


def test_sdist_build_without_a_compiler_fails_when_the_extension_is_required(
        dists, tmp_path):
    proc = _run([sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "-w", tmp_path,
                 dists.sdist],
                env=_base_env(CC="false", CXX="false", CCSTORE_REQUIRE_EXTENSIONS="1"), ok=False)
    assert REQUIRED_MESSAGE in proc.stdout
    assert not list(tmp_path.glob("*.whl"))


def test_no_extensions_builds_a_pure_python_wheel(dists, tmp_path):
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", tmp_path, dists.sdist],
         env=_base_env(CCSTORE_NO_EXTENSIONS="1"))
    (wheel,) = tmp_path.glob("*.whl")
    assert wheel.name == f"ccstore-{_version()}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as zf:
        assert not [n for n in zf.namelist() if n.endswith((".so", ".pyd"))]


def test_editable_install_builds_the_extension_into_the_source_tree():
    """``scripts/test`` installs with ``pip install -e .``: the compiled core must be there."""
    import importlib.util

    import ccstore

    if Path(ccstore.__file__).resolve().parent != REPO / "ccstore":
        pytest.skip(f"ccstore is not imported from this source tree ({ccstore.__file__})")
    if os.environ.get("CCSTORE_NO_EXTENSIONS"):
        pytest.skip("CCSTORE_NO_EXTENSIONS is set: no extension to find")
    spec = importlib.util.find_spec("ccstore._lineproto")
    assert spec is not None and spec.origin is not None, \
        "ccstore._lineproto was not built by the editable install"
    assert Path(spec.origin).parent == REPO / "ccstore" and spec.origin.endswith(".so")


# --------------------------------------------------------------------------- release tooling


def test_auditwheel_repair_gives_a_manylinux_wheel_with_nothing_grafted(dists, tmp_path):
    _run([sys.executable, "-m", "auditwheel", "repair", "-w", tmp_path, dists.wheel])
    (repaired,) = tmp_path.glob("*.whl")
    assert "manylinux_" in repaired.name, repaired.name
    shown = _run([sys.executable, "-m", "auditwheel", "show", repaired]).stdout
    tags = re.findall(r'platform tag:\s*"(manylinux_\d+_\d+_\w+)"', shown)
    assert tags, shown
    with zipfile.ZipFile(repaired) as zf:
        grafted = [n for n in zf.namelist() if n.startswith("ccstore.libs/")]
    assert not grafted, f"the compiled core needs libraries beyond libc: {grafted}"


@pytest.mark.parametrize("platform, platforms", [
    ("linux", LINUX_PLATFORMS), ("macos", MACOS_PLATFORMS), ("windows", WINDOWS_PLATFORMS),
])
def test_cibuildwheel_builds_every_classified_python_on_every_platform(platform, platforms):
    proc = _run([sys.executable, "-m", "cibuildwheel", "--print-build-identifiers",
                 "--platform", platform], cwd=REPO)
    identifiers = set(proc.stdout.split())
    expected = {f"cp{v}-{p}" for v in _classifier_versions() for p in platforms}
    assert identifiers == expected, (
        f"cibuildwheel would build {sorted(identifiers - expected)} beyond the classifiers and "
        f"miss {sorted(expected - identifiers)}")


def test_cibuildwheel_tests_every_wheel_with_the_compiled_core_asserted():
    config = _pyproject()["tool"]["cibuildwheel"]
    assert config["environment"]["CCSTORE_REQUIRE_EXTENSIONS"] == "1"
    assert config["test-environment"]["CCSTORE_IMPL"] == "cython"
    assert f"python {CHECK_INSTALLED} cython" in config["test-command"]
    assert config["test-sources"] == TEST_SOURCES


def test_top_level_wheels_yml_is_the_workflow_itself():
    """The design card's ``wheels.yml`` is a link to the file CI services read: one file."""
    top = REPO / "wheels.yml"
    assert top.is_symlink(), "wheels.yml must be a symlink, not a copy"
    assert os.readlink(top) == ".github/workflows/wheels.yml"
    assert top.resolve() == WORKFLOW.resolve()


def test_workflow_validates_against_the_github_workflow_schema():
    _run([sys.executable, "-m", "check_jsonschema", "--builtin-schema",
          "vendor.github-workflows", WORKFLOW])


def test_workflow_builds_every_platform_and_publishes_only_tags_by_trusted_publishing():
    from ruamel.yaml import YAML  # a dependency of check-jsonschema

    workflow = YAML(typ="safe").load(WORKFLOW.read_text(encoding="utf-8"))
    jobs = workflow["jobs"]
    matrix = jobs["wheels"]["strategy"]["matrix"]["include"]
    archs = {a for entry in matrix for a in entry["archs"].split()}
    assert {"x86_64", "aarch64", "arm64", "AMD64"} <= archs
    assert any(entry["os"].startswith("windows") for entry in matrix)
    assert any(entry["os"].startswith("macos") for entry in matrix)

    cibw_steps = [s for s in jobs["wheels"]["steps"]
                  if str(s.get("uses", "")).startswith("pypa/cibuildwheel@")]
    assert len(cibw_steps) == 1
    pinned = [r for r in _pyproject()["project"]["optional-dependencies"]["test"]
              if r.startswith("cibuildwheel==")]
    assert pinned, "the test extra pins cibuildwheel"
    pinned_version = pinned[0].split(";")[0].split("==")[1].strip()
    assert cibw_steps[0]["uses"] == f"pypa/cibuildwheel@v{pinned_version}", \
        "the workflow and the test extra must use the same cibuildwheel"

    publish = jobs["publish"]
    assert set(publish["needs"]) == {"wheels", "sdist"}
    assert "refs/tags/v" in publish["if"]
    assert publish["permissions"] == {"id-token": "write"}
    uses = [s.get("uses", "") for s in publish["steps"]]
    assert any(u.startswith("pypa/gh-action-pypi-publish@") for u in uses)
    assert not any("password" in (s.get("with") or {}) for s in publish["steps"]), \
        "trusted publishing needs no token"
