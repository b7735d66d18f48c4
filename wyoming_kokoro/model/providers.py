"""Choosing the ONNX Runtime execution provider (CUDA or CPU), and proving the choice works.

A provider that is merely *listed* is not trusted: onnxruntime-gpu lists CUDAExecutionProvider even
when the CUDA or cuDNN libraries are missing or the GPU is busy, and then fails (or silently falls back
to CPU) at the first inference. So every candidate must build a session and run a real inference
before it is chosen. The logic takes the list of available providers and a session factory as
arguments, which keeps it testable without a GPU.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

_LOGGER = logging.getLogger(__name__)

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"

SessionT = TypeVar("SessionT")

#: CUDA options for Kokoro's variable-length input, where nearly every piece has a new length:
#: DEFAULT takes cuDNN's default algorithm without asking for one, where HEURISTIC queries cuDNN and
#: EXHAUSTIVE times every candidate each time the shape changes (both slower here; they win only
#: when the same length repeats; ``docs/performance.md``, "GPU"). Copies use the default stream.
CUDA_PROVIDER_OPTIONS: dict[str, Any] = {
    "cudnn_conv_algo_search": "DEFAULT",
    "do_copy_in_default_stream": True,
    "arena_extend_strategy": "kSameAsRequested",
}


#: Why a session asked for CUDA is not CUDA: ONNX Runtime's Python API retries on the CPU by itself.
CUDA_FELL_BACK = (
    "ONNX Runtime could not start CUDA and fell back to the CPU (no usable GPU, or the driver and the "
    "CUDA/cuDNN libraries do not match; its message is logged above)"
)


class ProviderError(RuntimeError):
    """The configured device cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class ProviderChoice(Generic[SessionT]):
    """The session that passed its test inference, which device it runs on, and why."""

    session: SessionT
    device: str  # "cuda" or "cpu"
    reason: str


def provider_chain(device: str) -> list[tuple[str, Any]]:
    """The ``providers`` argument of an InferenceSession for a device ("cuda" keeps CPU as the
    fallback for the few nodes CUDA has no kernel for)."""
    if device == "cuda":
        return [(CUDA, dict(CUDA_PROVIDER_OPTIONS)), (CPU, {})]
    return [(CPU, {})]


def preload_cuda_libraries(runtime: Any, device: str) -> None:
    """Let onnxruntime-gpu find CUDA and cuDNN installed as PyPI wheels (``nvidia-*-cu12``).

    ONNX Runtime's CUDA provider loads them with the system's library search, which does not look
    in site-packages; ``preload_dlls`` (ONNX Runtime 1.21+) loads them from there first. Libraries
    the system provides (NVIDIA's CUDA images) are found either way, so a failure here is only
    logged: the test inference in :func:`choose_provider` is what decides.
    """
    if device == "cpu" or CUDA not in runtime.get_available_providers():
        return
    preload = getattr(runtime, "preload_dlls", None)
    if preload is None:
        return
    try:
        preload(msvc=False)
    except Exception as err:  # any failure leaves the decision to the test inference
        _LOGGER.debug("onnxruntime.preload_dlls failed: %s: %s", type(err).__name__, err)


def cuda_starts(runtime: Any) -> bool:
    """Whether CUDA really starts: a one-node model, asked for CUDA, is checked to have it.

    Cheap (no model file, no GPU memory to speak of), so the engine asks before it builds the float
    model CUDA needs, which a machine without a usable GPU would build for nothing.
    """
    from onnx import TensorProto, helper

    value = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    result = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "cuda-probe", [value], [result])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    try:
        session = runtime.InferenceSession(model.SerializeToString(), providers=[CUDA, CPU])
    except Exception as err:  # any failure to start means no CUDA here
        _LOGGER.debug("CUDA probe failed: %s: %s", type(err).__name__, err)
        return False
    return CUDA in session.get_providers()


def choose_provider(
    device: str,
    available: Sequence[str],
    make_session: Callable[[list[tuple[str, Any]]], SessionT],
    check: Callable[[SessionT], None],
    active_providers: Callable[[SessionT], Sequence[str]] | None = None,
) -> ProviderChoice[SessionT]:
    """Pick the execution provider for ``device`` ("auto", "cuda" or "cpu").

    ``available`` is ``onnxruntime.get_available_providers()``; ``make_session`` builds a session for a
    provider chain; ``check`` runs a real inference on it and raises if the result is unusable.
    ``auto`` uses CUDA only when it is available *and* its test inference succeeds, otherwise CPU
    with a log line saying why; ``cuda`` with no working CUDA raises :class:`ProviderError`.
    ``active_providers`` (``session.get_providers()``) tells whether a session asked for CUDA really
    has it: ONNX Runtime's Python API falls back to the CPU by itself when CUDA cannot start (no
    GPU), and the test inference then succeeds on the CPU.
    """
    if device not in ("auto", "cuda", "cpu"):
        raise ProviderError(f"device must be auto, cuda or cpu, not {device!r}")

    cuda_problem: str | None = None
    if device in ("auto", "cuda"):
        if CUDA not in available:
            cuda_problem = (
                "CUDAExecutionProvider is not available in this onnxruntime "
                f"(available: {', '.join(available) or 'none'}); "
                'install the GPU build with: pip install "wyoming-kokoro[gpu]"'
            )
        else:
            try:
                session = make_session(provider_chain("cuda"))
                if active_providers is not None and CUDA not in active_providers(session):
                    raise ProviderError(CUDA_FELL_BACK)
                check(session)
            except Exception as err:  # any failure means CUDA is not usable here
                cuda_problem = (
                    str(err)
                    if isinstance(err, ProviderError)
                    else f"CUDA test inference failed: {type(err).__name__}: {err}"
                )
            else:
                return ProviderChoice(session, "cuda", "CUDA test inference succeeded")
        if device == "cuda":
            raise ProviderError(f"device: cuda was requested, but {cuda_problem}")
        _LOGGER.info("Using CPU: %s", cuda_problem)

    if CPU not in available:
        raise ProviderError(f"CPUExecutionProvider is not available (available: {available})")
    session = make_session(provider_chain("cpu"))
    check(session)
    reason = "device: cpu in config" if device == "cpu" else (cuda_problem or "CPU")
    return ProviderChoice(session, "cpu", reason)


def node_placement(profile: Path) -> dict[str, Counter[str]]:
    """Count the nodes each execution provider ran, by operator type, from an ONNX Runtime
    profile (``SessionOptions.enable_profiling``). Shows at a glance whether, say, quantized ops
    fell back from CUDA to the CPU."""
    events = json.loads(profile.read_text(encoding="utf-8"))
    seen: set[str] = set()
    placement: dict[str, Counter[str]] = {}
    for event in events:
        args = event.get("args") or {}
        provider, op, name = args.get("provider"), args.get("op_name"), event.get("name", "")
        if event.get("cat") != "Node" or not provider or not op or name in seen:
            continue
        seen.add(name)
        placement.setdefault(provider, Counter())[op] += 1
    return placement
