"""The engine with the real model, voices and G2P: format, voices, blends, speed, long text, streaming,
scheduling, cancellation and the phrase cache."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from polling import eventually

from wyoming_kokoro.audio import SAMPLE_RATE
from wyoming_kokoro.config import Config
from wyoming_kokoro.engine import AudioPiece, KokoroEngine, SynthesisStream
from wyoming_kokoro.engine.cache import PhraseCache
from wyoming_kokoro.engine.loader import load_engine
from wyoming_kokoro.model.sessions import run_session
from wyoming_kokoro.text.packing import piece_token_limit
from wyoming_kokoro.text.pipeline import phoneme_units
from wyoming_kokoro.text.segmenter import TextSegmenter
from wyoming_kokoro.voices import VoiceError


async def collect(engine: KokoroEngine, text: str, **kwargs: object) -> list[AudioPiece]:
    return [piece async for piece in engine.synthesize(text, **kwargs)]  # type: ignore[arg-type]


async def read_all(stream: SynthesisStream) -> list[AudioPiece]:
    return [piece async for piece in stream]


def samples(pieces: list[AudioPiece]) -> np.ndarray:
    return np.frombuffer(b"".join(p.pcm for p in pieces), dtype="<i2")


async def test_short_reply_is_plausible_16bit_audio(engine: KokoroEngine) -> None:
    pieces = await collect(engine, "Turned on the kitchen lights.")
    audio = samples(pieces)
    seconds = audio.size / SAMPLE_RATE
    assert 0.8 < seconds < 4.0
    assert all(len(p.pcm) % 2 == 0 for p in pieces)
    assert np.abs(audio).max() > 3000  # speech, not silence
    assert np.abs(audio).max() <= 32767


def test_every_voice_loads_and_speaks(engine: KokoroEngine) -> None:
    ids = engine.frontend.tokenize(engine.frontend.phonemize("Hello.", "en-us"))
    assert len(engine.voices.names) >= 40  # all 54 minus any language without offline G2P
    for name in engine.voices.names:
        voice = engine.voices.resolve(name)
        assert voice.table.shape == (510, 1, 256) and voice.table.dtype == np.float32
        audio = run_session(engine.synthesizer.session, ids, voice.table, 1.0)
        assert np.isfinite(audio).all() and np.abs(audio).max() > 0.05, name


async def test_blends_and_speed_change_the_audio(engine: KokoroEngine) -> None:
    text = "The front door is locked."
    heart = samples(await collect(engine, text, voice="af_heart"))
    bella = samples(await collect(engine, text, voice="af_bella"))
    blend = samples(await collect(engine, text, voice="af_heart:0.5+af_bella:0.5"))
    named = samples(await collect(engine, text, voice="warm_mix"))
    fast = samples(await collect(engine, text, voice="af_heart", speed=1.6))
    assert not np.array_equal(blend, heart) and not np.array_equal(blend, bella)
    assert not np.array_equal(named, heart)
    assert fast.size < heart.size * 0.8


async def test_language_only_request_uses_the_configured_voice(engine: KokoroEngine) -> None:
    stream = engine.open_stream(language="en-GB")
    assert stream.voice.key == engine.config.language_voices["en-gb"]
    stream.cancel()


def test_the_text_front_end_loads_while_the_split_model_is_built(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Start-up: spaCy and the other G2Ps (seconds of Python) load beside the split model's
    sessions and check (ONNX Runtime). Each waits at a barrier for the other to have started, so
    loading them one after the other breaks the barrier and the load fails."""
    import wyoming_kokoro.engine.loader as loader_module

    both_started = threading.Barrier(2, timeout=60)
    real_frontend, real_split = loader_module.TextFrontend, loader_module.split_model_for

    def frontend(*args: object) -> object:
        both_started.wait()
        return real_frontend(*args)  # type: ignore[arg-type]

    def split_model(*args: object) -> object:
        both_started.wait()
        return real_split(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(loader_module, "TextFrontend", frontend)
    monkeypatch.setattr(loader_module, "split_model_for", split_model)
    loaded = load_engine(config)
    try:
        assert loaded.synthesizer.split_model is not None
        assert {"en-us", "en-gb"} <= loaded.frontend.languages
    finally:
        loaded.shutdown()


def test_bad_requests_raise_clear_errors(engine: KokoroEngine) -> None:
    async def run() -> None:
        with pytest.raises(VoiceError, match="Unknown voice af_nobody"):
            engine.open_stream(voice="af_nobody")
        with pytest.raises(VoiceError, match="Bad voice blend"):
            engine.open_stream(voice="af_heart:+")
        with pytest.raises(ValueError, match=r"speed must be between 0\.5 and 2\.0"):
            engine.open_stream(speed=3.0)
        with pytest.raises(VoiceError, match="No voice for language"):
            engine.open_stream(language="de-DE")

    asyncio.run(run())


def test_curly_apostrophes_keep_the_negation(engine: KokoroEngine) -> None:
    straight = engine.frontend.phonemize("It wasn't locked.", "en-us")
    curly = engine.frontend.phonemize("It wasn’t locked.", "en-us")
    assert curly == straight
    assert "nt" in curly.replace("ᵊ", "")


def test_unknown_words_are_voiced_not_dropped(engine: KokoroEngine) -> None:
    phonemes = engine.frontend.phonemize("Zyxqwer Blorptang is here.", "en-us")
    assert "❓" not in phonemes
    assert len(phonemes.split()) >= 4


async def test_long_text_is_spoken_in_full(engine: KokoroEngine) -> None:
    sentence = (
        "Sentence number {n} reports that the kitchen is warm, the hallway light is off, "
        "and the garden sprinkler will start at seven in the evening. "
    )
    text = "".join(sentence.format(n=n) for n in range(1, 40))[:5000]
    assert len(text) == 5000
    segmenter = TextSegmenter()
    expected = [
        engine.frontend.phonemize(s.text, "en-us") for s in [*segmenter.feed(text), *segmenter.flush()]
    ]
    pieces = await collect(engine, text, speed=2.0)
    spoken = " ".join(p.phonemes for p in pieces)
    assert spoken.split() == " ".join(expected).split()
    assert all(len(p.phonemes) <= 510 for p in pieces)
    assert len(pieces) > 10
    # ~5000 characters at double speed is about a minute of audio; a truncated reply is far shorter.
    assert samples(pieces).size / SAMPLE_RATE > 40


@pytest.mark.parametrize("speed", [1.0, 0.5])
async def test_text_with_no_place_to_cut_is_spoken_in_pieces_no_longer_than_the_limit(
    engine: KokoroEngine, speed: float
) -> None:
    """One 600-letter "word": its first piece too is cut at the speed's piece limit (it used to go
    whole up to the model's 510 tokens, and such a piece took gigabytes), and all of it is said."""
    text = "a" * 600
    pieces = await collect(engine, text, speed=speed)
    limit = piece_token_limit(speed)
    assert all(len(p.phonemes) <= limit for p in pieces), [len(p.phonemes) for p in pieces]
    spoken = "".join("".join(p.phonemes.split()) for p in pieces)
    assert spoken == "".join(engine.frontend.phonemize(text, "en-us").split())


async def test_no_doubled_silence_at_seams(engine: KokoroEngine) -> None:
    pieces = await collect(
        engine, "The garage door is closed and the front door is locked. The alarm is set."
    )
    assert len(pieces) >= 2
    audio = np.abs(samples(pieces).astype(np.int32))
    quiet = audio < 200
    longest = max(
        (len(m.group()) for m in re.finditer("1+", "".join("1" if q else "0" for q in quiet))), default=0
    )
    assert longest / SAMPLE_RATE < 0.6


async def test_streamed_text_is_spoken_before_the_stream_ends(engine: KokoroEngine) -> None:
    stream = engine.open_stream()
    for word in ["Turned", "on", "the", "kitchen", "lights."]:
        stream.feed(word + " ")
    iterator = stream.__aiter__()
    first = await asyncio.wait_for(iterator.__anext__(), timeout=60)
    assert first.pcm  # audio arrived while the stream is still open
    assert not stream.closed
    for fragment in ["And the", " hall", "way light", " is off."]:
        stream.feed(fragment)
    stream.close()
    rest = [piece async for piece in iterator]
    assert "hɔl" in " ".join(p.phonemes for p in rest).replace("ˈ", "").replace("ˌ", "")


def trailing_zeros(pcm: bytes) -> float:
    """Seconds of exact silence at the end (the pause after a piece; speech is never exactly 0)."""
    audio = np.frombuffer(pcm, dtype="<i2")
    sounding = np.flatnonzero(audio)
    return (audio.size - (int(sounding[-1]) + 1 if sounding.size else 0)) / SAMPLE_RATE


async def test_a_first_sentence_is_made_before_its_end_is_confirmed_and_held_until_then(
    engine: KokoroEngine,
) -> None:
    stream = engine.open_stream()
    made = engine.stats.pieces
    stream.feed("Turned on the kitchen lights.")  # "lights.5" is still possible
    await eventually(lambda: engine.stats.pieces > made, "the guessed piece is made")
    await asyncio.sleep(0.05)
    assert stream.first_audio_at is None and stream.unread == 0  # held, not sent
    stream.feed(" Bye.")
    stream.close()
    pieces = await read_all(stream)
    spoken = " ".join(p.phonemes for p in pieces)
    assert spoken == engine.frontend.phonemize("Turned on the kitchen lights. Bye.", "en-us")
    assert trailing_zeros(pieces[-2].pcm) >= 0.29  # the first sentence's pause: another followed
    assert trailing_zeros(pieces[-1].pcm) < 0.1


async def test_a_guessed_sentence_that_ends_the_reply_has_no_pause(engine: KokoroEngine) -> None:
    stream = engine.open_stream()
    made = engine.stats.pieces
    stream.feed("Turned on the kitchen lights.")
    await eventually(lambda: engine.stats.pieces > made, "the guessed piece is made")
    stream.close()
    pieces = await read_all(stream)
    assert trailing_zeros(pieces[-1].pcm) < 0.1


@pytest.mark.parametrize("when", ["running", "made"])
async def test_a_wrong_guess_is_dropped_and_the_text_spoken_as_it_went_on(
    engine: KokoroEngine, when: str
) -> None:
    stream = engine.open_stream()
    made = engine.stats.pieces
    stream.feed("Today you used 12.")  # guessed as a sentence ...
    if when == "running":
        await eventually(lambda: stream.job is not None, "the guess is being synthesized")
    else:
        await eventually(lambda: engine.stats.pieces > made, "the guessed piece is made")
    stream.feed("4 kWh.")  # ... that goes on as "12.4": the guess's inference is stopped or its audio dropped
    stream.close()
    pieces = await read_all(stream)
    spoken = " ".join(p.phonemes for p in pieces)
    assert spoken == engine.frontend.phonemize("Today you used 12.4 kWh.", "en-us")
    assert stream not in engine.streams and not stream.guesses


@pytest.mark.parametrize(
    "fragments",
    [
        ["Today you used 12", ".", "4", " kWh", ".", " Bye", "."],  # dropped, then confirmed
        ["Turned on the lights.", '"', " Okay."],  # dropped for the closing quote, guessed again
        ['She said "turned on the lights', '."', " Okay", "."],
        ["Well, turned it off", ",", " and on."],  # a first clause
    ],
)
@pytest.mark.parametrize("pace", ["at once", "while synthesizing"])
async def test_streamed_fragments_are_spoken_as_the_whole_text_however_guesses_go(
    engine: KokoroEngine, fragments: list[str], pace: str
) -> None:
    stream = engine.open_stream()
    for fragment in fragments:
        stream.feed(fragment)
        if pace == "while synthesizing" and stream.guessing:
            await eventually(
                lambda: stream.job is not None or stream.first_audio_at is not None, "synthesis starts"
            )
    stream.close()
    pieces = await read_all(stream)
    text = "".join(fragments)
    units = phoneme_units(engine.frontend, text, "en-us")
    expected = " ".join(unit.phonemes for unit in units)
    assert " ".join(p.phonemes for p in pieces) == expected
    assert stream not in engine.streams and not stream.guesses


async def test_a_guessed_first_sentence_too_long_for_one_piece_waits_for_its_end(
    engine: KokoroEngine,
) -> None:
    # ~5 tokens a digit: the guess would be cut in pieces, so it is only phonemized on the guess.
    text = f"The code is {'9' * 120}."
    stream = engine.open_stream()
    stream.feed(text)
    await eventually(lambda: any(g.parked for g in stream.guesses), "the long guess is parked")
    assert stream.job is None and not stream.units
    stream.feed(" Bye.")
    stream.close()
    pieces = await read_all(stream)
    spoken = " ".join(p.phonemes for p in pieces).split()
    assert spoken == engine.frontend.phonemize(f"{text} Bye.", "en-us").split()
    assert stream not in engine.streams and not stream.guesses


async def test_a_cached_sentence_gets_the_pause_of_where_it_is_said(engine: KokoroEngine) -> None:
    saved = engine.synthesizer.cache
    engine.synthesizer.cache = PhraseCache(8)
    try:
        alone = await collect(engine, "Turned off the porch light.")
        assert trailing_zeros(alone[-1].pcm) < 0.1
        hits = engine.stats.cache_hits
        followed = await collect(engine, "Turned off the porch light. Bye.")
        assert engine.stats.cache_hits > hits
        assert trailing_zeros(followed[0].pcm) >= 0.29
    finally:
        engine.synthesizer.cache = saved


async def test_a_short_reply_overtakes_a_long_announcement(engine: KokoroEngine) -> None:
    long_text = " ".join(
        f"Announcement part {n} is about the weather in the north of the country." for n in range(8)
    )
    order: list[str] = []

    async def run(name: str, text: str) -> None:
        async for _piece in engine.synthesize(text):
            pass
        order.append(name)

    long_task = asyncio.create_task(run("long", long_text))
    await asyncio.sleep(0.5)
    await run("short", "Lights off.")
    await long_task
    assert order == ["short", "long"]


class RunProbe:
    """The real session, recording each inference: its tokens, and whether it ran to the end."""

    def __init__(self, real: object) -> None:
        self.real = real
        self.lock = threading.Lock()
        self.running: dict[int, tuple[int, float]] = {}  # call number → tokens, start
        self.stopped: set[int] = set()
        self.calls = 0
        self.most = 0

    def get_inputs(self) -> object:
        return self.real.get_inputs()  # type: ignore[attr-defined]

    def run(self, outputs: object, feeds: dict[str, np.ndarray], *args: object) -> object:
        tokens = next(v for k, v in feeds.items() if k in ("tokens", "input_ids")).shape[1]
        with self.lock:
            self.calls += 1
            call = self.calls
            self.running[call] = (tokens, time.monotonic())
            self.most = max(self.most, len(self.running))
        try:
            return self.real.run(outputs, feeds, *args)  # type: ignore[attr-defined]
        except Exception:
            self.stopped.add(call)
            raise
        finally:
            with self.lock:
                del self.running[call]


@contextlib.contextmanager
def probed(engine: KokoroEngine, cache_size: int) -> Iterator[RunProbe]:
    """The engine's session behind a RunProbe, with a phrase cache of ``cache_size``, for one test."""
    real_session, real_cache = engine.synthesizer.session, engine.synthesizer.cache
    probe = RunProbe(real_session)
    engine.synthesizer.session, engine.synthesizer.cache = probe, PhraseCache(cache_size)
    try:
        yield probe
    finally:
        engine.synthesizer.session, engine.synthesizer.cache = real_session, real_cache


def announcement(sentences: int) -> str:
    """A long reply of ~90-token sentences, no two alike (so none of it comes from the cache)."""
    sentence = "Part {} of the announcement says the wind up north will be strong all day and all night."
    return " ".join(sentence.format(n) for n in range(sentences))


async def test_a_first_piece_does_not_wait_for_a_running_continuation_piece(engine: KokoroEngine) -> None:
    with probed(engine, cache_size=0) as probe:  # every piece an inference
        long_text = announcement(8)
        long = engine.open_stream()
        long.feed(long_text)
        long.close()
        long_reply = asyncio.create_task(read_all(long))
        # Wait for a piece of seconds that has just started, while the announcement has audio
        # enough buffered to have it made again after a short reply (later pieces, as the
        # buffer grows faster than it plays).
        big: list[int] = []
        while not big and not long_reply.done():
            await asyncio.sleep(0.02)
            now = time.monotonic()
            big = [
                call
                for call, (tokens, started) in probe.running.items()
                if tokens >= 80
                and now - started < 0.2
                and (long.deadline - now) * 0.8 > engine.synthesizer.speed_model.estimate(tokens) + 1.0
            ]
        assert big, "no long continuation piece was made"
        assert samples(await collect(engine, "Lights off.")).size > 0
        # That piece was stopped for the short reply (not waited for), and started over after it.
        assert big[0] in probe.stopped
        assert engine.stats.preempted > 0
        pieces = await long_reply
        # The long reply lost nothing and repeated nothing: the same phonemes as its text's.
        units = phoneme_units(engine.frontend, long_text, "en-us")
        expected = " ".join(unit.phonemes for unit in units)
        assert " ".join(p.phonemes for p in pieces).split() == expected.split()
        assert probe.most == 1  # one inference at a time: the memory arena holds one


async def test_a_cached_first_piece_neither_waits_for_nor_stops_a_running_piece(engine: KokoroEngine) -> None:
    # Room for every piece of the announcement too: on a slow host it is cut into more, smaller
    # pieces, and with 8 places they pushed "Lights off." out before it was asked again.
    with probed(engine, cache_size=64) as probe:
        await collect(engine, "Lights off.")  # now cached
        long = engine.open_stream()
        long.feed(announcement(6))
        long.close()
        long_reply = asyncio.create_task(read_all(long))
        big: list[int] = []
        while not big and not long_reply.done():
            await asyncio.sleep(0.02)
            big = [call for call, (tokens, _) in probe.running.items() if tokens >= 80]
        assert big, "no long continuation piece was made"
        hits = engine.stats.cache_hits
        assert samples(await collect(engine, "Lights off.")).size > 0
        assert engine.stats.cache_hits == hits + 1
        assert big[0] in probe.running  # spoken while that piece ran on, not after it or instead of it
        assert samples(await long_reply).size > 0
        assert not probe.stopped


def test_release_memory_gives_the_arena_back_after_each_inference(engine: KokoroEngine) -> None:
    def rss_mb() -> float:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    ids = engine.frontend.tokenize(engine.frontend.phonemize("Hello, this is a test. " * 12, "en-us"))[:150]
    table = engine.voices.resolve("af_heart").table
    real_config = engine.config
    try:
        run_session(engine.synthesizer.session, ids, table, 1.0, engine.synthesizer.run_options())
        kept = rss_mb()  # the arena holds a long piece's working memory
        engine.synthesizer.config = real_config.model_copy(update={"release_memory": True})
        run_session(engine.synthesizer.session, ids, table, 1.0, engine.synthesizer.run_options())
        released = rss_mb()
    finally:
        engine.synthesizer.config = real_config
    assert released < kept - 50, (kept, released)


async def test_an_idle_engine_hands_its_working_memory_back(engine: KokoroEngine) -> None:
    """After a long reply the arena holds a long piece's working memory; once the engine has
    been idle a while it is given back."""

    def rss_mb() -> float:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    async for _ in engine.synthesize("Hello, this is a test of a rather longer piece of speech. " * 6):
        pass
    busy = rss_mb()
    await eventually(lambda: rss_mb() < busy - 50, f"memory handed back ({busy:.0f} MB when busy)")
    await engine.aclose()


async def test_cancel_drops_queued_work(engine: KokoroEngine) -> None:
    stream = engine.open_stream()
    stream.feed("This is a long reply. " * 30)
    stream.close()
    iterator = stream.__aiter__()
    await asyncio.wait_for(iterator.__anext__(), timeout=60)
    stream.cancel()
    assert [piece async for piece in iterator] == []
    assert stream not in engine.streams
    assert samples(await collect(engine, "Still working.")).size > 0


async def test_phrase_cache_serves_repeats_without_inference(engine: KokoroEngine) -> None:
    saved = engine.synthesizer.cache
    engine.synthesizer.cache = PhraseCache(8)
    try:
        first = samples(await collect(engine, "Turned off the porch light."))
        pieces_before, hits_before = engine.stats.pieces, engine.stats.cache_hits
        second = samples(await collect(engine, "Turned off the porch light."))
        assert np.array_equal(first, second)
        assert engine.stats.pieces == pieces_before
        assert engine.stats.cache_hits > hits_before
        other_speed = samples(await collect(engine, "Turned off the porch light.", speed=1.3))
        assert other_speed.size != first.size
    finally:
        engine.synthesizer.cache = saved


def test_phrase_cache_is_bounded_and_can_be_off() -> None:
    cache = PhraseCache(2)
    for n in range(3):
        cache.put((str(n), "v", 1.0, "m"), bytes([n]))
    assert cache.get(("0", "v", 1.0, "m")) is None
    assert cache.get(("2", "v", 1.0, "m")) == b"\x02"
    off = PhraseCache(0)
    off.put(("a", "v", 1.0, "m"), b"x")
    assert off.get(("a", "v", 1.0, "m")) is None


class BrokenGpuSession:
    """Stands in for a CUDA session whose device failed at run time (the rest of the stack is real)."""

    def __init__(self, real: object, together: int = 1) -> None:
        self.real = real
        self.calls = 0
        self.barrier = threading.Barrier(together)

    def get_inputs(self) -> object:
        return self.real.get_inputs()  # type: ignore[attr-defined]

    def run(self, *args: object, **kwargs: object) -> object:
        self.calls += 1
        with contextlib.suppress(threading.BrokenBarrierError):
            self.barrier.wait(timeout=20)
        raise RuntimeError("CUDA failure 999: unknown error")


async def test_cuda_failing_at_run_time_falls_back_to_cpu(engine: KokoroEngine) -> None:
    synth = engine.synthesizer
    real_session, real_device, real_config = synth.session, synth.device, engine.config
    broken = BrokenGpuSession(real_session)
    split, synth.split_model = synth.split_model, None  # a CUDA engine has no split model
    synth.session, synth.device = broken, "cuda"
    synth.config = real_config.model_copy(update={"device": "auto"})
    synth.cpu_session_factory = lambda: real_session
    try:
        audio = samples(await collect(engine, "Still speaking."))
        assert audio.size > 0 and broken.calls == 1
        assert synth.device == "cpu" and synth.session is real_session
    finally:
        synth.session, synth.device, synth.cpu_session_factory = real_session, real_device, None
        synth.config, synth.split_model = real_config, split


async def test_pieces_failing_side_by_side_on_the_gpu_switch_to_the_cpu_once(engine: KokoroEngine) -> None:
    synth = engine.synthesizer
    real_session, real_device, real_config = synth.session, synth.device, engine.config
    broken = BrokenGpuSession(real_session, together=2)  # fails once both pieces are running
    split, synth.split_model = synth.split_model, None
    synth.session, synth.device, synth.parallel = broken, "cuda", 2
    synth.config = real_config.model_copy(update={"device": "auto"})
    switches: list[int] = []
    synth.cpu_session_factory = lambda: switches.append(1) or real_session  # type: ignore[func-returns-value]
    try:
        replies = await asyncio.gather(collect(engine, "Still speaking."), collect(engine, "Me too."))
        assert all(samples(reply).size > 0 for reply in replies)
        assert broken.calls == 2 and switches == [1]  # both failed on the GPU; one switch
        assert synth.device == "cpu" and synth.session is real_session and synth.parallel == 1
    finally:
        synth.session, synth.device, synth.cpu_session_factory = real_session, real_device, None
        synth.config, synth.split_model, synth.parallel = real_config, split, 1


async def test_a_gpu_engine_runs_pieces_side_by_side_and_a_cpu_one_never(engine: KokoroEngine) -> None:
    assert engine.synthesizer.device == "cpu" and engine.synthesizer.parallel == 1
    split, engine.synthesizer.split_model = engine.synthesizer.split_model, None
    try:
        for parallel in (2, 1):
            engine.synthesizer.parallel = parallel
            with probed(engine, cache_size=0) as probe:
                texts = ["Turned on the kitchen lights.", "The garage door is closed.", "It is 9:45 PM."]
                replies = await asyncio.gather(*(collect(engine, text) for text in texts))
                assert all(samples(reply).size > 0 for reply in replies)
                assert probe.most == parallel
    finally:
        engine.synthesizer.split_model, engine.synthesizer.parallel = split, 1


async def test_inference_failure_fails_only_that_request(engine: KokoroEngine) -> None:
    from wyoming_kokoro.engine import EngineError

    real_session, split = engine.synthesizer.session, engine.synthesizer.split_model
    engine.synthesizer.session, engine.synthesizer.split_model = BrokenGpuSession(real_session), None
    try:
        with pytest.raises(EngineError, match="synthesis failed: CUDA failure 999"):
            await collect(engine, "This one fails.")
    finally:
        engine.synthesizer.session, engine.synthesizer.split_model = real_session, split
    assert samples(await collect(engine, "This one works.")).size > 0


async def test_a_client_that_stops_reading_holds_back_synthesis(engine: KokoroEngine) -> None:
    stream = engine.open_stream()
    stream.feed("The next sentence is one of many in a long reply. " * 12)
    stream.close()
    before = engine.stats.pieces
    for _ in range(1200):  # until the engine may do nothing more for this stream
        await asyncio.sleep(0.1)
        if not stream.in_flight and stream.unread >= 2:
            break
    await asyncio.sleep(0.5)
    # Two pieces of audio ahead (a first piece sent in two parts is two), not the whole text.
    assert stream.unread == 2
    assert engine.stats.pieces - before <= 2
    assert stream.units  # the rest waits for the reader
    pieces = [piece async for piece in stream]  # the reader comes back: everything arrives
    assert len(pieces) > 3


async def test_configured_and_inline_pronunciations_reach_the_model(engine: KokoroEngine) -> None:
    """The test config says "Kokoro" as /kˈOkəɹO/ and "gizmo" as "widget"."""
    said = " ".join(
        p.phonemes for p in await collect(engine, "Kokoro speaks. Say [tomato](/təmˈɑːtoʊ/) now.")
    )
    assert "kˈOkəɹO" in said.split() and "təmˈɑːtoʊ" in said.split()
    gizmo = " ".join(p.phonemes for p in await collect(engine, "Hand me the gizmo."))
    widget = " ".join(p.phonemes for p in await collect(engine, "Hand me the widget."))
    assert gizmo.split() == widget.split()
