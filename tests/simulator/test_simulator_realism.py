"""The simulator answers as the real service was recorded answering (../shared/REAL_REPLIES.md):
Pro's JPEG with its Content Credentials, signatures of real size, the model's own choice of
shape, the usage fields, answers in words, an empty content for NO_IMAGE, recorded replies
replayed verbatim, and waits as long as a real Pro call."""

from __future__ import annotations

import base64
import io
import json
import struct
import subprocess
import sys
import threading
import time
import urllib.request
from typing import Any

import pytest
from google.genai import types
from PIL import Image

from nb_banana.answer.credentials import Credentials
from nb_banana.answer.credentials import read as read_credentials
from nb_banana.simulator import Fault, Simulator, credentials, signatures
from nb_banana.simulator.endpoint import MAX_REQUEST_BYTES
from nb_banana.simulator.render import Scene, render_jpeg, reply_mime

from .conftest import sdk_client
from .test_simulator import (
    FLASH2,
    LITE,
    PRO,
    b64,
    follow_up,
    image_bytes,
    ok,
    post,
    prompt,
    rejected,
    reply_image,
    reply_parts,
)

IPTC_AI = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


# ---------------------------------------------------------------- a reader for the stand-in


def segments(jpeg: bytes) -> list[tuple[int, int, bytes]]:
    """The JPEG's marker segments before the scan: (offset, marker, payload)."""
    found, at = [], 2
    while jpeg[at] == 0xFF and jpeg[at + 1] != 0xDA:
        marker = jpeg[at + 1]
        (length,) = struct.unpack(">H", jpeg[at + 2 : at + 4])
        found.append((at, marker, jpeg[at + 4 : at + 2 + length]))
        at += 2 + length
    return found


def boxes(data: bytes) -> list[tuple[bytes, bytes]]:
    """The ISO BMFF boxes in ``data``: (type, payload)."""
    found, at = [], 0
    while at < len(data):
        (size,) = struct.unpack(">I", data[at : at + 4])
        found.append((data[at + 4 : at + 8], data[at + 8 : at + size]))
        at += size
    return found


def superbox(payload: bytes) -> tuple[str, list[tuple[bytes, bytes]]]:
    """A ``jumb`` box's label (from its ``jumd``) and its other boxes."""
    [(kind, description), *rest] = boxes(payload)
    assert kind == b"jumd"
    return description[17:].rstrip(b"\0").decode(), rest


def manifest(jpeg: bytes) -> dict[str, Any]:
    """Every JSON box of the c2pa manifest store, by label, and where the APP11 sits."""
    [(offset, _, payload)] = [s for s in segments(jpeg) if s[1] == credentials.APP11]
    assert payload[:2] == b"JP"
    [(kind, store)] = boxes(payload[8:])
    assert kind == b"jumb"
    found: dict[str, Any] = {"offset": offset, "length": 2 + 2 + len(payload)}

    def walk(children: list[tuple[bytes, bytes]], label: str) -> None:
        for child_kind, child in children:
            if child_kind == b"jumb":
                walk(*reversed(superbox(child)))
            elif child_kind == b"json":
                found[label] = json.loads(child)

    label, children = superbox(store)
    found["store"] = label
    walk(children, label)
    return found


# ---------------------------------------------------------------- pictures and credentials


def test_pro_answers_jpeg_and_the_other_models_png(sim):
    formats = {}
    for model in (PRO, FLASH2, LITE):
        reply = ok(sim, prompt("a lighthouse"), model=model)
        [blob] = [p["inlineData"] for p in reply_parts(reply) if "inlineData" in p]
        formats[model] = (blob["mimeType"], reply_image(reply).format)
    assert formats == {
        PRO: ("image/jpeg", "JPEG"),
        FLASH2: ("image/png", "PNG"),
        LITE: ("image/png", "PNG"),
    }
    assert reply_mime(PRO) == "image/jpeg" and reply_mime("gemini-4-flash-image") == "image/png"


