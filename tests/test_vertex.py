"""Vertex AI as the backend, through the SDK with ``vertexai=True`` against the simulator.

Application Default Credentials are a service-account file whose ``token_uri`` is the
simulator's OAuth endpoint: google-auth signs a JWT with the file's (throwaway) RSA key and
fetches a Bearer token there, as it does from Google.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from nb_banana.context import session, settings
from nb_banana.gemini.models import DEFAULT_MODEL

from .cells import run
from .conftest import restart_kernel

ACCOUNT = "banana-runner@banana-proj.iam.gserviceaccount.com"
PROJECT = "banana-proj"
PRO = "gemini-3-pro-image"


@pytest.fixture(scope="module")
def private_key_pem() -> str:
    """A throwaway RSA key for the test service account (never a real one)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture
def adc(sim, tmp_path, monkeypatch, private_key_pem):
    """GOOGLE_APPLICATION_CREDENTIALS: a service-account file whose tokens come from the
    simulator; no gcloud configuration and no metadata server to fall back on."""
    file = tmp_path / "service-account.json"
    file.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": PROJECT,
                "private_key_id": "test-key-1",
                "private_key": private_key_pem,
                "client_email": ACCOUNT,
                "client_id": "1234567890",
                "token_uri": f"{sim.url}/token",
            }
        )
    )
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(file))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "no-gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    for name in ("GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION"):
        monkeypatch.delenv(name, raising=False)
    return file


@pytest.fixture
def vertex(ip, adc):
    """``%config Banana.backend = "vertex"`` with a project: the ADC path."""
    ip.run_line_magic("config", 'Banana.backend = "vertex"')
    ip.run_line_magic("config", f'Banana.project = "{PROJECT}"')
    yield ip
    ip.config.pop("Banana", None)


def magic(ip, line: str) -> str:
    with capture_output() as captured:
        ip.run_line_magic("banana", line)
    return captured.stdout


def generations(sim) -> list:
    return [r for r in sim.requests if r.path.endswith(":generateContent")]


def vertex_path(model: str = DEFAULT_MODEL, project: str = PROJECT, location: str = "global"):
    return (
        f"/v1beta1/projects/{project}/locations/{location}/publishers/google/models/"
        f"{model}:generateContent"
    )


def signature(part: dict) -> bytes | None:
    value = part.get("thoughtSignature") or part.get("thought_signature")
    return base64.urlsafe_b64decode(value) if value else None


def image_data(part: dict) -> bytes | None:
    blob = part.get("inlineData") or part.get("inline_data")
    return base64.urlsafe_b64decode(blob["data"]) if blob else None


def test_the_sdks_environment_selects_vertex_with_a_bearer_token_and_no_key(
    ip, sim, adc, monkeypatch
):
    monkeypatch.setenv("GOOGLE_GENAI_USE_VERTEXAI", "true")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)
    restart_kernel()  # a kernel started with these variables set
    run(ip, "-c house", "a house")
    first = ip.user_ns["_banana"].replies[0].content
    run(ip, "-c house", "add a tree")

    sent = generations(sim)
    assert [r.path for r in sent] == [vertex_path(), vertex_path()]
    for request in sent:
        assert request.headers["authorization"] == "Bearer <redacted>"
        assert "x-goog-api-key" not in request.headers  # GEMINI_API_KEY is set, and unused
    assert [r.path for r in sim.requests].count("/token") == 1  # the token is reused
    model_turn = next(c for c in sent[1].body["contents"] if c["role"] == "model")
    for part, original in zip(model_turn["parts"], first.parts, strict=True):
        assert signature(part) == original.thought_signature
        if original.inline_data:
            assert image_data(part) == original.inline_data.data


def test_config_backend_vertex_sends_to_the_project_and_location_set(vertex, sim):
    vertex.run_line_magic("config", 'Banana.location = "us-central1"')
    run(vertex, "-n 2", "a lighthouse")
    paths = [r.path for r in generations(sim)]
    assert paths == [vertex_path(location="us-central1")] * 2
    assert len(vertex.user_ns["_banana"].images) == 2


def test_express_mode_sends_the_key_on_the_publisher_path(ip, sim, adc):
    ip.run_line_magic("config", 'Banana.backend = "vertex"')
    run(ip, "", "a kite")
    (request,) = generations(sim)
    assert request.path == f"/v1beta1/publishers/google/models/{DEFAULT_MODEL}:generateContent"
    assert request.headers["x-goog-api-key"] == "<redacted>"
    assert "authorization" not in request.headers
    assert "/token" not in [r.path for r in sim.requests]


