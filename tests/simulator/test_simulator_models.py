"""The simulator follows the model table: what it lists, what it serves, and each model's limits.

Everything goes through the real google-genai SDK (its list pager, its error classes, its
typed grounding), except where a test needs a raw request the SDK would not send.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import math
import urllib.error
import urllib.request
from typing import Any

import pytest
from google import genai
from google.genai import errors, types
from PIL import Image

from nb_banana.gemini.models import current_models
from nb_banana.simulator import Simulator
from nb_banana.simulator.signatures import sign_b64

from .conftest import KEY

LITE = "gemini-3.1-flash-lite-image"
FLASH = "gemini-3.1-flash-image"
PRO = "gemini-3-pro-image"
FUTURE = "gemini-4-flash-image"
SHUT_DOWN = (
    "gemini-3-pro-image-preview",
    "gemini-3.1-flash-image-preview",
    "gemini-2.5-flash-image",
)


def expected_ids() -> list[str]:
    return ["gemini-3-flash", *(m.id for m in current_models()), FUTURE, "imagen-4.0-generate-001"]


def get(sim: Simulator, path: str, key: str | None = KEY) -> tuple[int, Any]:
    """A raw GET; (status, parsed JSON body)."""
    headers = {"x-goog-api-key": key} if key is not None else {}
    request = urllib.request.Request(sim.url + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def post(sim: Simulator, model: str, body: dict[str, Any]) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"{sim.url}/v1beta/models/{model}:generateContent",
        data=json.dumps(body).encode(),
        headers={"x-goog-api-key": KEY, "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def generate(client: genai.Client, model: str, **config: Any) -> types.GenerateContentResponse:
    return client.models.generate_content(
        model=model, contents="a lighthouse", config=types.GenerateContentConfig(**config)
    )


def refusal(client: genai.Client, model: str, code: int = 400, **config: Any) -> str:
    with pytest.raises(errors.ClientError) as info:
        generate(client, model, **config)
    assert info.value.code == code
    return str(info.value.message)


def picture(response: types.GenerateContentResponse) -> Image.Image:
    [data] = [p.inline_data.data for p in response.parts if p.inline_data and not p.thought]
    return Image.open(io.BytesIO(data))


def search(*kinds: str) -> list[types.Tool]:
    chosen = types.SearchTypes(
        web_search=types.WebSearch() if "web" in kinds else None,
        image_search=types.ImageSearch() if "image" in kinds else None,
    )
    return [types.Tool(google_search=types.GoogleSearch(search_types=chosen))]


# ---------------------------------------------------------------- models.list and models.get


def test_list_pages_through_every_model_and_each_page_is_a_request(client, sim):
    names = [model.name for model in client.models.list(config={"page_size": 2})]
    assert names == [f"models/{model_id}" for model_id in expected_ids()]
    pages = [r for r in sim.requests if r.method == "GET"]
    assert len(pages) == math.ceil(len(names) / 2) > 1
    assert all(r.path.startswith("/v1/models?pageSize=2") for r in pages)
    assert "pageToken=" not in pages[0].path and all("pageToken=" in r.path for r in pages[1:])


def test_async_list_pages_too(client, sim):
    async def names() -> list[str]:
        pager = await client.aio.models.list(config={"page_size": 4})
        return [model.name async for model in pager]

    assert asyncio.run(names()) == [f"models/{model_id}" for model_id in expected_ids()]
    assert len(sim.requests) == math.ceil(len(expected_ids()) / 4)


def test_list_holds_no_shut_down_model(client, sim):
    names = {model.name for model in client.models.list()}
    assert not names & {f"models/{model_id}" for model_id in SHUT_DOWN}
    assert len(sim.requests) == 1  # 50 per page by default: one page holds them all


def test_list_entries_have_the_api_model_shape(sim):
    status, body = get(sim, "/v1beta/models")
    assert status == 200 and "nextPageToken" not in body
    entry = next(m for m in body["models"] if m["name"] == f"models/{FLASH}")
    assert entry["displayName"] == "Nano Banana 2" and entry["version"]
    assert entry["supportedGenerationMethods"] == [
        "generateContent",
        "countTokens",
        "batchGenerateContent",
    ]
    assert entry["inputTokenLimit"] > 0 and entry["outputTokenLimit"] > 0
    assert entry["thinking"] is True


def test_sdk_reads_the_future_model_from_models_get(client, sim):
    model = client.models.get(model=FUTURE)
    assert model.name == f"models/{FUTURE}"
    assert model.display_name == "Nano Banana 4 (simulated future model)"
    assert "generateContent" in model.supported_actions and model.thinking
    [request] = sim.requests
    assert (request.method, request.api_version, request.model) == ("GET", "v1", FUTURE)


def test_non_image_models_are_listed_so_that_clients_must_filter(client, sim):
    actions = {model.name: model.supported_actions for model in client.models.list()}
    assert actions["models/imagen-4.0-generate-001"] == ["predict"]
    assert "generateContent" in actions["models/gemini-3-flash"]


@pytest.mark.parametrize("model_id", [*SHUT_DOWN, "gemini-9-ultra"])
def test_models_get_of_an_unlisted_id_is_the_api_404(client, sim, model_id):
    with pytest.raises(errors.ClientError) as info:
        client.models.get(model=model_id)
    assert info.value.code == 404 and info.value.status == "NOT_FOUND"
    assert info.value.message == f"Model is not found: models/{model_id} for api version v1"


def test_listing_checks_the_key_like_generating():
    with Simulator(api_key="the-right-key") as sim:
        assert get(sim, "/v1beta/models", key=None)[0] == 403
        status, body = get(sim, "/v1beta/models", key="a-wrong-key")
        assert status == 400 and body["error"]["details"][0]["reason"] == "API_KEY_INVALID"
        assert get(sim, f"/v1beta/models/{FLASH}", key="a-wrong-key")[0] == 400
        assert get(sim, "/v1beta/models", key="the-right-key")[0] == 200
        assert [r.path for r in sim.requests] == ["/v1beta/models"] * 2 + [
            f"/v1beta/models/{FLASH}",
            "/v1beta/models",
        ]


def test_a_page_token_the_simulator_did_not_issue_is_400(sim):
    status, body = get(sim, "/v1beta/models?pageSize=2&pageToken=bm90LWEtdG9rZW4")
    assert status == 400 and body["error"]["message"] == "Invalid page token."
    assert get(sim, "/v1beta/models?pageSize=two")[0] == 400


# ---------------------------------------------------------------- which ids draw


def test_the_future_model_draws(client, sim):
    response = generate(client, FUTURE, image_config=types.ImageConfig(aspect_ratio="1:8"))
    assert response.model_version == FUTURE
    assert picture(response).size == (384, 3072)
    assert response.parts[-1].thought_signature


@pytest.mark.parametrize("model_id", SHUT_DOWN)
def test_a_shut_down_id_is_the_api_404(client, sim, model_id):
    with pytest.raises(errors.ClientError) as info:
        generate(client, model_id)
    assert info.value.code == 404 and info.value.status == "NOT_FOUND"
    assert info.value.message == (
        f"models/{model_id} is not found for API version v1, or is not supported for "
        "generateContent. Call ListModels to see the list of available models and their "
        "supported methods."
    )


def test_models_that_draw_nothing_do_not_answer_generate_content(client, sim):
    assert "does not generate images" in refusal(client, "gemini-3-flash")
    assert "not supported for generateContent" in refusal(
        client, "imagen-4.0-generate-001", code=404
    )


def test_a_preview_signature_is_corrupted_for_its_stable_successor(sim):
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "orange").save(out, "PNG")  # stands for the preview's picture
    image = out.getvalue()
    model_turn = {
        "role": "model",
        "parts": [
            {
                "inlineData": {"mimeType": "image/png", "data": base64.b64encode(image).decode()},
                "thoughtSignature": sign_b64("gemini-3-pro-image-preview", image),
            }
        ],
    }
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "a cat"}]},
            model_turn,
            {"role": "user", "parts": [{"text": "now in a hat"}]},
        ]
    }
    status, reply = post(sim, PRO, body)
    assert status == 400 and reply["error"]["message"] == "Corrupted thought signature."


# ---------------------------------------------------------------- sizes and aspect ratios


@pytest.mark.parametrize(
    ("aspect", "size", "pixels"),
    [("1:1", "512", (512, 512)), ("8:1", "1K", (3072, 384)), ("8:1", "512", (1536, 192)),
     ("1:4", "2K", (1024, 4096))],
)  # fmt: skip
def test_nano_banana_2_draws_512_and_the_extreme_ratios(client, sim, aspect, size, pixels):
    config = types.ImageConfig(aspect_ratio=aspect, image_size=size)
    assert picture(generate(client, FLASH, image_config=config)).size == pixels


def test_512_is_refused_where_the_model_lacks_it(client, sim):
    config = types.ImageConfig(image_size="512")
    assert "image_size '512' is not supported by gemini-3-pro-image" in refusal(
        client, PRO, image_config=config
    )
    assert "not supported by gemini-3.1-flash-lite-image" in refusal(
        client, LITE, image_config=config
    )


def test_1_8_is_refused_on_pro_with_its_own_ratios(client, sim):
    message = refusal(client, PRO, image_config=types.ImageConfig(aspect_ratio="1:8"))
    assert message.startswith(
        "* GenerateContentRequest.generation_config.image_config.aspect_ratio: aspect_ratio "
        "must be one of '1:1', "
    )
    assert "'21:9'" in message and "'8:1'" not in message


def test_lite_takes_the_extreme_ratios_at_1k(client, sim):
    config = types.ImageConfig(aspect_ratio="4:1")
    assert picture(generate(client, LITE, image_config=config)).size == (2048, 512)


# ---------------------------------------------------------------- thinking level


def thinking(level: str) -> types.ThinkingConfig:
    return types.ThinkingConfig(thinking_level=level, include_thoughts=True)


def test_thinking_level_arrives_and_high_thinks_longer(client, sim):
    high = generate(client, FLASH, thinking_config=thinking("high"))
    minimal = generate(client, FLASH, thinking_config=thinking("minimal"))
    assert sim.requests[0].body["generationConfig"]["thinkingConfig"]["thinking_level"] == "HIGH"
    assert "Thinking level: high" in high.parts[0].text
    assert "Thinking level: minimal" in minimal.parts[0].text
    assert high.usage_metadata.thoughts_token_count > minimal.usage_metadata.thoughts_token_count


def test_thinking_level_is_read_case_insensitively_on_the_wire(sim):
    body = {
        "contents": [{"parts": [{"text": "a cat"}]}],
        "generationConfig": {"thinkingConfig": {"thinkingLevel": "High", "includeThoughts": True}},
    }
    status, reply = post(sim, FLASH, body)
    assert status == 200, reply
    assert "Thinking level: high" in reply["candidates"][0]["content"]["parts"][0]["text"]


def test_a_level_the_model_does_not_take_is_refused_naming_the_allowed_ones(client, sim):
    message = refusal(client, FLASH, thinking_config=thinking("low"))
    assert message == (
        "Thinking level LOW is not supported by gemini-3.1-flash-image; use one of MINIMAL, HIGH."
    )


def test_any_level_is_refused_where_it_cannot_be_set(client, sim):
    assert "Thinking level is not supported" in refusal(
        client, PRO, thinking_config=thinking("high")
    )


def test_an_unknown_level_is_an_invalid_enum_value(sim):
    body = {
        "contents": [{"parts": [{"text": "a cat"}]}],
        "generationConfig": {"thinkingConfig": {"thinkingLevel": "ULTRA"}},
    }
    status, reply = post(sim, FLASH, body)
    assert status == 400
    assert (
        "Invalid value at 'generation_config.thinking_config.thinking_level'"
        in (reply["error"]["message"])
    )


# ---------------------------------------------------------------- image search


def test_image_search_is_accepted_and_its_sources_are_typed_by_the_sdk(client, sim):
    response = generate(client, FLASH, tools=search("web", "image"))
    assert sim.requests[0].body["tools"] == [
        {"googleSearch": {"searchTypes": {"web_search": {}, "image_search": {}}}}
    ]
    meta = response.candidates[0].grounding_metadata
    images = [chunk.image for chunk in meta.grounding_chunks if chunk.image]
    webs = [chunk.web for chunk in meta.grounding_chunks if chunk.web]
    assert len(images) == 2 and len(webs) == 3
    assert all(i.image_uri.endswith(".png") and i.source_uri and i.title for i in images)
    assert meta.image_search_queries == ["a lighthouse"]
    assert meta.web_search_queries == ["a lighthouse"]


def test_image_search_alone_brings_only_image_sources(client, sim):
    meta = generate(client, FLASH, tools=search("image")).candidates[0].grounding_metadata
    assert all(chunk.image and not chunk.web for chunk in meta.grounding_chunks)
    assert meta.web_search_queries is None


def test_plain_google_search_means_web_search(client, sim):
    tools = [types.Tool(google_search=types.GoogleSearch())]
    meta = generate(client, FLASH, tools=tools).candidates[0].grounding_metadata
    assert all(chunk.web and not chunk.image for chunk in meta.grounding_chunks)
    assert meta.image_search_queries is None


def test_image_search_is_refused_on_pro(client, sim):
    message = refusal(client, PRO, tools=search("web", "image"))
    assert message.startswith("Image search is not supported by gemini-3-pro-image")
    generate(client, PRO, tools=search("web"))


def test_any_search_is_refused_on_lite(client, sim):
    assert refusal(client, LITE, tools=search("image")) == "Search Grounding is not supported."


def test_search_types_take_both_spellings_and_no_unknown_field(sim):
    def body(search_types: dict[str, Any]) -> dict[str, Any]:
        return {
            "contents": [{"parts": [{"text": "a cat"}]}],
            "tools": [{"google_search": {"search_types": search_types}}],
        }

    status, reply = post(sim, FLASH, body({"imageSearch": {}}))
    assert status == 200 and "imageSearchQueries" in reply["candidates"][0]["groundingMetadata"]
    status, reply = post(sim, FLASH, body({"video_search": {}}))
    assert status == 400 and 'Unknown name "video_search"' in reply["error"]["message"]
