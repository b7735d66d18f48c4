"""ONNX Runtime sessions as the engine runs them: one set of session settings, one inference.

Shared by the engine, the model rewrites' checks, the benchmarks and the tests, so that each runs
the model exactly as the server does.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from ..text.frontend import MAX_TOKENS
from .providers import CPU, CUDA

#: Token ids of a short English phrase: what the start-up and on-machine checks of a model speak.
CHECK_IDS = [50, 156, 86, 54, 57, 4]
#: The most of an arena block a tensor may leave unused rather than have it split.
ARENA_MAX_DEAD_BYTES = 2**20


def session_options(
    threads: int, profile_prefix: str | None = None, *, device: str = CPU
) -> ort.SessionOptions:
    """The settings of every session: *threads* for the kernels, no spinning, all graph
    optimizations, one shared CPU arena; with *profile_prefix*, profiling for the debug log.
    *device*: the provider the session runs on first (CPU or CUDA)."""
    options = ort.SessionOptions()
    if profile_prefix is not None:
        # Debug logging: profile the first inferences to report where each node ran.
        options.enable_profiling = True
        options.profile_file_prefix = profile_prefix
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Sequential execution: the parallel mode is slower on this graph (one chain of nodes).
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # No spinning: costs nothing when idle and is faster when another process competes for cores.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.log_severity_level = 3
    if device == CPU:
        # No memory pattern on the CPU: with it each run takes its planned memory as one block
        # sized by its input's shape, which differs with every piece, and the arena keeps blocks
        # of many sizes beside each other (docs/performance.md: more held, no faster).
        options.enable_mem_pattern = False
    # One memory arena for all of this process's sessions (the whole model and the parts of
    # split_model.py): they never run at once, and each arena grows to its largest run.
    _register_shared_cpu_arena()
    options.add_session_config_entry("session.use_env_allocators", "1")
    return options


@functools.cache
def _register_shared_cpu_arena() -> None:
    """Register ONNX Runtime's CPU arena with the environment, once per process, for sessions
    created with ``session.use_env_allocators``: the sessions never run at once, so one arena
    serves them all instead of one grown to its largest run per session."""
    info = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT)
    # A free block is split for a request that leaves more than ARENA_MAX_DEAD_BYTES of it
    # unused. ONNX Runtime's default (128 MB) hands a whole large block to a small tensor that
    # outlives the run, and the arena, trimmed when idle, then cannot give that block back.
    ort.create_and_register_allocator(info, ort.OrtArenaCfg(0, -1, -1, ARENA_MAX_DEAD_BYTES))


def run_session(
    session: ort.InferenceSession,
    ids: list[int],
    table: npt.NDArray[np.float32],
    speed: float,
    run_options: ort.RunOptions | None = None,
) -> npt.NDArray[np.float32]:
    """One inference: token ids (without pads) → float audio. The style row is chosen by length."""
    if not ids:
        return np.zeros(0, dtype=np.float32)
    ids = ids[:MAX_TOKENS]
    style = style_for(table, len(ids))
    names = {i.name for i in session.get_inputs()}
    token_name = "tokens" if "tokens" in names else "input_ids"
    feeds = {
        token_name: np.array([[0, *ids, 0]], dtype=np.int64),
        "style": style,
        "speed": np.array([speed], dtype=np.float32),
    }
    if CUDA in getattr(session, "get_providers", list)():
        # Inputs are bound from host memory and the output is allocated on the host by ONNX
        # Runtime itself, so each call makes exactly one device→host copy of the audio.
        binding = session.io_binding()
        for name, value in feeds.items():
            binding.bind_cpu_input(name, value)
        binding.bind_output(session.get_outputs()[0].name, "cpu")
        session.run_with_iobinding(binding, run_options)
        audio = binding.copy_outputs_to_cpu()[0]
    else:
        audio = session.run(None, feeds, run_options)[0]
    return np.asarray(audio, dtype=np.float32).ravel()


def style_for(table: npt.NDArray[np.float32], tokens: int) -> npt.NDArray[np.float32]:
    """The voice's style vector for a piece of *tokens* phonemes: Kokoro's voice tables hold one
    row per piece length."""
    return table[tokens - 1].reshape(1, -1).astype(np.float32)


def session_model_path(session: object) -> Path:
    """The model file a session runs: a WholeModel says so as ``model_path``; ONNX Runtime's own
    session keeps it only as ``_model_path``, read here and nowhere else."""
    path = getattr(session, "model_path", None)
    if path is None:
        path = session._model_path  # type: ignore[attr-defined]
    return Path(path)


def cpu_session(path: Path, threads: int) -> ort.InferenceSession:
    """A CPU-only session for *path* with the engine's session settings."""
    return ort.InferenceSession(str(path), sess_options=session_options(threads), providers=[CPU])