def test_missing_credentials_are_one_line_naming_the_login(ip, sim, adc, monkeypatch, tmp_path):
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS")
    monkeypatch.delenv("GEMINI_API_KEY")
    ip.run_line_magic("config", 'Banana.backend = "vertex"')
    with pytest.raises(UsageError) as raised:
        run(ip, "", "a kite")
    message = str(raised.value)
    assert "\n" not in message and "gcloud auth application-default login" in message
    assert generations(sim) == []


def test_a_project_the_account_may_not_use_is_one_line_naming_the_setting(vertex, sim):
    sim.vertex.project = "another-project"
    with pytest.raises(UsageError, match=r"refused project banana-proj.*%config Banana.project"):
        run(vertex, "", "a kite")


def test_a_disabled_vertex_api_is_one_line_naming_how_to_enable_it(vertex, sim):
    sim.vertex.api_disabled = True
    with pytest.raises(
        UsageError, match=r"gcloud services enable aiplatform.googleapis.com --project banana-proj"
    ):
        run(vertex, "", "a kite")


def test_a_location_without_the_model_is_one_line_naming_global(vertex, sim):
    vertex.run_line_magic("config", 'Banana.location = "europe-west9"')
    with pytest.raises(
        UsageError, match=r'europe-west9 does not serve .*Banana.location = "global"'
    ):
        run(vertex, "", "a kite")


def test_banana_key_names_the_service_account_and_never_the_token(vertex, sim):
    run(vertex, "", "a kite")  # a token has been fetched
    said = magic(vertex, "key")
    assert ACCOUNT in said and PROJECT in said
    assert "ya29" not in said and "Bearer" not in said


def test_vertex_and_developer_api_answers_never_stand_in_for_each_other(ip, sim, adc):
    run(ip, "", "a red barn")  # the Developer API
    ip.run_line_magic("config", 'Banana.backend = "vertex"')
    ip.run_line_magic("config", f'Banana.project = "{PROJECT}"')
    run(ip, "", "a red barn")
    assert not ip.user_ns["_banana"].cached
    ip.run_line_magic("config", 'Banana.project = "other-proj"')
    run(ip, "", "a red barn")
    assert not ip.user_ns["_banana"].cached
    ip.run_line_magic("config", f'Banana.project = "{PROJECT}"')
    run(ip, "", "a red barn")
    assert ip.user_ns["_banana"].cached
    ip.run_line_magic("config", 'Banana.backend = "gemini"')
    run(ip, "", "a red barn")
    assert ip.user_ns["_banana"].cached
    assert [r.path.split(":")[0] for r in generations(sim)] == [
        f"/v1/models/{DEFAULT_MODEL}",
        vertex_path().split(":")[0],
        vertex_path(project="other-proj").split(":")[0],
    ]
    ip.config.pop("Banana", None)


def test_each_runs_every_element_on_vertex(vertex, sim):
    vertex.user_ns["animals"] = ["fox", "owl", "hare"]
    run(vertex, "--each animals -o out", "a {item} in the snow")
    sent = generations(sim)
    assert [r.path for r in sent] == [vertex_path()] * 3
    texts = sorted(r.body["contents"][-1]["parts"][0]["text"] for r in sent)
    assert texts == ["a fox in the snow", "a hare in the snow", "a owl in the snow"]


def test_batch_on_vertex_is_refused_in_one_line_naming_the_setting(vertex, sim):
    vertex.user_ns["animals"] = ["fox", "owl"]
    with pytest.raises(UsageError, match=r"Banana.gcs_bucket") as raised:
        run(vertex, "--each animals --batch", "a {item}")
    assert "\n" not in str(raised.value)
    assert sim.requests == []


def test_a_comparison_on_vertex_asks_each_model_there(vertex, sim):
    run(vertex, "-m lite,flash", "a teapot")
    paths = sorted(r.path for r in generations(sim))
    assert paths == sorted(
        [vertex_path("gemini-3.1-flash-lite-image"), vertex_path("gemini-3.1-flash-image")]
    )


def test_usage_and_budget_count_vertex_calls(vertex, sim):
    run(vertex, "", "a kite")
    assert session().calls == 1 and session().cost > 0
    said = magic(vertex, "usage")
    assert f"Vertex AI (project {PROJECT}, global, at {sim.url}): 1 generations" in said
    settings().budget_usd = session().cost * 1.5
    with pytest.raises(UsageError, match="budget"):
        run(vertex, "", "a second kite")
    assert len(generations(sim)) == 1


