"""The offline Gemini simulator on its own: raw HTTP with the reference's bodies, and the real SDK.

Everything talks to 127.0.0.1 only. The reference bodies are the curl examples of
/work/shared/nano-banana-api-reference.md; the SDK calls use the options nb_banana sends.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import io
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from google import genai
from google.genai import errors, types
from PIL import Image, UnidentifiedImageError

from nb_banana.gemini.models import resolve_model
from nb_banana.simulator import Fault, RecordedRequest, Simulator, shared
from nb_banana.simulator.rejections import Rejection
from nb_banana.simulator.replies import image_reply
from nb_banana.simulator.validate import read_request

from .conftest import KEY

LITE = "gemini-3.1-flash-lite-image"
FLASH2 = "gemini-3.1-flash-image"
PRO = "gemini-3-pro-image"
IMAGE_CONFIG = {"responseModalities": ["TEXT", "IMAGE"]}


# ---------------------------------------------------------------- fixtures and helpers


def image_bytes(colour: str = "red", size: tuple[int, int] = (64, 48), fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, fmt)
    return out.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def post(
    sim: Simulator,
    body: Any,
    *,
    model: str = LITE,
    version: str = "v1beta",
    key: str | None = KEY,
    path: str | None = None,
) -> tuple[int, dict[str, str], Any]:
    """POST raw JSON like the reference's curl examples; (status, headers, parsed body)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["x-goog-api-key"] = key
    url = sim.url + (path or f"/{version}/models/{model}:generateContent")
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw, status, got = response.read(), response.status, response.headers
    except urllib.error.HTTPError as error:
        raw, status, got = error.read(), error.code, error.headers
    return status, {k.lower(): v for k, v in got.items()}, json.loads(raw)


def ok(sim: Simulator, body: Any, **kwargs: Any) -> dict[str, Any]:
    status, _, reply = post(sim, body, **kwargs)
    assert status == 200, reply
    return reply


def rejected(sim: Simulator, body: Any, status: int = 400, **kwargs: Any) -> str:
    """The error message of a request that must fail with ``status`` in the API's shape."""
    got, headers, reply = post(sim, body, **kwargs)
    assert got == status, reply
    assert headers["content-type"].startswith("application/json")
    assert set(reply) == {"error"}
    assert reply["error"]["code"] == status
    assert reply["error"]["status"] == {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED"}.get(
        status, reply["error"]["status"]
    )
    return reply["error"]["message"]


def prompt(text: str, *images: bytes, mime: str = "image/png", **config: Any) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"text": text}]
    parts += [{"inline_data": {"mime_type": mime, "data": b64(data)}} for data in images]
    return {"contents": [{"parts": parts}], "generationConfig": {**IMAGE_CONFIG, **config}}


def reply_parts(reply: dict[str, Any]) -> list[dict[str, Any]]:
    return reply["candidates"][0]["content"]["parts"]


def reply_image(reply: dict[str, Any]) -> Image.Image:
    [data] = [p["inlineData"]["data"] for p in reply_parts(reply) if "inlineData" in p]
    return Image.open(io.BytesIO(base64.b64decode(data)))


def sdk_image(response: types.GenerateContentResponse) -> Image.Image:
    [data] = [p.inline_data.data for p in response.parts if p.inline_data]
    return Image.open(io.BytesIO(data))


def sdk_rejects(client: genai.Client, contents: Any, model: str = LITE, **config: Any) -> str:
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(
            model=model, contents=contents, config=types.GenerateContentConfig(**config)
        )
    assert info.value.code == 400 and info.value.status == "INVALID_ARGUMENT"
    return str(info.value.message)


def pro_turn(sim: Simulator, text: str = "Create a sunset beach scene") -> dict[str, Any]:
    """A first Pro turn over raw HTTP: the model content exactly as the API returned it."""
    return ok(sim, prompt(text), model=PRO)["candidates"][0]["content"]


def follow_up(first: str, model_content: dict[str, Any], then: str) -> dict[str, Any]:
    return {
        "contents": [
            {"role": "user", "parts": [{"text": first}]},
            model_content,
            {"role": "user", "parts": [{"text": then}]},
        ],
        "generationConfig": IMAGE_CONFIG,
    }


# ---------------------------------------------------------------- the reference's curl bodies


def test_reference_text_to_image_example_returns_a_png(sim):
    body = {
        "contents": [{"parts": [{"text": "A serene mountain lake at sunset"}]}],
        "generationConfig": {"responseModalities": ["TEXT", "IMAGE"]},
    }
    reply = ok(sim, body)
    candidate = reply["candidates"][0]
    assert candidate["finishReason"] == "STOP" and candidate["content"]["role"] == "model"
    text, image = candidate["content"]["parts"]
    assert "mountain lake" in text["text"]
    assert image["inlineData"]["mimeType"] == "image/png"
    assert reply_image(reply).size == (1024, 1024)
    assert reply_image(reply).format == "PNG"
    assert reply["modelVersion"] == LITE and reply["responseId"]


