"""What every offline rewrite of the model graph shares: loading and saving models, hashing and
stamping what was built, and removing the nodes a rewrite left unused. ``onnx`` is imported only
when a model is built (it is an optional extra at run time)."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...files import atomic_write

if TYPE_CHECKING:
    from onnx import GraphProto, ModelProto, NodeProto

#: Where ``sha256_file`` records the hashes of the files in a folder.
HASHES = "hashes.json"


class ModelBuildError(Exception):
    """A model cannot be read, rewritten or written; the engine then runs the model as it is."""


def write_file(dst: Path, data: bytes) -> None:
    """Write *data* to *dst* (its folder made if need be) so that it appears whole or not at all."""
    dst = Path(dst)
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(dst, lambda out: out.write(data))
    except OSError as err:
        raise ModelBuildError(f"cannot write {dst}: {err}") from err


def import_onnx() -> Any:
    try:
        import onnx
    except ImportError as err:
        raise ModelBuildError(
            "building float Kokoro models needs the 'onnx' package: pip install onnx"
        ) from err
    return onnx


def load_model(onnx: Any, path: Path, load_external_data: bool) -> ModelProto:
    from google.protobuf.message import DecodeError

    try:
        return onnx.load(str(path), load_external_data=load_external_data)
    except (OSError, ValueError, DecodeError) as err:
        raise ModelBuildError(f"cannot read ONNX model {path}: {err}") from err


def model_bytes(onnx: Any, model: ModelProto, producer: str, props: dict[str, str]) -> bytes:
    """*model* serialized, with our producer name and build metadata in place of the export's."""
    model.producer_name = producer
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, props)
    data: bytes = model.SerializeToString()
    return data


def sha256_file(path: Path) -> str:
    """The file's sha256, hashed once per change of the file: recorded with its size and
    modification time in ``hashes.json`` beside it, and taken from there while both stay the same
    (every start checks the built models in their stamps; hashing them each time would slow it)."""
    path = Path(path)
    try:
        info = path.stat()
    except OSError as err:
        raise ModelBuildError(f"cannot read {path}: {err}") from err
    records_path = path.parent / HASHES
    records = read_stamp(records_path)
    records = records if isinstance(records, dict) else {}
    mark = [info.st_size, info.st_mtime_ns]
    found = records.get(path.name)
    if isinstance(found, list) and len(found) == 3 and found[:2] == mark and isinstance(found[2], str):
        return found[2]
    digest = hashlib.sha256()
    try:
        with path.open("rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
    except OSError as err:
        raise ModelBuildError(f"cannot read {path}: {err}") from err
    records[path.name] = [*mark, digest.hexdigest()]
    with contextlib.suppress(ModelBuildError):  # a read-only folder: hashed again next time
        write_file(records_path, json.dumps(records, indent=1).encode())
    return digest.hexdigest()


def read_stamp(path: Path) -> object:
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None


def iter_nodes(graph: GraphProto) -> Iterator[NodeProto]:
    """Yield every node, including those of subgraphs (If/Loop/Scan bodies)."""
    for node in graph.node:
        yield node
        for attr in node.attribute:
            if attr.HasField("g"):
                yield from iter_nodes(attr.g)
            for sub in attr.graphs:
                yield from iter_nodes(sub)


def remove_dead_code(graph: GraphProto) -> None:
    """Drop nodes that no graph output depends on, then unused initializers and value_info."""
    nodes = list(graph.node)
    producer = {name: index for index, node in enumerate(nodes) for name in node.output if name}
    needed = {o.name for o in graph.output}
    live: set[int] = set()
    stack = list(needed)
    while stack:
        index = producer.get(stack.pop())
        if index is None or index in live:
            continue
        live.add(index)
        for name in node_inputs(nodes[index]):
            if name and name not in needed:
                needed.add(name)
                stack.append(name)

    kept = [node for index, node in enumerate(nodes) if index in live]
    del graph.node[:]
    graph.node.extend(kept)
    # Delete in place: rebuilding the list would copy every weight.
    for index in reversed(range(len(graph.initializer))):
        if graph.initializer[index].name not in needed:
            del graph.initializer[index]
    produced = {name for node in kept for name in node.output}
    value_info = [v for v in graph.value_info if v.name in produced]
    del graph.value_info[:]
    graph.value_info.extend(value_info)


def node_inputs(node: NodeProto) -> Iterable[str]:
    """Inputs of *node*, including outer-scope names its subgraphs read."""
    yield from node.input
    for attr in node.attribute:
        subgraphs = [attr.g] if attr.HasField("g") else []
        for sub in [*subgraphs, *attr.graphs]:
            for inner in iter_nodes(sub):
                yield from inner.input
