"""nb_banana against replies in the shapes recorded from Google's API (tests/fixtures/).

Each fixture is read by the SDK (``GenerateContentResponse.model_validate``) and by
nb_banana's ``wire.parse_reply``, and replayed by the simulator over HTTP to
``nb_banana.generate`` and ``%%banana``, so what a user gets from a real reply is checked
end to end: Pro's JPEG kept byte for byte with its Content Credentials, a text-only answer
and a NO_IMAGE refusal as one line, a blocked prompt, search sources with an empty title,
and chats whose thought signatures are as big as real ones.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
from pathlib import Path
from typing import Any

import pytest
from google.genai import types
from IPython.core.error import UsageError

import nb_banana
from nb_banana.context import settings
from nb_banana.errors import ImageRefusedError, NoImageError, PromptBlockedError
from nb_banana.gemini import wire

from .cells import run
from .fixtures import replies as fixtures

PRO = "gemini-3-pro-image"
SIGNATURE_CHARS = 1_100_216  # a real Pro signature, in base64 characters


def sdk_reply(name: str) -> types.GenerateContentResponse:
    return types.GenerateContentResponse.model_validate(fixtures.load(name))


def fixture_jpeg() -> bytes:
    [part] = [p for p in fixtures.load("pro_jpeg_reply.json")["candidates"][0]["content"]["parts"]
              if "inlineData" in p]  # fmt: skip
    return base64.b64decode(part["inlineData"]["data"])


def signature(part: dict[str, Any]) -> bytes | None:
    value = part.get("thoughtSignature") or part.get("thought_signature")
    return base64.urlsafe_b64decode(value) if value else None


# ---------------------------------------------------------------- through the SDK and wire.py


def test_the_recorded_pro_reply_reads_as_a_signed_jpeg_with_its_usage():
    response = sdk_reply("pro_jpeg_reply.json")
    text, image = response.candidates[0].content.parts
    assert image.inline_data.mime_type == "image/jpeg"
    assert image.inline_data.data[:4] == b"\xff\xd8\xff\xe0"
    assert image.inline_data.data[20:22] == b"\xff\xeb"  # APP11 right after JFIF APP0
    assert text.thought_signature and image.thought_signature
    usage = response.usage_metadata
    assert (usage.candidates_token_count, usage.thoughts_token_count) == (1283, 174)
    assert usage.total_token_count == 14 + 1283 + 174
    [detail] = usage.candidates_tokens_details
    assert detail.modality == types.MediaModality.IMAGE and detail.token_count == 1120

    reply = wire.parse_reply(response)
    [out] = reply.images
    assert out.data == fixture_jpeg()  # the bytes as received, credentials included
    assert (out.mime_type, out.width, out.height) == ("image/jpeg", 176, 96)
    assert reply.usage.thought_tokens == 174 and reply.usage.total_tokens == 1471


@pytest.mark.parametrize(
    ("name", "error", "words"),
    [
        ("text_only_reply.json", NoImageError, "A lighthouse keeper tends the lamp"),
        ("no_image_reply.json", ImageRefusedError, "(NO_IMAGE)"),
        ("blocked_reply.json", PromptBlockedError, "(PROHIBITED_CONTENT)"),
    ],
)
def test_a_reply_without_a_picture_is_one_line_naming_what_came(name, error, words):
    with pytest.raises(error) as info:
        wire.parse_reply(sdk_reply(name))
    message = str(info.value)
    assert words in message and "\n" not in message


def test_no_image_arrives_with_an_empty_content():
    [candidate] = sdk_reply("no_image_reply.json").candidates
    assert candidate.content == types.Content() and candidate.content.parts is None


def test_a_search_source_without_a_title_is_named_by_its_link():
    reply = wire.parse_reply(sdk_reply("search_reply.json"))
    first, second = reply.grounding.sources
    assert first.title == first.uri and first.uri.startswith(
        "https://vertexaisearch.cloud.google.com/grounding-api-redirect/"
    )
    assert second.title == "wikipedia.org"
    assert reply.grounding.queries == ("", "Brandaris lighthouse")


# ---------------------------------------------------------------- replayed over HTTP


def test_a_replayed_pro_jpeg_is_kept_byte_for_byte_in_the_result_and_the_store(sim):
    sim.replay(fixtures.load("pro_jpeg_reply.json"))
    result = nb_banana.generate("the lighthouse keeper's story", model="pro")
    [out] = result.outputs
    jpeg = fixture_jpeg()
    assert out.data == jpeg and out.mime_type == "image/jpeg"
    digest = hashlib.sha256(jpeg).hexdigest()
    stored = list(Path(settings().store).rglob(f"{digest}*"))
    assert [path.read_bytes() for path in stored] == [jpeg]


@pytest.mark.parametrize(
    ("name", "error", "words"),
    [
        ("text_only_reply.json", NoImageError, "It said: “A lighthouse keeper"),
        ("no_image_reply.json", ImageRefusedError, "chose not to draw (NO_IMAGE)"),
        ("blocked_reply.json", PromptBlockedError, "blocked (PROHIBITED_CONTENT)"),
    ],
)
def test_a_replayed_reply_without_a_picture_reaches_the_user_as_one_line(sim, name, error, words):
    sim.replay(fixtures.load(name))
    with pytest.raises(error) as info:
        nb_banana.generate("what does a lighthouse keeper do?", model="pro")
    assert words in str(info.value) and "\n" not in str(info.value)


def test_a_question_in_a_cell_is_answered_in_words_and_said_in_one_line(ip, sim):
    with pytest.raises(UsageError) as info:
        run(ip, "-m pro", "What does a lighthouse keeper do?")
    message = str(info.value)
    assert message.startswith("The model answered without an image (STOP). It said: “(Sim")
    assert "\n" not in message
    assert len(sim.requests) == 1  # an answer in words is an answer: not retried


# ---------------------------------------------------------------- chats at the real size


def test_a_pro_chat_sends_real_size_signatures_back_byte_for_byte(ip, sim):
    sim.signature_bytes = None  # as Google: about 1.1 MB of base64 on each signed part
    run(ip, "-m pro -c keeper", "a lighthouse keeper at his desk")
    received = [ip.user_ns["_banana"].replies[0].content]
    sizes = [sim.requests[-1].size]
    for prompt in ("add a cat on the desk", "make it night"):
        run(ip, "-c keeper", prompt)
        sent = [c for c in sim.requests[-1].body["contents"] if c["role"] == "model"]
        assert len(sent) == len(received)
        for content, original in zip(sent, received, strict=True):
            for part, kept in zip(content["parts"], original.parts, strict=True):
                assert kept.thought_signature and len(kept.thought_signature) * 4 // 3 == (
                    SIGNATURE_CHARS
                )
                assert signature(part) == kept.thought_signature
        received.append(ip.user_ns["_banana"].replies[0].content)
        sizes.append(sim.requests[-1].size)
    growth = [later - earlier for earlier, later in itertools.pairwise(sizes)]
    # Each turn adds two signatures (text and image) of 1.1 MB, plus the JPEG and its text.
    assert all(2 * SIGNATURE_CHARS < grown < 2 * SIGNATURE_CHARS + 400_000 for grown in growth)


def test_a_chat_goes_on_after_a_recorded_reply_with_its_signatures(ip, sim):
    sim.replay(fixtures.at_real_size(fixtures.load("pro_jpeg_reply.json")))
    run(ip, "-m pro -c story", "the lighthouse keeper's story")
    assert ip.user_ns["_banana"].outputs[0].data == fixture_jpeg()
    run(ip, "-c story", "now in winter")
    [model_turn] = [c for c in sim.requests[-1].body["contents"] if c["role"] == "model"]
    recorded = fixtures.at_real_size(fixtures.load("pro_jpeg_reply.json"))
    expected = [signature(p) for p in recorded["candidates"][0]["content"]["parts"]]
    assert [signature(p) for p in model_turn["parts"]] == expected
    assert [len(base64.b64encode(s)) for s in expected] == [1_100_216, 1_098_588]
    assert ip.user_ns["_banana"].outputs[0].mime_type == "image/jpeg"