def test_a_pro_jpeg_carries_content_credentials_the_c2pa_reader_verifies(client, sim):
    response = client.models.generate_content(model=PRO, contents="a lighthouse")
    [jpeg] = [p.inline_data.data for p in response.parts if p.inline_data]
    [(_, first, _), (_, second, _), *_] = segments(jpeg)
    assert (first, second) == (credentials.APP0, credentials.APP11)
    found = read_credentials(jpeg, "image/jpeg")
    assert found == Credentials("Google LLC", "Google C2PA Core Generator Library", True, "valid")


def stand_in_jpeg() -> bytes:
    """A Pro picture with the stand-in: what the simulator sends without c2pa-python."""
    return credentials.with_content_credentials(
        render_jpeg(Scene(640, 360, "a lighthouse", "pro · 16:9 · 1K · turn 1"))
    )


def test_the_stand_in_sits_right_after_app0_with_the_recorded_size():
    jpeg = stand_in_jpeg()
    [(_, first, _), (offset, second, _), *_] = segments(jpeg)
    assert (first, second) == (credentials.APP0, credentials.APP11)
    found = manifest(jpeg)
    assert found["offset"] == offset and found["length"] == 5990  # as recorded
    assert found["store"] == "c2pa"
    assert found["c2pa.claim"]["claim_generator"] == "Google C2PA Core Generator Library"
    assert found["c2pa.signature"]["issuer"] == "Google LLC"
    [action] = found["c2pa.actions.v2"]["actions"]
    assert action["digitalSourceType"] == IPTC_AI


def test_the_stand_in_binds_the_files_bytes_as_a_c2pa_data_hash_does():
    jpeg = stand_in_jpeg()
    binding = manifest(jpeg)["c2pa.hash.data"]
    [exclusion] = binding["exclusions"]
    assert exclusion == {"start": manifest(jpeg)["offset"], "length": 5990}

    def valid(data: bytes) -> bool:
        digest = credentials.data_hash(data, exclusion["start"], exclusion["length"])
        return base64.b64encode(digest).decode() == binding["hash"]

    assert binding["alg"] == "sha256" and valid(jpeg)
    changed = bytearray(jpeg)
    changed[-10] ^= 0xFF  # one byte of the picture
    assert not valid(bytes(changed))
    resaved = io.BytesIO()
    Image.open(io.BytesIO(jpeg)).save(resaved, "JPEG")  # what a re-encoding save does
    assert credentials.APP11 not in [marker for _, marker, _ in segments(resaved.getvalue())]


def test_insert_after_app0_puts_a_segment_after_jfif_or_after_soi():
    with_app0 = io.BytesIO()
    Image.new("RGB", (8, 8)).save(with_app0, "JPEG")
    jpeg = with_app0.getvalue()
    marked = credentials.insert_after_app0(jpeg, b"\xff\xeb\x00\x04AB")
    assert marked == jpeg[:20] + b"\xff\xeb\x00\x04AB" + jpeg[20:]
    bare = b"\xff\xd8" + jpeg[20:]  # no APP0
    assert credentials.insert_after_app0(bare, b"XY") == b"\xff\xd8XY" + jpeg[20:]
    with pytest.raises(ValueError, match="not a JPEG"):
        credentials.insert_after_app0(b"\x89PNG", b"XY")


# ---------------------------------------------------------------- thought signatures


def signature_chars(reply: dict[str, Any]) -> list[int]:
    return [len(p["thoughtSignature"]) for p in reply_parts(reply) if "thoughtSignature" in p]


def test_signatures_have_the_recorded_size_by_default():
    with Simulator() as sim:  # the tests' simulators shrink them; a new one does not
        assert signature_chars(ok(sim, prompt("a lighthouse"), model=PRO)) == [1_100_216] * 2
        assert signature_chars(ok(sim, prompt("a lighthouse"), model=FLASH2)) == [600_000] * 2


