"""Execution provider choice, without a GPU: the selector gets the provider list and a session
factory, and we check which sessions it builds, tests and keeps."""

from __future__ import annotations

from typing import Any

import pytest

from wyoming_kokoro.model.providers import (
    CPU,
    CUDA,
    ProviderError,
    choose_provider,
    cuda_starts,
    preload_cuda_libraries,
)


class FakeSession:
    def __init__(self, chain: list[tuple[str, Any]]) -> None:
        self.provider = chain[0][0]


class Factory:
    """Builds sessions and records them; ``broken`` providers fail at build or at inference."""

    def __init__(self, fail_build: set[str] = frozenset(), fail_check: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.fail_build = fail_build
        self.fail_check = fail_check
        self.built: list[str] = []
        self.checked: list[str] = []

    def make(self, chain: list[tuple[str, Any]]) -> FakeSession:
        provider = chain[0][0]
        self.built.append(provider)
        if provider in self.fail_build:
            raise RuntimeError("libcudnn.so.9: cannot open shared object file")
        return FakeSession(chain)

    def check(self, session: FakeSession) -> None:
        self.checked.append(session.provider)
        if session.provider in self.fail_check:
            raise RuntimeError("CUDA error: out of memory")


def test_auto_uses_cuda_when_it_works() -> None:
    factory = Factory()
    choice = choose_provider("auto", [CUDA, CPU], factory.make, factory.check)
    assert choice.device == "cuda"
    assert choice.session.provider == CUDA
    assert factory.checked == [CUDA]


def test_auto_falls_back_when_cuda_not_installed(caplog: pytest.LogCaptureFixture) -> None:
    factory = Factory()
    with caplog.at_level("INFO"):
        choice = choose_provider("auto", [CPU], factory.make, factory.check)
    assert choice.device == "cpu"
    assert factory.built == [CPU]
    assert "not available" in choice.reason
    assert "Using CPU" in caplog.text


@pytest.mark.parametrize(("fail_build", "fail_check"), [({CUDA}, set()), (set(), {CUDA})])
def test_auto_falls_back_when_cuda_fails(fail_build: set[str], fail_check: set[str]) -> None:
    factory = Factory(fail_build, fail_check)
    choice = choose_provider("auto", [CUDA, CPU], factory.make, factory.check)
    assert choice.device == "cpu"
    assert "CUDA test inference failed" in choice.reason
    assert factory.built == [CUDA, CPU]


def test_cuda_required_but_missing_is_an_error() -> None:
    factory = Factory()
    with pytest.raises(ProviderError, match=r"device: cuda was requested.*wyoming-kokoro\[gpu\]"):
        choose_provider("cuda", [CPU], factory.make, factory.check)
    assert factory.built == []


def test_cuda_required_but_failing_is_an_error() -> None:
    factory = Factory(fail_check={CUDA})
    with pytest.raises(ProviderError, match="out of memory"):
        choose_provider("cuda", [CUDA, CPU], factory.make, factory.check)


def test_cpu_never_tries_cuda() -> None:
    factory = Factory()
    choice = choose_provider("cpu", [CUDA, CPU], factory.make, factory.check)
    assert choice.device == "cpu"
    assert factory.built == [CPU]


def test_cpu_failure_propagates() -> None:
    factory = Factory(fail_check={CPU})
    with pytest.raises(RuntimeError, match="out of memory"):
        choose_provider("cpu", [CPU], factory.make, factory.check)


def test_unknown_device() -> None:
    factory = Factory()
    with pytest.raises(ProviderError, match="auto, cuda or cpu"):
        choose_provider("tpu", [CPU], factory.make, factory.check)


class FakeRuntime:
    """Stands in for the onnxruntime module: which providers it lists, and preload_dlls calls."""

    def __init__(self, providers: list[str], fails: bool = False) -> None:
        self.providers = providers
        self.fails = fails
        self.calls: list[dict[str, Any]] = []

    def get_available_providers(self) -> list[str]:
        return self.providers

    def preload_dlls(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)
        if self.fails:
            raise OSError("libcudnn.so.9: cannot open shared object file")


@pytest.mark.parametrize(
    ("device", "providers", "preloaded"),
    [
        ("auto", [CUDA, CPU], True),
        ("cuda", [CUDA, CPU], True),
        ("cpu", [CUDA, CPU], False),  # never touch CUDA when the CPU was asked for
        ("auto", [CPU], False),  # the CPU build of onnxruntime
    ],
)
def test_cuda_libraries_are_preloaded_only_when_cuda_may_be_used(
    device: str, providers: list[str], preloaded: bool
) -> None:
    runtime = FakeRuntime(providers)
    preload_cuda_libraries(runtime, device)
    assert runtime.calls == ([{"msvc": False}] if preloaded else [])


def test_a_failed_preload_leaves_the_decision_to_the_test_inference() -> None:
    runtime = FakeRuntime([CUDA, CPU], fails=True)
    preload_cuda_libraries(runtime, "auto")  # logged, not raised
    assert runtime.calls == [{"msvc": False}]


def test_a_session_that_fell_back_to_the_cpu_is_not_cuda() -> None:
    """ONNX Runtime's Python API retries on the CPU when CUDA cannot start (no GPU): the session
    exists and its test inference succeeds, but it is not CUDA."""
    factory = Factory()

    def fell_back(session: FakeSession) -> list[str]:
        return [CPU]

    choice = choose_provider("auto", [CUDA, CPU], factory.make, factory.check, active_providers=fell_back)
    assert choice.device == "cpu"
    assert "could not start CUDA and fell back to the CPU" in choice.reason
    assert factory.built == [CUDA, CPU]
    with pytest.raises(
        ProviderError, match="device: cuda was requested, but ONNX Runtime could not start CUDA"
    ):
        choose_provider("cuda", [CUDA, CPU], factory.make, factory.check, active_providers=fell_back)


def test_a_session_that_has_cuda_is_cuda() -> None:
    factory = Factory()
    choice = choose_provider(
        "auto", [CUDA, CPU], factory.make, factory.check, active_providers=lambda session: [CUDA, CPU]
    )
    assert choice.device == "cuda"


def test_the_cuda_probe_says_no_where_cuda_cannot_start() -> None:
    """The real onnxruntime of this machine (CPU build, or no GPU): asked for CUDA, it runs the
    probe on the CPU, which is not CUDA."""
    import onnxruntime

    assert cuda_starts(onnxruntime) is False


class ProbeRuntime:
    """An onnxruntime stand-in whose sessions report the given providers."""

    def __init__(self, providers: list[str]) -> None:
        self.providers = providers
        self.asked: list[Any] = []

    def InferenceSession(self, model: bytes, providers: list[str]) -> Any:
        self.asked.append(providers)
        assert model, "the probe passes a serialized model"
        outer = self

        class Session:
            def get_providers(self) -> list[str]:
                return outer.providers

        return Session()


def test_the_cuda_probe_says_yes_when_the_session_has_cuda() -> None:
    runtime = ProbeRuntime([CUDA, CPU])
    assert cuda_starts(runtime) is True
    assert runtime.asked == [[CUDA, CPU]]
    assert cuda_starts(ProbeRuntime([CPU])) is False
