"""Home Assistant's wyoming integration, as shipped, gets speech from this server.

Every step goes through Home Assistant's own code: its config flows, its TTS entity, its TTS
manager. Timings Home Assistant sees are recorded in ``MEASURED`` and printed at the end.
"""

from __future__ import annotations

import asyncio
import io
import time
import wave
from collections.abc import AsyncGenerator
from ipaddress import ip_address

import pytest
from homeassistant.components import tts
from homeassistant.components.tts.const import DATA_TTS_MANAGER
from homeassistant.components.wyoming.data import load_wyoming_info
from homeassistant.config_entries import SOURCE_HASSIO, SOURCE_USER, SOURCE_ZEROCONF
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.service_info.hassio import HassioServiceInfo
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
from kokoro_server import BLEND, MAX_TEXT_CHARS, MEASURED, ZEROCONF_NAME, KokoroServer, browse_zeroconf
from pytest_homeassistant_custom_component.common import MockConfigEntry

SAMPLE_RATE = 24_000
PLAIN = "Turned on the kitchen lights, and set the thermostat to twenty one degrees."
#: An LLM's reply as Home Assistant streams it: pieces of words, not sentences.
STREAMED = ["The weather today ", "is sunny with ", "a high of twenty ", "degrees. Enjoy ", "your day!"]
LONG = " ".join(["The quick brown fox jumps over the lazy dog near the quiet river bank."] * 12)


def _tts_entity_id(hass: HomeAssistant) -> str:
    entities = [e for e in er.async_get(hass).entities.values() if e.domain == "tts"]
    assert len(entities) == 1, entities
    return entities[0].entity_id


def _entity(hass: HomeAssistant) -> tts.TextToSpeechEntity:
    entity = hass.data[tts.DATA_COMPONENT].get_entity(_tts_entity_id(hass))
    assert entity is not None
    return entity


def _wav_seconds(data: bytes) -> float:
    """Seconds of 16-bit mono PCM at 24 kHz in a WAV (a streamed WAV's header says 0 frames, so
    count the bytes after the header)."""
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) == (SAMPLE_RATE, 2, 1)
    return (len(data) - 44) / (SAMPLE_RATE * 2)


async def _stream(hass: HomeAssistant, message: str | list[str], language: str, voice: str) -> bytes:
    """The bytes Home Assistant's TTS manager gives for a message (whole, or in pieces)."""
    data, _ = await _timed_stream(hass, message, language, voice)
    return data


async def _timed_stream(
    hass: HomeAssistant, message: str | list[str], language: str, voice: str
) -> tuple[bytes, float | None]:
    # As tts.async_create_stream, minus Home Assistant's file cache (which outlives a test run).
    stream = hass.data[DATA_TTS_MANAGER].async_create_result_stream(
        engine=_tts_entity_id(hass),
        language=language,
        options={"voice": voice, tts.ATTR_PREFERRED_FORMAT: "wav"},
        use_file_cache=False,
    )
    began = time.monotonic()
    if isinstance(message, str):
        stream.async_set_message(message)
    else:

        async def pieces() -> AsyncGenerator[str]:
            for piece in message:
                yield piece
                await asyncio.sleep(0.05)  # as tokens arrive from an LLM

        stream.async_set_message_stream(pieces())
    first: float | None = None
    data = b""
    async for chunk in stream.async_stream_result():
        if first is None and len(data) + len(chunk) > 44:
            first = time.monotonic() - began
        data += chunk
    return data, first


async def _speak(
    hass: HomeAssistant, message: str | list[str], language: str, voice: str
) -> tuple[float, float]:
    """(seconds of audio, seconds until the first audio bytes) through the TTS manager."""
    data, first = await _timed_stream(hass, message, language, voice)
    assert first is not None, "no audio"
    return _wav_seconds(data), first


# --------------------------------------------------------------------------------------------
# Config flows