def test_a_real_size_history_goes_back_and_verifies_in_full(sim):
    sim.signature_bytes = None
    first = ok(sim, prompt("a lighthouse"), model=PRO)["candidates"][0]["content"]
    body = follow_up("a lighthouse", first, "at night")
    reply = ok(sim, body, model=PRO)
    assert reply_image(reply).format == "JPEG"
    assert sim.requests[-1].size > 2 * 1_100_000

    def with_signature(change) -> dict[str, Any]:
        edited = json.loads(json.dumps(body))
        part = edited["contents"][1]["parts"][1]
        part["thoughtSignature"] = change(part["thoughtSignature"])
        return edited

    cut = with_signature(lambda s: s[:-8])  # six bytes short
    assert rejected(sim, cut, model=PRO) == "Corrupted thought signature."
    flipped = with_signature(lambda s: s[:-100] + ("A" if s[-100] != "A" else "B") + s[-99:])
    assert rejected(sim, flipped, model=PRO) == "Corrupted thought signature."


def test_signatures_of_any_size_verify_after_the_size_changes(sim):
    sim.signature_bytes = 64
    first = ok(sim, prompt("a lighthouse"), model=PRO)["candidates"][0]["content"]
    assert [len(base64.b64decode(p["thoughtSignature"])) for p in first["parts"]] == [64, 64]
    sim.signature_bytes = 5000
    reply = ok(sim, follow_up("a lighthouse", first, "at night"), model=PRO)
    assert signature_chars(reply) == [len(b64(bytes(5000)))] * 2


def test_signatures_issued_by_earlier_simulators_still_verify(sim):
    """The 39-byte form (``nbsim1:`` + HMAC) that notebooks' saved chats hold."""
    image = image_bytes()
    old = signatures.sign(PRO, image, signatures.MIN_BYTES)
    assert len(old) == 39 and old.startswith(b"nbsim1:")
    content = {
        "role": "model",
        "parts": [
            {
                "inlineData": {"mimeType": "image/png", "data": b64(image)},
                "thoughtSignature": b64(old),
            }
        ],
    }
    ok(sim, follow_up("a cat", content, "bigger"), model=PRO)


def test_signature_size_is_set_in_python_over_http_and_refused_below_the_hmac(sim):
    with pytest.raises(ValueError, match="at least 39"):
        sim.signature_bytes = 10
    status, _, settings = post(sim, {"signature_bytes": 300}, path="/_simulator/settings")
    assert status == 200 and settings["signature_bytes"] == 300 == sim.signature_bytes
    assert signature_chars(ok(sim, prompt("a cat"), model=PRO)) == [400, 400]
    status, _, refused = post(sim, {"signature_bytes": 3}, path="/_simulator/settings")
    assert status == 400 and "at least 39" in refused["error"]["message"]
    status, _, settings = post(sim, {"signature_bytes": None}, path="/_simulator/settings")
    assert settings["signature_bytes"] is None and sim.signature_bytes is None