def test_models_lists_vertex_publisher_models(vertex, sim):
    with capture_output() as captured:
        vertex.run_line_magic("banana", "models")
    said = "".join(o.data.get("text/plain", "") for o in captured.outputs)
    listing = [r for r in sim.requests if r.path.startswith("/v1beta1/publishers/google/models")]
    assert listing and listing[0].headers["authorization"] == "Bearer <redacted>"
    assert "gemini-4-flash-image" in said  # the simulator's future model, from Vertex's list


def test_the_panel_generates_on_vertex(vertex, sim):
    from nb_banana.faces.panel import Panel

    panel = Panel(namespace=vertex.user_ns)
    try:
        panel.form.prompt.value = "a windmill"
        panel.generate_button.click()
        panel.wait(20)
    finally:
        panel.close()
        panel.wait(10)
    assert [r.path for r in generations(sim)] == [vertex_path()]


def test_vertex_replies_carry_vertex_fields_and_itemise_text_tokens(sim, adc):
    """What the SDK reads back on Vertex (REAL_REPLIES.md): createTime, trafficType, and
    TEXT tokens itemised beside IMAGE."""
    from google import genai
    from google.genai import types

    client = genai.Client(
        vertexai=True, project=PROJECT, location="global", http_options={"base_url": sim.url}
    )
    reply = client.models.generate_content(
        model=DEFAULT_MODEL,
        contents="a kite",
        config=types.GenerateContentConfig(response_modalities=["TEXT", "IMAGE"]),
    )
    usage = reply.usage_metadata
    assert reply.create_time is not None
    assert usage.traffic_type == types.TrafficType.ON_DEMAND
    itemised = {d.modality.value: d.token_count for d in usage.candidates_tokens_details}
    assert set(itemised) == {"TEXT", "IMAGE"}
    assert sum(itemised.values()) == usage.candidates_token_count


def test_a_bearer_token_the_simulator_never_issued_is_refused(sim):
    import httpx

    answer = httpx.post(
        sim.url + vertex_path(),
        headers={"Authorization": "Bearer ya29.forged"},
        json={"contents": [{"role": "user", "parts": [{"text": "a kite"}]}]},
    )
    assert answer.status_code == 401 and answer.json()["error"]["status"] == "UNAUTHENTICATED"


def quickstart_vertex_cell() -> str:
    notebook = json.loads((Path(__file__).parent.parent / "notebooks/quickstart.ipynb").read_text())
    (cell,) = [c for c in notebook["cells"] if "Banana.backend" in "".join(c["source"])]
    return "".join(cell["source"])


def test_the_quickstarts_vertex_cell_does_nothing_without_a_project(ip, sim, adc):
    with capture_output() as captured:
        ip.run_cell(quickstart_vertex_cell()).raise_error()
    assert captured.stdout == "" and settings().backend == "gemini"


def test_the_quickstarts_vertex_cell_switches_when_a_project_is_set(ip, sim, adc, monkeypatch):
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)
    with capture_output() as captured:
        ip.run_cell(quickstart_vertex_cell()).raise_error()
    assert ACCOUNT in captured.stdout
    run(ip, "", "a kite")
    assert [r.path for r in generations(sim)] == [vertex_path()]
    ip.config.pop("Banana", None)


def test_offline_if_no_key_stays_on_vertex_when_a_project_is_set(ip, sim, adc, monkeypatch):
    from nb_banana.turns import offline

    monkeypatch.delenv("GEMINI_API_KEY")
    monkeypatch.setenv("GOOGLE_GENAI_USE_VERTEXAI", "1")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)
    restart_kernel()
    said = magic(ip, "offline --if-no-key")  # the quickstart's first cell
    assert said.startswith(f"Using Vertex AI: project {PROJECT}") and not offline.is_offline()


def image_options(request) -> dict | None:
    return request.body["generationConfig"].get("imageConfig", {}).get("imageOutputOptions")


def test_format_jpeg_with_quality_asks_vertex_for_a_jpeg(vertex, sim):
    run(vertex, "-f jpeg --quality 60", "a kite")
    (request,) = generations(sim)
    assert image_options(request) == {"mimeType": "image/jpeg", "compressionQuality": 60}
    picture = vertex.user_ns["_banana"].replies[0].images[0]
    assert picture.mime_type == "image/jpeg" and picture.data.startswith(b"\xff\xd8\xff")