def test_reference_aspect_ratio_example_gives_16_9_pixels(sim):
    body = {
        "contents": [{"parts": [{"text": "Your prompt"}]}],
        "generationConfig": {
            "responseModalities": ["TEXT", "IMAGE"],
            "imageConfig": {"aspectRatio": "16:9"},
        },
    }
    assert reply_image(ok(sim, body)).size == (1376, 768)


def test_reference_editing_example_with_snake_case_inline_data_is_accepted(sim):
    body = {
        "contents": [
            {
                "parts": [
                    {"text": "Edit instructions here"},
                    {
                        "inline_data": {
                            "mime_type": "image/jpeg",
                            "data": b64(image_bytes(fmt="JPEG")),
                        }
                    },
                ]
            }
        ],
        "generationConfig": {"responseModalities": ["TEXT", "IMAGE"]},
    }
    details = ok(sim, body)["usageMetadata"]["promptTokensDetails"]
    assert {"modality": "IMAGE", "tokenCount": 1120} in details


def test_reference_multi_turn_example_is_accepted_by_lite(sim):
    first = ok(sim, prompt("Create a sunset beach scene"))
    body = follow_up(
        "Create a sunset beach scene",
        first["candidates"][0]["content"],
        "Add a sailboat on the horizon",
    )
    reply = ok(sim, body)
    assert reply_image(reply).size == (1024, 1024)
    assert "sailboat" in reply_parts(reply)[0]["text"]


def test_v1_and_v1beta_paths_are_both_served(sim):
    ok(sim, prompt("a cat"), version="v1")
    ok(sim, prompt("a cat"), version="v1beta")
    assert [r.api_version for r in sim.requests] == ["v1", "v1beta"]


# ---------------------------------------------------------------- keys, models and paths


def test_missing_key_is_403_like_the_api(sim):
    message = rejected(sim, prompt("a cat"), status=403, key=None)
    assert message.startswith("Method doesn't allow unregistered callers")


def test_wrong_key_is_400_api_key_invalid():
    with Simulator(api_key="the-right-key") as sim:
        status, _, reply = post(sim, prompt("a cat"), key="a-wrong-key")
        assert status == 400
        assert reply["error"]["message"] == "API key not valid. Please pass a valid API key."
        assert reply["error"]["details"][0]["reason"] == "API_KEY_INVALID"
        ok(sim, prompt("a cat"), key="the-right-key")


def test_key_in_the_query_string_is_accepted_and_redacted(sim):
    ok(sim, prompt("a cat"), key=None, path=f"/v1beta/models/{LITE}:generateContent?key=secret1")
    [recorded] = sim.requests
    assert "secret1" not in repr(recorded)
    assert recorded.path.endswith("?key=<redacted>")


def test_unknown_model_is_404_naming_the_api_version(sim):
    for version in ("v1", "v1beta"):
        message = rejected(
            sim, prompt("a cat"), status=404, model="gemini-9-ultra", version=version
        )
        assert message.startswith(f"models/gemini-9-ultra is not found for API version {version},")
        assert "Call ListModels" in message


def test_unknown_model_through_the_sdk_is_a_404_client_error(client, sim):
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(model="gemini-9-ultra", contents="a cat")
    assert info.value.code == 404 and info.value.status == "NOT_FOUND"


def test_unhandled_path_is_404_in_the_error_shape(sim):
    rejected(sim, prompt("a cat"), status=404, path=f"/v1beta/models/{LITE}:countTokens")
    rejected(sim, prompt("a cat"), status=404, path="/v2/nothing")


# ---------------------------------------------------------------- body structure


def test_malformed_json_body_is_400(sim):
    assert "Invalid JSON payload received" in rejected(sim, b'{"contents": [')


def test_missing_or_empty_contents_is_400(sim):
    assert "contents is not specified" in rejected(sim, {"generationConfig": IMAGE_CONFIG})
    assert "contents is not specified" in rejected(sim, {"contents": []})


def test_content_without_parts_is_400(sim):
    message = rejected(sim, {"contents": [{"role": "user", "parts": []}]})
    assert "contents[0].parts: contents.parts must not be empty" in message


def test_part_without_data_is_400(sim):
    message = rejected(sim, {"contents": [{"parts": [{"thought": True}]}]})
    assert "required oneof field 'data'" in message


def test_unknown_role_is_400(sim):
    assert "valid role" in rejected(
        sim, {"contents": [{"role": "system", "parts": [{"text": "x"}]}]}
    )


def test_unknown_top_level_field_is_400_like_the_api(sim):
    message = rejected(sim, {**prompt("a cat"), "foo": 1})
    assert message == 'Invalid JSON payload received. Unknown name "foo": Cannot find field.'


def test_unknown_generation_config_field_names_where_it_was(sim):
    message = rejected(sim, prompt("a cat", foo=1))
    assert message == (
        "Invalid JSON payload received. Unknown name \"foo\" at 'generation_config': "
        "Cannot find field."
    )