def test_the_command_line_takes_signature_size_and_per_model_latency():
    process = subprocess.Popen(
        [sys.executable, "-m", "nb_banana.simulator", "--signature-bytes", "120",
         "--model-latency", f"{PRO}=0.8", "--stream-seconds", "2.5"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        url = process.stdout.readline().split()[-1]
        with urllib.request.urlopen(url + "/_simulator/settings", timeout=10) as answer:
            settings = json.load(answer)
        assert settings == {"latency": 0.0, "model_latency": {PRO: 0.8}, "signature_bytes": 120,
                            "stream_seconds": 2.5}  # fmt: skip
        started = time.monotonic()
        request = urllib.request.Request(
            f"{url}/v1beta/models/{PRO}:generateContent",
            data=json.dumps(prompt("a cat")).encode(),
            headers={"x-goog-api-key": "k", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            reply = json.load(answer)
        assert time.monotonic() - started >= 0.8
        assert signature_chars(reply) == [160, 160]  # 120 bytes in base64
    finally:
        process.terminate()
        process.wait(timeout=10)


# ---------------------------------------------------------------- the model's choice of shape


def wide_png() -> bytes:
    return image_bytes(size=(1280, 480))  # 2.67:1


@pytest.mark.parametrize(
    ("model", "pixels"),
    [(FLASH2, (1584, 672)), (LITE, (1584, 672)), (PRO, (1584, 672))],
)
def test_an_edit_without_a_ratio_keeps_its_pictures_nearest_ratio(sim, model, pixels):
    reply = ok(sim, prompt("make it a night scene", wide_png()), model=model)
    assert reply_image(reply).size == pixels  # 21:9, the nearest of the model's ratios


def test_the_first_picture_of_the_latest_turn_decides_the_shape(sim):
    portrait, square = image_bytes(size=(480, 900)), image_bytes(size=(500, 500))
    reply = ok(sim, prompt("combine them", portrait, square), model=FLASH2)
    assert reply_image(reply).size == (768, 1376)  # 9:16


def test_a_picture_turned_by_its_exif_orientation_is_read_as_shown(sim):
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown portrait
    Image.new("RGB", (1200, 900), "red").save(out, "JPEG", exif=exif)
    reply = ok(sim, prompt("colour it", out.getvalue(), mime="image/jpeg"), model=FLASH2)
    assert reply_image(reply).size == (896, 1200)  # 3:4


def test_a_prompt_from_words_alone_is_square_and_1k(sim):
    assert reply_image(ok(sim, prompt("a lighthouse"), model=PRO)).size == (1024, 1024)


def test_an_asked_ratio_wins_over_the_pictures_shape(sim):
    body = prompt("make it a night scene", wide_png(), imageConfig={"aspectRatio": "1:1"})
    assert reply_image(ok(sim, body, model=FLASH2)).size == (1024, 1024)


def test_a_follow_up_without_pictures_keeps_the_shape_of_the_last_one(sim):
    first = ok(sim, prompt("make it a night scene", wide_png()), model=FLASH2)
    content = first["candidates"][0]["content"]
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "night"}, {"inlineData": {
                "mimeType": "image/png", "data": b64(wide_png())}}]},
            content,
            {"role": "user", "parts": [{"text": "add the moon"}]},
        ]
    }  # fmt: skip
    assert reply_image(ok(sim, body, model=FLASH2)).size == (1584, 672)


# ---------------------------------------------------------------- usage and identity


@pytest.mark.parametrize("model", [PRO, FLASH2, LITE])
def test_usage_counts_thoughts_and_itemises_only_the_image(client, sim, model):
    response = client.models.generate_content(model=model, contents="a lighthouse")
    usage = response.usage_metadata
    assert usage.thoughts_token_count > 0
    assert usage.total_token_count == (
        usage.prompt_token_count + usage.candidates_token_count + usage.thoughts_token_count
    )
    [detail] = usage.candidates_tokens_details
    assert detail.modality == types.MediaModality.IMAGE and detail.token_count == 1120
    assert usage.candidates_token_count > detail.token_count  # the text is counted, not listed
    assert response.model_version == model and response.response_id


# ---------------------------------------------------------------- answers in words


@pytest.mark.parametrize(
    "text",
    ["What is a lighthouse for?", "why do lighthouses have lenses",
     "Is the Brandaris the oldest lighthouse", "a lighthouse [sim:text-only]"],
)  # fmt: skip
def test_a_question_is_answered_in_words_only(client, sim, text):
    response = client.models.generate_content(model=PRO, contents=text)
    [candidate] = response.candidates
    assert candidate.finish_reason == types.FinishReason.STOP
    [part] = candidate.content.parts
    assert part.text and part.thought_signature and not part.inline_data
    assert response.usage_metadata.candidates_tokens_details is None


@pytest.mark.parametrize(
    "text", ["Can you draw a lighthouse?", "a lighthouse at dusk", "Make it night?"]
)
def test_a_prompt_that_asks_for_a_picture_is_drawn(client, sim, text):
    response = client.models.generate_content(model=PRO, contents=text)
    assert [p.inline_data.mime_type for p in response.parts if p.inline_data] == ["image/jpeg"]


