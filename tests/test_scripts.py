"""The shipping pieces that can be checked without a Docker engine.

- script/*, .ci/run and the container entry point are real bash, run for real here: the entry point's
  ``--print-command`` shows the exact command it would exec, and plain programs are really exec'd.
- The Dockerfiles are parsed for what a build would only show late: sources the build context
  (.dockerignore) leaves out, installs that skip the lock, a stale lock. The images themselves are
  built and run by script/docker-test.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
BASH_SCRIPTS = [
    ROOT / "script" / "setup",
    ROOT / "script" / "run",
    ROOT / "script" / "test",
    ROOT / "script" / "lint",
    ROOT / "script" / "lock",
    ROOT / "script" / "docker-test",
    ROOT / "script" / "vendor-misaki",
    ROOT / "script" / "test-homeassistant",
    ROOT / ".ci" / "run",
    ENTRYPOINT,
]
ADDON_S6 = ROOT / "addon" / "rootfs" / "etc" / "s6-overlay" / "s6-rc.d"
S6_SCRIPTS = [ADDON_S6 / "kokoro" / "run", ADDON_S6 / "kokoro" / "finish", ADDON_S6 / "discovery" / "run"]


def _run_tree(
    args: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run a script in its own process group and, if it overruns, kill the whole group.

    subprocess.run's timeout kills only the direct child; a script's children (pytest under
    script/test) would keep the output pipes open and hang the test instead of failing it.
    """
    with subprocess.Popen(
        args,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            pytest.fail(f"{args} did not finish in {timeout} s\n{stdout}\n{stderr}")
    return subprocess.CompletedProcess(args, process.returncode, stdout, stderr)


def _clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without KOKORO_* (so a developer's shell cannot change results)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("KOKORO_")}
    env.update(extra)
    return env


# --------------------------------------------------------------------------------------------
# Scripts


@pytest.mark.parametrize("script", BASH_SCRIPTS + S6_SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_script_is_executable_and_parses(script: Path) -> None:
    assert os.access(script, os.X_OK), f"{script} is not executable"
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("script", BASH_SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_script_is_strict_bash(script: Path) -> None:
    lines = script.read_text().splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    assert "set -euo pipefail" in lines


def test_setup_installs_the_package_then_fetches_assets() -> None:
    text = (ROOT / "script" / "setup").read_text()
    assert 'pip install --editable "${base_dir}[${extras}]"' in text
    assert 'extras="${runtime},cjk,dev"' in text
    assert re.search(r'^\s*runtime="cpu"$', text, re.MULTILINE)
    assert re.search(r'^\s*runtime="gpu"$', text, re.MULTILINE)
    assert re.findall(r'wyoming-kokoro" (\w[\w-]*)', text) == ["fetch"]
    assert text.index("pip install --editable") < text.index('wyoming-kokoro" fetch')


def test_ci_runs_the_test_script() -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert lines[-1] == "exec script/test"


def _run_script_test(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """script/test from another folder, against the venv that runs this test suite."""
    return _run_tree(
        [str(ROOT / "script" / "test"), *args, "-p", "no:cacheprovider", "-q"],
        cwd=cwd,
        env=_clean_env(WYOMING_KOKORO_SKIP_SETUP="1"),
    )


def test_script_test_fails_when_no_test_ran(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _run_script_test(str(empty), cwd=tmp_path)
    assert result.returncode == 5, result.stdout + result.stderr
    assert "script/test: no test ran" in result.stderr


def test_script_test_propagates_a_failure_and_a_pass(tmp_path: Path) -> None:
    (tmp_path / "test_sample.py").write_text(
        "def test_passes():\n    assert 1 + 1 == 2\n\ndef test_fails():\n    assert 1 + 1 == 3\n"
    )
    failed = _run_script_test(str(tmp_path / "test_sample.py"), cwd=tmp_path)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "1 failed, 1 passed" in failed.stdout

    passed = _run_script_test(str(tmp_path / "test_sample.py"), "-k", "passes", cwd=tmp_path)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "1 passed, 1 deselected" in passed.stdout


def test_script_run_starts_the_cli_with_the_repository_config(tmp_path: Path) -> None:
    result = _run_tree(
        [str(ROOT / "script" / "run"), "--help"],
        cwd=tmp_path,
        env=_clean_env(WYOMING_KOKORO_SKIP_SETUP="1"),
    )
    assert result.returncode == 0, result.stderr
    assert "--config" in result.stdout


# --------------------------------------------------------------------------------------------
# Container entry point


def _entrypoint(*args: str, **env: str) -> list[str]:
    """The command the entry point would exec, as a list of arguments."""
    result = subprocess.run(
        ["bash", str(ENTRYPOINT), "--print-command", *args],
        env=_clean_env(**env),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return shlex.split(result.stdout)


def test_entrypoint_without_settings_serves_with_defaults() -> None:
    if Path("/config/config.yaml").exists():
        pytest.skip("this machine has a /config/config.yaml, which the entry point would use")
    assert _entrypoint() == ["KOKORO_CONFIG=", "wyoming-kokoro"]


def test_entrypoint_leaves_settings_to_the_server_and_flags_last(tmp_path: Path) -> None:
    """KOKORO_* variables are not turned into flags: the server reads them (config.py)."""
    config = tmp_path / "my config.yaml"
    command = _entrypoint(
        "--voice", "am_adam", KOKORO_CONFIG=str(config), KOKORO_VOICE="bf_emma", KOKORO_HTTP__API_KEY="k"
    )  # fmt: skip
    assert command == [f"KOKORO_CONFIG={config}", "wyoming-kokoro", "--voice", "am_adam"]


def test_entrypoint_runs_subcommands_as_given() -> None:
    assert _entrypoint("voices")[1:] == ["wyoming-kokoro", "voices"]
    assert _entrypoint("healthcheck", "--timeout", "3")[1:] == [
        "wyoming-kokoro", "healthcheck", "--timeout", "3",
    ]  # fmt: skip
    assert _entrypoint("synth", "Hello there.", "-o", "/tmp/x.wav")[1:] == [
        "wyoming-kokoro", "synth", "Hello there.", "-o", "/tmp/x.wav",
    ]  # fmt: skip
    assert _entrypoint("serve", "--speed", "1.1")[1:] == ["wyoming-kokoro", "--speed", "1.1"]
    # A word that is neither a subcommand nor a program goes to the CLI, which explains the error.
    assert _entrypoint("no-such-thing")[1:] == ["wyoming-kokoro", "no-such-thing"]


def test_entrypoint_knows_every_subcommand_of_the_cli() -> None:
    from wyoming_kokoro.cli import COMMANDS

    match = re.search(r'^subcommands=" (.*) "$', ENTRYPOINT.read_text(), re.MULTILINE)
    assert match is not None
    assert set(match.group(1).split()) == set(COMMANDS) - {"serve"}


def test_entrypoint_really_execs_other_programs() -> None:
    result = subprocess.run(
        ["bash", str(ENTRYPOINT), "sh", "-c", 'echo "ran with $0 and $1"', "zero", "one"],
        env=_clean_env(KOKORO_VOICE="bf_emma"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ran with zero and one\n"


# --------------------------------------------------------------------------------------------
# Dockerfiles


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        return [rest for instruction, rest in self.instructions if instruction == keyword]

    def env(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for rest in self.args("ENV"):
            for word in shlex.split(rest):
                key, _, value = word.partition("=")
                values[key] = value
        return values


def parse_dockerfile(path: Path) -> list[Stage]:
    """Instructions per stage: comments dropped, continuation lines joined."""
    logical: list[str] = []
    pending = ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    assert not pending, f"{path} ends inside a continued line"

    stages: list[Stage] = []
    for text in logical:
        instruction, _, rest = text.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            words = rest.split()
            words = [w for w in words if not w.startswith("--platform")]
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
        elif stages:
            stages[-1].instructions.append((instruction, rest.strip()))
    return stages


DOCKERFILES = {
    "Dockerfile": ROOT,
    "Dockerfile.cuda": ROOT,
    "addon/Dockerfile": ROOT / "addon",
}


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name] = version
    return pins


def test_the_lock_pins_every_dependency_within_its_range() -> None:
    """docker/constraints.txt (script/lock) still satisfies pyproject.toml: rerun script/lock if not."""
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins = _pins(ROOT / "docker" / "constraints.txt")
    assert (ROOT / "addon" / "constraints.txt").read_text() == (
        ROOT / "docker" / "constraints.txt"
    ).read_text()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    for text in project["dependencies"] + extras["cpu"] + extras["gpu"] + extras["cjk"]:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not pinned: run script/lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{name}=={pins[name]} is outside {requirement.specifier}: run script/lock"
        )
    assert "pip" in pins


@pytest.mark.parametrize("name", DOCKERFILES)
def test_dockerfiles_install_with_the_lock_and_never_from_docker_hub_frontends(name: str) -> None:
    text = (ROOT / name).read_text()
    assert "# syntax=" not in text, "a syntax line makes BuildKit fetch its frontend from Docker Hub"
    commands = [
        command.strip()
        for stage in parse_dockerfile(ROOT / name)
        for run in stage.args("RUN")
        for command in run.split("&&")
        if "pip install" in command
    ]
    # Every install that resolves dependencies resolves them against the lock.
    resolving = [command for command in commands if "--no-deps" not in command]
    assert resolving and all("--constraint" in command for command in resolving), resolving


def _dockerignore_excludes(relative: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""

    def regex(pattern: str) -> re.Pattern[str]:
        out = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                out, i = out + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                out, i = out + ".*", i + 2
            elif pattern[i] == "*":
                out, i = out + "[^/]*", i + 1
            elif pattern[i] == "?":
                out, i = out + "[^/]", i + 1
            else:
                out, i = out + re.escape(pattern[i]), i + 1
        return re.compile(out)

    parts = relative.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        matcher = regex(pattern.lstrip("!").strip("/"))
        if any(matcher.fullmatch(prefix) for prefix in prefixes):
            excluded = not negate
    return excluded


def _context_files(source: Path) -> list[Path]:
    if source.is_file():
        return [source]
    return [p for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.parts]


@pytest.mark.parametrize("name", DOCKERFILES)
def test_copied_sources_exist_in_the_build_context(name: str) -> None:
    context = DOCKERFILES[name]
    ignore = context / ".dockerignore"
    patterns = (
        [
            line.strip()
            for line in ignore.read_text().splitlines()
            if line.strip() and not line.startswith("#")
        ]
        if ignore.exists()
        else []
    )
    for stage in parse_dockerfile(ROOT / name):
        for rest in stage.args("COPY"):
            if "--from=" in rest:
                continue
            words = [w for w in rest.split() if not w.startswith("--")]
            for source in words[:-1]:
                path = context / source
                assert path.exists(), f"{name}: COPY source {source} does not exist"
                files = _context_files(path)
                assert files, f"{name}: COPY source {source} is empty"
                for file in files:
                    relative = file.relative_to(context).as_posix()
                    assert not _dockerignore_excludes(relative, patterns), (
                        f"{name}: {relative} is excluded by .dockerignore"
                    )


def test_dockerignore_keeps_local_state_out_of_the_context() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for kept_out in (".venv/bin/python", ".git/HEAD", "tests/test_scripts.py", "x.wav",
                     "wyoming_kokoro/__pycache__/config.cpython-311.pyc", "addon/config.yaml"):  # fmt: skip
        assert _dockerignore_excludes(kept_out, patterns), kept_out
    for kept_in in ("pyproject.toml", "wyoming_kokoro/config.py", "wyoming_kokoro/data/vocab.json",
                    "docker/constraints.txt", "docker/entrypoint.sh"):  # fmt: skip
        assert not _dockerignore_excludes(kept_in, patterns), kept_in