def test_unknown_image_config_field_is_400(sim):
    message = rejected(sim, prompt("a cat", imageConfig={"aspectRatio": "1:1", "quality": "hd"}))
    assert "Unknown name \"quality\" at 'generation_config.image_config'" in message


def test_misplaced_aspect_ratio_is_an_unknown_field(sim):
    message = rejected(sim, prompt("a cat", aspectRatio="16:9"))
    assert "Unknown name \"aspectRatio\" at 'generation_config'" in message


def test_wrong_value_type_is_400(sim):
    message = rejected(sim, prompt("a cat", imageConfig={"aspectRatio": 16}))
    assert "Invalid value at 'generation_config.image_config.aspect_ratio' (TYPE_STRING)" in message


def test_both_spellings_of_every_field_are_accepted(sim):
    body = {
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"text": "a cat"},
                    {"inline_data": {"mime_type": "image/png", "data": b64(image_bytes())}},
                    {"inlineData": {"mime_type": "image/png", "data": b64(image_bytes("blue"))}},
                ],
            }
        ],
        "generation_config": {
            "response_modalities": ["TEXT", "IMAGE"],
            "image_config": {"aspect_ratio": "4:3", "image_size": "2K"},
            "thinking_config": {"include_thoughts": True},
        },
        "tools": [{"google_search": {}}],
    }
    reply = ok(sim, body, model=PRO)
    assert reply_image(reply).size == (2400, 1792)
    assert reply_parts(reply)[0]["thought"] is True


def test_search_replies_carry_grounding_metadata_and_others_do_not(client, sim):
    def call(**config: object) -> types.GenerateContentResponse:
        return client.models.generate_content(
            model=PRO, contents="the weather in Oslo", config=types.GenerateContentConfig(**config)
        )

    grounded = call(tools=[types.Tool(google_search=types.GoogleSearch())])
    meta = grounded.candidates[0].grounding_metadata
    assert meta.web_search_queries == ["the weather in Oslo"]
    assert all(c.web.uri.startswith("https://example.com/") for c in meta.grounding_chunks)
    assert "Search suggestion (simulated)" in meta.search_entry_point.rendered_content
    assert call().candidates[0].grounding_metadata is None


def test_sdk_request_with_every_option_nb_banana_uses_is_accepted(client, sim):
    response = client.models.generate_content(
        model=PRO,
        contents=["a cat", Image.open(io.BytesIO(image_bytes()))],
        config=types.GenerateContentConfig(
            response_modalities=["TEXT", "IMAGE"],
            image_config=types.ImageConfig(aspect_ratio="16:9", image_size="2K"),
            tools=[types.Tool(google_search=types.GoogleSearch())],
            thinking_config=types.ThinkingConfig(include_thoughts=True),
        ),
    )
    assert sdk_image(response).size == (2752, 1536)
    assert response.parts[0].thought and "Google Search" in response.parts[0].text
    body = sim.requests[-1].body
    assert body is not None
    # Recorded exactly as sent: the SDK's camelCase/snake_case mix is kept.
    assert "mime_type" in body["contents"][0]["parts"][1]["inlineData"]
    assert body["generationConfig"]["thinkingConfig"] == {"include_thoughts": True}
    assert body["tools"] == [{"googleSearch": {}}]


# ---------------------------------------------------------------- generation options


def test_lowercase_size_is_rejected_like_the_api(client, sim):
    message = sdk_rejects(
        client, "a cat", model=PRO, image_config=types.ImageConfig(image_size="1k")
    )
    assert "image_size" in message and "upper-case 'K'" in message


def test_unknown_aspect_ratio_is_rejected_with_the_list(client, sim):
    message = sdk_rejects(client, "a cat", image_config=types.ImageConfig(aspect_ratio="7:3"))
    assert "aspect_ratio must be one of '1:1'" in message and "'21:9'" in message


def test_4k_on_lite_is_rejected(client, sim):
    message = sdk_rejects(client, "a cat", image_config=types.ImageConfig(image_size="4K"))
    assert "'4K' is not supported by gemini-3.1-flash-lite-image" in message


def test_google_search_on_lite_is_rejected(client, sim):
    tools = [types.Tool(google_search=types.GoogleSearch())]
    assert "Search Grounding is not supported" in sdk_rejects(client, "a cat", tools=tools)


def test_include_thoughts_on_a_model_without_thoughts_is_rejected():
    # No current model lacks thought summaries; the rule stays for one that would.
    spec = replace(resolve_model(LITE), thinking=False)
    body = {**prompt("a cat"), "generationConfig": {"thinkingConfig": {"includeThoughts": True}}}
    with pytest.raises(Rejection, match="Thinking is not supported"):
        read_request(body, spec, "v1beta")


def test_other_tools_are_rejected(sim):
    body = {**prompt("a cat"), "tools": [{"codeExecution": {}}]}
    assert "code_execution" in rejected(sim, body, model=PRO)