async def test_user_flow_creates_the_entry(hass: HomeAssistant, kokoro: KokoroServer) -> None:
    result = await hass.config_entries.flow.async_init("wyoming", context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": kokoro.host, "port": kokoro.port}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    assert result["title"] == "kokoro"
    assert result["data"] == {"host": kokoro.host, "port": kokoro.port}


async def test_zeroconf_discovery_of_what_the_server_announces(
    hass: HomeAssistant, kokoro: KokoroServer
) -> None:
    announced = browse_zeroconf(ZEROCONF_NAME)
    assert announced["port"] == kokoro.port
    addresses = [ip_address(a) for a in announced["addresses"]]  # type: ignore[union-attr]
    info = ZeroconfServiceInfo(
        ip_address=addresses[0],
        ip_addresses=addresses,
        port=int(announced["port"]),  # type: ignore[call-overload]
        hostname=str(announced["hostname"]),
        type=str(announced["type"]),
        name=str(announced["name"]),
        properties=announced["properties"],  # type: ignore[arg-type]
    )
    result = await hass.config_entries.flow.async_init(
        "wyoming", context={"source": SOURCE_ZEROCONF}, data=info
    )
    assert result["type"] is FlowResultType.FORM, result
    assert result["step_id"] == "zeroconf_confirm"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    assert result["data"] == {"host": str(addresses[0]), "port": kokoro.port}


async def test_addon_discovery_as_the_addon_sends_it(hass: HomeAssistant, kokoro: KokoroServer) -> None:
    """The add-on's discovery service posts {"uri": "tcp://HOST:PORT"} to Supervisor."""
    info = HassioServiceInfo(
        config={"uri": f"tcp://{kokoro.host}:{kokoro.port}"},
        name="Kokoro TTS",
        slug="wyoming_kokoro",
        uuid="1234",
    )
    result = await hass.config_entries.flow.async_init(
        "wyoming", context={"source": SOURCE_HASSIO}, data=info
    )
    assert result["step_id"] == "hassio_confirm"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    assert result["data"] == {"host": kokoro.host, "port": kokoro.port}


# --------------------------------------------------------------------------------------------
# The TTS entity


async def test_languages_and_voices_with_descriptions(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    entity = _entity(hass)
    assert entity.async_supports_streaming_input()
    languages = set(entity.supported_languages)
    assert {"en-US", "en-GB", "fr", "es", "it", "pt-BR", "hi", "ja", "zh"} <= languages, languages
    american = {voice.voice_id: voice.name for voice in entity.async_get_supported_voices("en-US") or []}
    assert american["af_heart"] == "Heart — American English, female"
    assert BLEND in american, "the blend is not offered"
    french = {voice.voice_id for voice in entity.async_get_supported_voices("fr") or []}
    assert "ff_siwis" in french and "af_heart" not in french
    japanese = {voice.voice_id for voice in entity.async_get_supported_voices("ja") or []}
    assert "jf_alpha" in japanese


@pytest.mark.parametrize(("language", "voice"), [("en-US", "af_heart"), ("fr", "ff_siwis"), ("en-US", BLEND)])
async def test_streamed_speech_through_the_tts_manager(
    hass: HomeAssistant, entry: MockConfigEntry, language: str, voice: str
) -> None:
    """Home Assistant takes the streaming path whenever the server advertises it: here with the
    text arriving in pieces, as an LLM writes it."""
    seconds, first = await _speak(hass, STREAMED, language, voice)
    assert 2.5 < seconds < 8.0, seconds
    MEASURED[f"streamed {language} {voice}: first audio s"] = first


async def test_a_whole_message_through_the_tts_manager(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """A whole message (an automation's tts.speak) goes through the streaming path as one piece."""
    seconds, first = await _speak(hass, PLAIN, "en-US", "af_heart")
    assert 3.0 < seconds < 8.0, seconds
    MEASURED["whole message en-US af_heart: first audio s"] = first


@pytest.mark.parametrize(("language", "voice"), [("en-US", "af_heart"), ("fr", "ff_siwis")])
async def test_plain_path(hass: HomeAssistant, entry: MockConfigEntry, language: str, voice: str) -> None:
    """The entity's non-streaming path (what Home Assistant uses for a server that does not
    advertise streaming): one synthesize, the whole WAV back."""
    began = time.monotonic()
    extension, data = await _entity(hass).async_get_tts_audio(PLAIN, language, {"voice": voice})
    took = time.monotonic() - began
    assert extension == "wav" and data is not None
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) == (SAMPLE_RATE, 2, 1)
        assert 3.0 < wav.getnframes() / SAMPLE_RATE < 8.0
    MEASURED[f"plain {language} {voice}: whole reply s"] = took


# --------------------------------------------------------------------------------------------
# Refusals end quickly


async def test_unknown_voice_fails_quickly_on_the_plain_path(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    """Home Assistant (before 2026.8) ignores ``error`` events and waits for audio-stop or for the
    connection to close, so the server must close it after the error."""
    began = time.monotonic()
    async with asyncio.timeout(10):
        result = await _entity(hass).async_get_tts_audio(PLAIN, "en-US", {"voice": "xx_nobody"})
    assert result == (None, None)
    MEASURED["plain unknown voice: failed after s"] = time.monotonic() - began


async def test_unknown_voice_on_the_streaming_path_ends_quickly_without_audio(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    """The streaming path ends at synthesize-stopped, which the server sends after the error.
    This Home Assistant reads no ``error`` event there, so the result is an empty stream, not an
    exception: what matters here is that it ends at once instead of hanging."""
    began = time.monotonic()
    async with asyncio.timeout(10):
        data = await _stream(hass, STREAMED, "en-US", "xx_nobody")
    assert len(data) <= 44, "audio for an unknown voice"
    MEASURED["streamed unknown voice: ended after s"] = time.monotonic() - began


async def test_text_over_the_limit_fails_quickly(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    text = "word " * (MAX_TEXT_CHARS // 5 + 10)
    async with asyncio.timeout(10):
        result = await _entity(hass).async_get_tts_audio(text, "en-US", {"voice": "af_heart"})
    assert result == (None, None)
    # Through the TTS manager (streaming path): it ends, without audio.
    async with asyncio.timeout(10):
        data = await _stream(hass, [text[:1000], text[1000:]], "en-US", "af_heart")
    assert len(data) <= 44


# --------------------------------------------------------------------------------------------
# Staying available


async def test_describe_is_answered_within_home_assistants_timeout_while_speaking(
    hass: HomeAssistant, entry: MockConfigEntry, kokoro: KokoroServer
) -> None:
    """Home Assistant asks describe with a 1 s timeout (setup, reload, discovery): it must be
    answered while a long reply is being spoken."""
    speaking = asyncio.create_task(_speak(hass, LONG, "en-US", "af_heart"))
    await asyncio.sleep(1.0)
    waits = []
    for _ in range(3):
        began = time.monotonic()
        info = await load_wyoming_info(kokoro.host, kokoro.port, retries=0, retry_wait=0, timeout=1)
        waits.append(time.monotonic() - began)
        assert info is not None and info.tts, "describe not answered within 1 s"
        assert not speaking.done()
    seconds, _ = await speaking
    assert seconds > 20
    MEASURED["describe while speaking: slowest of 3 s"] = max(waits)


async def test_the_entity_survives_a_server_restart(
    hass: HomeAssistant, entry: MockConfigEntry, kokoro: KokoroServer
) -> None:
    kokoro.stop()
    try:
        began = time.monotonic()
        async with asyncio.timeout(10):
            with pytest.raises((HomeAssistantError, OSError)):
                await _stream(hass, PLAIN, "en-US", "af_heart")
        MEASURED["server down: failed after s"] = time.monotonic() - began
    finally:
        kokoro.start()
    seconds, _ = await _speak(hass, PLAIN, "en-US", "af_heart")
    assert seconds > 3.0
    # And a reload (what Home Assistant does when the entry is re-set-up) finds it again.
    assert await hass.config_entries.async_reload(entry.entry_id)
    seconds, _ = await _speak(hass, "Good night.", "en-US", "af_heart")
    assert seconds > 0.5


async def test_setup_waits_for_a_server_that_is_not_up_yet(hass: HomeAssistant, kokoro: KokoroServer) -> None:
    """A config entry whose server is down is retried (setup_retry), not failed for good."""
    from homeassistant.config_entries import ConfigEntryState

    kokoro.stop()
    try:
        config_entry = MockConfigEntry(domain="wyoming", data={"host": kokoro.host, "port": kokoro.port})
        config_entry.add_to_hass(hass)
        await hass.config_entries.async_setup(config_entry.entry_id)
        assert config_entry.state is ConfigEntryState.SETUP_RETRY
    finally:
        kokoro.start()
    assert await hass.config_entries.async_reload(config_entry.entry_id)
    assert config_entry.state is ConfigEntryState.LOADED