def test_no_image_comes_with_an_empty_content(sim):
    sim.inject(Fault.finish("NO_IMAGE"))
    reply = ok(sim, prompt("a lighthouse"), model=PRO)
    [candidate] = reply["candidates"]
    assert candidate["content"] == {} and candidate["finishReason"] == "NO_IMAGE"


# ---------------------------------------------------------------- replaying recorded replies

RECORDED = {
    "candidates": [{"content": {}, "finishReason": "NO_IMAGE", "index": 0}],
    "usageMetadata": {"promptTokenCount": 12, "totalTokenCount": 110, "thoughtsTokenCount": 98},
    "modelVersion": "gemini-3-pro-image",
    "responseId": "recorded-1",
}


def test_a_replayed_reply_answers_the_next_request_verbatim(client, sim):
    sim.replay(RECORDED)
    assert ok(sim, prompt("a lighthouse"), model=PRO) == RECORDED
    assert ok(sim, prompt("a lighthouse"), model=PRO)["responseId"] != "recorded-1"


def test_a_replay_queued_over_http_answers_through_the_sdk(client, sim):
    status, _, queued = post(sim, {"reply": RECORDED, "times": 2}, path="/_simulator/replay")
    assert status == 200 and queued == {"queued": 2, "pending": 2}
    for _ in range(2):
        response = client.models.generate_content(model=PRO, contents="a lighthouse")
        assert response.candidates[0].finish_reason == types.FinishReason.NO_IMAGE
        assert response.response_id == "recorded-1"
    assert sim.faults == []


def test_a_replayed_reply_still_checks_the_request(sim):
    sim.replay(RECORDED)
    assert "aspect_ratio must be one of" in rejected(
        sim, prompt("a cat", imageConfig={"aspectRatio": "5:1"}), model=PRO
    )


# ---------------------------------------------------------------- long waits and big requests


def test_latency_can_be_set_per_model_over_http(sim):
    status, _, settings = post(
        sim, {"latency": 0, "model_latency": {PRO: 1.0}}, path="/_simulator/settings"
    )
    assert status == 200 and settings["model_latency"] == {PRO: 1.0}
    started = time.monotonic()
    ok(sim, prompt("a lighthouse"), model=LITE)
    lite = time.monotonic() - started
    started = time.monotonic()
    ok(sim, prompt("a lighthouse"), model=PRO)
    assert time.monotonic() - started >= 1.0 > lite


def test_a_minute_long_call_is_cut_by_the_clients_timeout_and_by_stop():
    with Simulator(model_latency={PRO: 60}) as sim:
        client = sdk_client(sim)
        started = time.monotonic()
        with pytest.raises(Exception, match=r"(?i)timed? ?out"):
            client.models.generate_content(
                model=PRO,
                contents="a lighthouse",
                config=types.GenerateContentConfig(http_options=types.HttpOptions(timeout=500)),
            )
        assert time.monotonic() - started < 5
        outcome: list[BaseException] = []

        def wait() -> None:
            try:
                post(sim, prompt("a lighthouse"), model=PRO)
            except OSError as error:  # the connection closes unanswered
                outcome.append(error)

        waiting = threading.Thread(target=wait, daemon=True)
        waiting.start()
        time.sleep(0.3)
        started = time.monotonic()
        sim.stop()
        waiting.join(timeout=10)
        assert not waiting.is_alive() and time.monotonic() - started < 5
        assert len(outcome) == 1


def test_the_request_limit_is_100_mib(sim):
    history = {"role": "model", "parts": [{"text": "x" * (30 * 2**20)}]}
    body = {"contents": [{"role": "user", "parts": [{"text": "a"}]}, history,
                         {"role": "user", "parts": [{"text": "b"}]}]}  # fmt: skip
    ok(sim, body, model=PRO)  # 30 MB: over the old 20 MB limit
    message = rejected(sim, b" " * (MAX_REQUEST_BYTES + 1), model=PRO)
    assert message == "Request payload size exceeds the limit: 104857600 bytes."