def test_unknown_response_modality_is_rejected(sim):
    message = rejected(sim, prompt("a cat", responseModalities=["TEXT", "PICTURE"]))
    assert "Invalid value at 'generation_config.response_modalities[1]'" in message
    assert "not supported" in rejected(sim, prompt("a cat", responseModalities=["AUDIO"]))


def test_response_modalities_are_read_case_insensitively(sim):
    reply = ok(sim, prompt("a cat", responseModalities=["Text", "Image"]))
    assert reply_image(reply).size == (1024, 1024)


def test_text_only_modality_answers_without_an_image(sim):
    reply = ok(sim, prompt("a cat", responseModalities=["TEXT"]))
    [part] = reply_parts(reply)
    assert "a cat" in part["text"]
    # The text's tokens are counted, but the details itemise IMAGE only, as recorded.
    assert reply["usageMetadata"]["candidatesTokenCount"] > 0
    assert "candidatesTokensDetails" not in reply["usageMetadata"]


def test_image_only_modality_answers_with_just_the_image(sim):
    reply = ok(sim, prompt("a cat", responseModalities=["IMAGE"]))
    [part] = reply_parts(reply)
    assert "inlineData" in part


def test_missing_modalities_answer_text_and_image(sim):
    reply = ok(sim, {"contents": [{"parts": [{"text": "a cat"}]}]})
    assert ["text" in p for p in reply_parts(reply)] == [True, False]


@pytest.mark.parametrize(
    ("model", "aspect", "size", "pixels"),
    [
        (LITE, "1:1", None, (1024, 1024)),
        (LITE, "21:9", None, (1584, 672)),
        (LITE, "3:4", "1K", (896, 1200)),
        (FLASH2, "9:16", "2K", (1536, 2752)),
        (PRO, "4:5", "1K", (928, 1152)),
        (PRO, "16:9", "4K", (5504, 3072)),
    ],
)
def test_sdk_image_has_the_model_pixel_size(client, sim, model, aspect, size, pixels):
    response = client.models.generate_content(
        model=model,
        contents="a lighthouse in a storm",
        config=types.GenerateContentConfig(
            response_modalities=["TEXT", "IMAGE"],
            image_config=types.ImageConfig(aspect_ratio=aspect, image_size=size),
        ),
    )
    image = sdk_image(response)
    image.load()
    assert image.size == pixels and image.format == ("JPEG" if model == PRO else "PNG")


# ---------------------------------------------------------------- input images


def test_gif_input_is_rejected(client, sim):
    gif = types.Part.from_bytes(data=image_bytes(fmt="GIF"), mime_type="image/gif")
    assert "Unsupported MIME type: image/gif" in sdk_rejects(client, ["a cat", gif])


def test_image_over_5_mb_is_rejected(client, sim):
    big = types.Part.from_bytes(data=b"\x89PNG\r\n\x1a\n" + bytes(6 * 2**20), mime_type="image/png")
    assert "the limit is 5 MB" in sdk_rejects(client, ["a cat", big])


def test_invalid_base64_is_rejected(sim):
    body = prompt("a cat")
    body["contents"][0]["parts"].append({"inlineData": {"mimeType": "image/png", "data": "no!t"}})
    message = rejected(sim, body)
    assert "(TYPE_BYTES), Base64 decoding failed" in message


def test_url_safe_base64_is_accepted(sim):
    data = image_bytes("orange")
    body = prompt("a cat")
    body["contents"][0]["parts"].append(
        {"inlineData": {"mimeType": "image/png", "data": base64.urlsafe_b64encode(data).decode()}}
    )
    ok(sim, body)


def test_undecodable_input_image_is_rejected(sim):
    assert "Unable to process input image" in rejected(sim, prompt("a cat", b"not an image"))


def test_too_many_input_images_are_rejected(client, sim):
    fifteen = [types.Part.from_bytes(data=image_bytes(), mime_type="image/png")] * 15
    assert "accepts at most 14" in sdk_rejects(client, ["a cat", *fifteen])
    assert "accepts at most 14" in sdk_rejects(client, ["a cat", *fifteen], model=PRO)


def test_only_the_latest_user_turn_counts_towards_the_image_limit(sim):
    ten = [image_bytes(c) for c in ("red", "green", "blue", "white", "black") * 2]
    first = ok(sim, prompt("ten things", *ten))
    body = follow_up("x", first["candidates"][0]["content"], "now again")
    body["contents"][0]["parts"] += prompt("", *ten)["contents"][0]["parts"][1:]
    body["contents"][2]["parts"] += prompt("", *ten)["contents"][0]["parts"][1:]
    ok(sim, body)


def test_edits_visibly_use_the_input_images(sim):
    plain = reply_image(ok(sim, prompt("make it pop")))
    edited = reply_image(ok(sim, prompt("make it pop", image_bytes("red", (200, 200)))))
    red = count_pixels(edited, (255, 0, 0))
    assert red > 1000 and count_pixels(plain, (255, 0, 0)) == 0


def count_pixels(image: Image.Image, colour: tuple[int, int, int]) -> int:
    return int(np.all(np.asarray(image.convert("RGB")) == colour, axis=-1).sum())