def test_format_png_turns_pros_jpeg_into_a_png(vertex, sim):
    run(vertex, "-m pro -f png", "a kite")
    (request,) = generations(sim)
    assert image_options(request) == {"mimeType": "image/png"}
    picture = vertex.user_ns["_banana"].replies[0].images[0]
    assert picture.data.startswith(b"\x89PNG\r\n\x1a\n")


def test_output_format_is_refused_in_one_line_on_the_developer_api(ip, sim):
    for line in ("-f jpeg", "--quality 80"):
        with pytest.raises(UsageError, match=r"Vertex AI options \(imageOutputOptions\)") as raised:
            run(ip, line, "a kite")
        assert "\n" not in str(raised.value)
    assert sim.requests == []


def test_a_quality_for_a_png_is_refused_before_sending(vertex, sim):
    with pytest.raises(UsageError, match="use it with -f jpeg"):
        run(vertex, "-f png --quality 50", "a kite")
    assert generations(sim) == []


def test_each_output_format_is_its_own_answer_in_the_store(vertex, sim):
    run(vertex, "-f png", "a kite")
    run(vertex, "-f jpeg", "a kite")
    run(vertex, "-f jpeg", "a kite")
    assert vertex.user_ns["_banana"].cached
    assert [image_options(r)["mimeType"] for r in generations(sim)] == ["image/png", "image/jpeg"]


def test_the_environments_location_is_used(ip, sim, adc, monkeypatch):
    monkeypatch.setenv("GOOGLE_GENAI_USE_VERTEXAI", "true")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)
    monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", "us-central1")
    restart_kernel()
    run(ip, "", "a kite")
    assert [r.path for r in generations(sim)] == [vertex_path(location="us-central1")]


def test_a_token_endpoint_that_refuses_is_one_line_naming_the_login(vertex, sim, adc):
    document = json.loads(adc.read_text())
    adc.write_text(json.dumps({**document, "token_uri": f"{sim.url}/no-token-here"}))
    with pytest.raises(UsageError, match="refused to give the credentials a token") as raised:
        run(vertex, "", "a kite")
    assert "gcloud auth application-default login" in str(raised.value)
    assert "\n" not in str(raised.value) and generations(sim) == []


def test_models_without_credentials_says_why_in_one_line(ip, sim, adc, monkeypatch):
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS")
    ip.run_line_magic("config", 'Banana.backend = "vertex"')
    ip.run_line_magic("config", f'Banana.project = "{PROJECT}"')
    with capture_output() as captured:
        ip.run_line_magic("banana", "models")
    said = "".join(o.data.get("text/plain", "") for o in captured.outputs)
    assert "Could not ask the API for its model list (No Google Cloud credentials" in said
    ip.config.pop("Banana", None)


def test_without_a_project_or_key_the_credentials_name_the_project(ip, sim, adc, monkeypatch):
    import google.auth

    monkeypatch.delenv("GEMINI_API_KEY")
    ip.run_line_magic("config", 'Banana.backend = "vertex"')
    looked_up = []
    real_default = google.auth.default
    monkeypatch.setattr(
        google.auth, "default", lambda **kw: looked_up.append(1) or real_default(**kw)
    )
    run(ip, "", "a kite")
    run(ip, "", "a second kite")
    # the service-account file's project_id; the file is read for the project once
    assert [r.path for r in generations(sim)] == [vertex_path()] * 2
    assert len(looked_up) <= 2  # once for the project, once for the client's credentials
    ip.config.pop("Banana", None)


def test_a_thoughts_cell_streams_on_vertex_too(vertex, sim):
    """``--thoughts`` streams (``:streamGenerateContent``) on Vertex as on the Developer API,
    each event in Vertex's shape, and the chat goes on from the streamed turn."""
    run(vertex, "-m pro --thoughts -c think", "a lighthouse in fog")
    paths = [r.path.split("?")[0] for r in sim.requests]
    streamed = [path for path in paths if path.endswith(":streamGenerateContent")]
    assert streamed == [vertex_path(PRO).replace(":generateContent", ":streamGenerateContent")]
    result = vertex.user_ns["_banana"]
    assert result.thoughts and result.drafts and len(result.images) == 1
    run(vertex, "-c think", "now at night")
    assert generations(sim)[-1].path == vertex_path(PRO)