def test_follow_up_turn_builds_on_the_previous_image(sim):
    first = ok(sim, prompt("a red barn"))
    again = ok(sim, follow_up("a red barn", first["candidates"][0]["content"], "add snow"))
    fresh = ok(sim, prompt("add snow"))
    assert reply_image(again).tobytes() != reply_image(fresh).tobytes()
    assert "updated" in reply_parts(again)[0]["text"]


# ---------------------------------------------------------------- thought signatures


def test_pro_signs_the_first_answer_part_and_every_image(sim):
    reply = ok(sim, prompt("a cat", thinkingConfig={"includeThoughts": True}), model=PRO)
    parts = reply_parts(reply)
    thoughts = [p for p in parts if p.get("thought")]
    answer = [p for p in parts if not p.get("thought")]
    assert thoughts and all("thoughtSignature" not in p for p in thoughts)
    assert all("thoughtSignature" in p for p in answer)
    assert reply["usageMetadata"]["thoughtsTokenCount"] > 0


def test_a_model_without_signatures_signs_nothing():
    # Every current model signs; the rule stays for one that would not.
    spec = replace(resolve_model(LITE), signatures=False)
    reply = image_reply(read_request(prompt("a cat"), spec, "v1beta"))
    assert all("thoughtSignature" not in p for p in reply_parts(reply))


def test_pro_history_with_its_signatures_is_accepted(sim):
    content = pro_turn(sim)
    ok(sim, follow_up("Create a sunset beach scene", content, "Add a sailboat"), model=PRO)


def test_missing_thought_signature_is_rejected(sim):
    content = pro_turn(sim)
    del content["parts"][1]["thoughtSignature"]
    message = rejected(sim, follow_up("Create a sunset beach scene", content, "more"), model=PRO)
    assert message.startswith(
        "Image part is missing a thought_signature in content position 2, part position 2."
    )


def test_corrupted_signature_is_rejected_when_the_image_was_re_encoded(sim):
    content = pro_turn(sim)
    image = content["parts"][1]["inlineData"]
    out = io.BytesIO()
    Image.open(io.BytesIO(base64.b64decode(image["data"]))).save(out, "PNG", compress_level=9)
    image["data"] = b64(out.getvalue())
    message = rejected(sim, follow_up("Create a sunset beach scene", content, "more"), model=PRO)
    assert message == "Corrupted thought signature."


def test_corrupted_signature_is_rejected_when_the_text_was_edited(sim):
    content = pro_turn(sim)
    content["parts"][0]["text"] += " (edited)"
    message = rejected(sim, follow_up("Create a sunset beach scene", content, "more"), model=PRO)
    assert message == "Corrupted thought signature."


def test_signature_from_another_model_is_rejected(sim):
    content = pro_turn(sim)
    message = rejected(sim, follow_up("x", content, "more"), model=FLASH2)
    assert message == "Corrupted thought signature."


def test_sdk_chat_sends_signatures_back_and_is_accepted(client, sim):
    chat = client.chats.create(
        model=PRO, config=types.GenerateContentConfig(response_modalities=["TEXT", "IMAGE"])
    )
    for text in ("Create a mountain landscape", "Add a cabin", "Change to winter"):
        response = chat.send_message(text)
        assert response.parts[-1].thought_signature
    body = sim.requests[-1].body
    assert body is not None
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user", "model", "user"]
    assert all("thoughtSignature" in p for p in body["contents"][3]["parts"])


# ---------------------------------------------------------------- usage and determinism


def test_usage_follows_the_published_token_figures(sim):
    lite = ok(sim, prompt("12345678", image_bytes()))["usageMetadata"]
    assert lite["promptTokensDetails"] == [
        {"modality": "TEXT", "tokenCount": 2},
        {"modality": "IMAGE", "tokenCount": 1120},
    ]
    assert {"modality": "IMAGE", "tokenCount": 1120} in lite["candidatesTokensDetails"]
    flash = ok(sim, prompt("x", imageConfig={"imageSize": "4K"}), model=FLASH2)["usageMetadata"]
    assert {"modality": "IMAGE", "tokenCount": 2520} in flash["candidatesTokensDetails"]
    pro = ok(sim, prompt("x", image_bytes(), imageConfig={"imageSize": "4K"}), model=PRO)
    usage = pro["usageMetadata"]
    assert {"modality": "IMAGE", "tokenCount": 560} in usage["promptTokensDetails"]
    assert {"modality": "IMAGE", "tokenCount": 2000} in usage["candidatesTokensDetails"]
    assert usage["totalTokenCount"] == (
        usage["promptTokenCount"] + usage["candidatesTokenCount"] + usage["thoughtsTokenCount"]
    )


def test_repeats_of_a_request_are_new_takes_and_every_run_draws_the_same_ones(client, sim):
    def call() -> types.GenerateContentResponse:
        return client.models.generate_content(
            model=FLASH2,
            contents="a teapot",
            config=types.GenerateContentConfig(
                response_modalities=["TEXT", "IMAGE"],
                image_config=types.ImageConfig(aspect_ratio="3:2", image_size="1K"),
            ),
        )

    first, second = call(), call()
    assert first.parts[-1].inline_data.data != second.parts[-1].inline_data.data
    assert first.response_id != second.response_id
    assert first.text == "Here is your image of “a teapot”."
    assert second.text == "Here is take 2 of “a teapot”."
    sim.reset()
    again = call()
    assert again.parts[-1].inline_data.data == first.parts[-1].inline_data.data
    assert again.response_id == first.response_id
    other = client.models.generate_content(model=FLASH2, contents="a kettle")
    assert other.parts[-1].inline_data.data != first.parts[-1].inline_data.data


# ---------------------------------------------------------------- faults


@pytest.mark.parametrize(
    ("status", "name"),
    [
        (400, "INVALID_ARGUMENT"),
        (401, "UNAUTHENTICATED"),
        (403, "PERMISSION_DENIED"),
        (404, "NOT_FOUND"),
        (429, "RESOURCE_EXHAUSTED"),
        (500, "INTERNAL"),
        (503, "UNAVAILABLE"),
    ],
)
def test_http_fault_uses_the_google_status_name(sim, status, name):
    sim.inject(Fault.http(status))
    got, headers, reply = post(sim, prompt("a cat"))
    assert got == status and reply["error"]["status"] == name and reply["error"]["message"]
    assert "retry-after" not in headers


def test_http_fault_with_retry_after_sends_the_header(client, sim):
    sim.inject(Fault.http(429, "Quota exceeded.", retry_after=30))
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(model=LITE, contents="a cat")
    assert info.value.code == 429 and info.value.message == "Quota exceeded."
    assert info.value.response.headers["retry-after"] == "30"
    assert info.value.details["error"]["details"][0]["retryDelay"] == "30s"


def test_http_fault_needs_an_error_status():
    with pytest.raises(ValueError):
        Fault.http(200)


def test_fault_is_consumed_times_then_replies_resume(sim):
    sim.inject(Fault.http(503), times=2)
    assert [post(sim, prompt("a cat"))[0] for _ in range(3)] == [503, 503, 200]


def test_faults_queue_first_in_first_out(sim):
    sim.inject(Fault.http(429))
    sim.inject(Fault.block())
    assert post(sim, prompt("a cat"))[0] == 429
    assert "promptFeedback" in ok(sim, prompt("a cat"))
    assert "candidates" in ok(sim, prompt("a cat"))


def test_reply_shaped_fault_still_needs_a_valid_request(sim):
    sim.inject(Fault.block())
    rejected(sim, prompt("a cat", imageConfig={"imageSize": "1k"}))
    assert sim.faults == []


def test_slow_fault_waits_then_answers(sim):
    sim.inject(Fault.slow(0.4))
    started = time.monotonic()
    ok(sim, prompt("a cat"))
    assert time.monotonic() - started >= 0.4


def test_slow_fault_outlasts_a_client_timeout(sim):
    impatient = genai.Client(
        api_key=KEY,
        http_options=types.HttpOptions(
            base_url=sim.url, timeout=300, retry_options=types.HttpRetryOptions(attempts=1)
        ),
    )
    sim.inject(Fault.slow(2))
    with pytest.raises(Exception) as info:
        impatient.models.generate_content(model=LITE, contents="a cat")
    assert "Timeout" in type(info.value).__name__


def test_latency_is_added_to_every_reply(sim):
    sim.latency = 0.3
    started = time.monotonic()
    rejected(sim, {"contents": []})
    ok(sim, prompt("a cat"))
    assert time.monotonic() - started >= 0.6


def test_block_fault_has_no_candidates_and_a_block_reason(client, sim):
    sim.inject(Fault.block("PROHIBITED_CONTENT"))
    response = client.models.generate_content(model=LITE, contents="a cat")
    assert not response.candidates
    assert response.prompt_feedback.block_reason == types.BlockedReason.PROHIBITED_CONTENT


@pytest.mark.parametrize(
    "reason",
    ["IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION", "IMAGE_OTHER", "NO_IMAGE",
     "MISSING_THOUGHT_SIGNATURE", "SAFETY"],
)  # fmt: skip
def test_finish_fault_is_one_candidate_with_that_reason_and_no_parts(client, sim, reason):
    sim.inject(Fault.finish(reason))
    response = client.models.generate_content(model=PRO, contents="a cat")
    [candidate] = response.candidates
    assert candidate.finish_reason.value == reason
    # A recorded NO_IMAGE reply holds "content": {}: no parts and no role.
    assert candidate.content == types.Content()


def test_text_only_fault_answers_text_without_an_image(client, sim):
    sim.inject(Fault.text_only("I would rather describe it."))
    response = client.models.generate_content(model=LITE, contents="a cat")
    assert response.text == "I would rather describe it."
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    assert not any(p.inline_data for p in response.parts)


def test_empty_candidates_fault(sim):
    sim.inject(Fault.empty_candidates())
    reply = ok(sim, prompt("a cat"))
    assert reply["candidates"] == [] and "promptFeedback" not in reply
    assert reply["usageMetadata"]["promptTokenCount"] > 0


def test_malformed_json_fault_is_200_with_a_body_that_is_not_json(sim):
    sim.inject(Fault.malformed_json())
    request = urllib.request.Request(
        f"{sim.url}/v1beta/models/{LITE}:generateContent",
        data=json.dumps(prompt("a cat")).encode(),
        headers={"x-goog-api-key": KEY},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(response.read())


def test_drop_fault_sends_part_of_the_body_then_closes(sim):
    sim.inject(Fault.drop())
    connection = http.client.HTTPConnection("127.0.0.1", int(sim.url.rsplit(":", 1)[1]), timeout=10)
    connection.request(
        "POST",
        f"/v1beta/models/{LITE}:generateContent",
        body=json.dumps(prompt("a cat")),
        headers={"x-goog-api-key": KEY},
    )
    response = connection.getresponse()
    assert response.status == 200 and int(response.headers["content-length"]) > 0
    with pytest.raises(http.client.IncompleteRead):
        response.read()
    connection.close()


def test_bad_image_fault_sends_bytes_that_do_not_decode(client, sim):
    sim.inject(Fault.bad_image())
    response = client.models.generate_content(model=LITE, contents="a cat")
    [data] = [p.inline_data.data for p in response.parts if p.inline_data]
    with pytest.raises(UnidentifiedImageError):
        Image.open(io.BytesIO(data))


def test_clear_faults_and_reset(sim):
    sim.inject(Fault.http(500), times=3)
    sim.clear_faults()
    ok(sim, prompt("a cat"))
    sim.inject(Fault.http(500))
    sim.reset()
    assert sim.requests == [] and sim.faults == []


# ---------------------------------------------------------------- recording and control surface


def test_requests_are_recorded_in_order_with_the_key_redacted(client, sim):
    client.models.generate_content(model=LITE, contents="first")
    post(sim, prompt("second"), key="raw-secret-key")
    first, second = sim.requests
    assert isinstance(first, RecordedRequest)
    assert (first.method, first.model, first.api_version) == ("POST", LITE, "v1")
    assert first.path == f"/v1/models/{LITE}:generateContent"
    assert first.headers["x-goog-api-key"] == "<redacted>"
    assert first.body == {"contents": [{"parts": [{"text": "first"}], "role": "user"}]}
    assert first.size == int(first.headers["content-length"]) > 0
    assert second.body == prompt("second") and second.api_version == "v1beta"
    assert KEY not in repr(sim.requests) and "raw-secret-key" not in repr(sim.requests)


def control(sim: Simulator, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(sim.url + path, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_control_surface_queues_faults_over_http(sim):
    fault = {"kind": "http", "status": 429, "retry_after": 1, "times": 2}
    assert control(sim, "POST", "/_simulator/faults", fault) == (200, {"queued": 2, "pending": 2})
    first, second = post(sim, prompt("a cat")), post(sim, prompt("a cat"))
    assert [first[0], second[0]] == [429, 429] and first[1]["retry-after"] == "1"
    assert post(sim, prompt("a cat"))[0] == 200


def test_control_surface_lists_and_clears(sim):
    control(sim, "POST", "/_simulator/faults", {"kind": "slow", "seconds": 0.1})
    assert control(sim, "GET", "/_simulator/faults") == (200, [{"kind": "slow", "seconds": 0.1}])
    assert control(sim, "DELETE", "/_simulator/faults") == (200, {"pending": 0})
    post(sim, prompt("a cat"), key="control-secret")
    status, recorded = control(sim, "GET", "/_simulator/requests")
    assert status == 200 and len(recorded) == 1
    assert recorded[0]["headers"]["x-goog-api-key"] == "<redacted>"
    assert "control-secret" not in json.dumps(recorded)
    assert control(sim, "DELETE", "/_simulator/requests") == (200, {"requests": 0})
    assert sim.requests == []


def test_control_surface_refuses_unknown_faults(sim):
    assert control(sim, "POST", "/_simulator/faults", {"kind": "explode"})[0] == 400
    assert control(sim, "POST", "/_simulator/faults", {"kind": "drop", "status": 1})[0] == 400
    assert control(sim, "GET", "/_simulator/nothing")[0] == 404


# ---------------------------------------------------------------- the server itself


def test_keep_alive_serves_several_requests_on_one_connection(sim):
    connection = http.client.HTTPConnection("127.0.0.1", int(sim.url.rsplit(":", 1)[1]), timeout=10)
    sockets = set()
    for text in ("one", "two", "three"):
        connection.request(
            "POST",
            f"/v1beta/models/{LITE}:generateContent",
            body=json.dumps(prompt(text)),
            headers={"x-goog-api-key": KEY},
        )
        response = connection.getresponse()
        assert response.status == 200
        response.read()
        sockets.add(id(connection.sock))
    connection.close()
    assert len(sockets) == 1


def test_chunked_request_body_is_read(sim):
    connection = http.client.HTTPConnection("127.0.0.1", int(sim.url.rsplit(":", 1)[1]), timeout=10)
    body = json.dumps(prompt("a chunked cat")).encode()
    connection.request(
        "POST",
        f"/v1beta/models/{LITE}:generateContent",
        body=iter([body[:10], body[10:]]),
        headers={"x-goog-api-key": KEY, "Transfer-Encoding": "chunked"},
        encode_chunked=True,
    )
    response = connection.getresponse()
    assert response.status == 200, response.read()
    response.read()
    connection.close()
    assert sim.requests[-1].body == prompt("a chunked cat")


def test_record_limit_keeps_only_recent_requests():
    with Simulator(record_limit=2) as sim:
        for text in ("one", "two", "three"):
            ok(sim, prompt(text))
        assert [r.body["contents"][0]["parts"][0]["text"] for r in sim.requests] == ["two", "three"]


def test_async_calls_run_concurrently(client, sim):
    sim.latency = 0.4

    async def four() -> list[types.GenerateContentResponse]:
        calls = [
            client.aio.models.generate_content(model=LITE, contents=f"cat {i}") for i in range(4)
        ]
        return await asyncio.gather(*calls)

    started = time.monotonic()
    responses = asyncio.run(four())
    assert len({r.response_id for r in responses}) == 4
    assert time.monotonic() - started < 1.4  # one after another would take 1.6 s


def test_stop_frees_the_port():
    sim = Simulator().start()
    port = int(sim.url.rsplit(":", 1)[1])
    sim.stop()
    sim.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)


def test_stop_ends_a_slow_reply_at_once():
    sim = Simulator().start()
    sim.inject(Fault.slow(30))
    connection = http.client.HTTPConnection("127.0.0.1", int(sim.url.rsplit(":", 1)[1]), timeout=10)
    connection.request("POST", f"/v1beta/models/{LITE}:generateContent", body="{}")
    time.sleep(0.2)
    started = time.monotonic()
    sim.stop()
    assert time.monotonic() - started < 3
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        connection.getresponse()


def test_shared_is_one_running_simulator_per_process():
    first = shared()
    assert shared() is first and first.running
    ok(first, prompt("a cat"))


def test_command_line_prints_the_url_and_the_export_line():
    process = subprocess.Popen(
        [sys.executable, "-m", "nb_banana.simulator", "--latency", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        export = process.stdout.readline().strip()
        url = export.removeprefix("export GOOGLE_GEMINI_BASE_URL=")
        assert export.startswith("export GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:")
        assert url in first
        request = urllib.request.Request(
            f"{url}/v1beta/models/{LITE}:generateContent",
            data=json.dumps(prompt("a cat")).encode(),
            headers={"x-goog-api-key": KEY},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_rendering_a_4k_image_stays_quick(sim):
    body = prompt("a wide panorama", imageConfig={"aspectRatio": "16:9", "imageSize": "4K"})
    ok(sim, body, model=PRO)  # warm up fonts and imports
    started = time.monotonic()
    ok(
        sim,
        prompt("another wide panorama", imageConfig={"aspectRatio": "16:9", "imageSize": "4K"}),
        model=PRO,
    )
    assert time.monotonic() - started < 3


def test_a_scene_asked_again_is_not_drawn_again(sim, monkeypatch):
    """The bench draws its pictures before it times, and tests repeat prompts: an equal
    scene is handed out from the pictures drawn lately, byte for byte, without drawing."""
    from nb_banana.simulator import render

    drawn = []
    real = render.render_png
    monkeypatch.setattr(render, "render_png", lambda scene: drawn.append(scene) or real(scene))
    body = prompt("a lighthouse that is drawn once, asked twice")

    def image_of(reply: dict[str, Any]) -> str:
        [data] = [p["inlineData"]["data"] for p in reply_parts(reply) if "inlineData" in p]
        return data

    first = image_of(ok(sim, body))
    sim.reset()  # the next request is a first take again: the same scene
    second = image_of(ok(sim, body))
    assert first == second
    assert len(drawn) == 1
    third = image_of(ok(sim, body))  # a second take: its own colours, drawn
    assert third != first and len(drawn) == 2


def test_the_pictures_kept_stay_under_their_limit():
    from nb_banana.simulator.render import PNG, Scene, _Drawn

    kept = _Drawn(limit=1000)
    scenes = [(Scene(8, 8, f"p{i}", "label", inputs=(b"x" * 100,)), PNG) for i in range(12)]
    for key in scenes:
        kept.put(key, b"y" * 200)  # 300 bytes each, the reference counted
    assert [kept.get(key) is not None for key in scenes] == [False] * 9 + [True] * 3
    kept.put((Scene(8, 8, "huge", "label"), PNG), b"z" * 2000)  # bigger than all: not kept
    assert kept.get(scenes[-1]) is not None
