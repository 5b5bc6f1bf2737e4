"""The request's field tables, and the protobuf-JSON reading that the real front end does.

The API parses a body as protobuf JSON: every field may be spelled in lowerCamelCase or in
its proto snake_case name (the SDK mixes them: ``inlineData`` holding ``mime_type``), an
unknown name is a 400, a wrong type is a 400, ``null`` means "not set". ``normalise``
does exactly that and rewrites keys, never values, to camelCase, so the rules in
``validate`` read one spelling. The tables list the fields the Gemini Developer API (and
google-genai 3.6.1's converters for it) know; sub-objects the simulator does not look into
are ``any`` and passed through untouched, keys included (a function's arguments or a JSON
schema are user data, not protobuf fields).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from .rejections import Rejection, invalid

# A type is a message name (a key of SCHEMA), a scalar, or "any"; "[]" marks a repeated field.
SCHEMA: dict[str, dict[str, str]] = {
    "GenerateContentRequest": {
        "model": "string",
        "contents": "Content[]",
        "tools": "Tool[]",
        "toolConfig": "any",
        "safetySettings": "any",
        "systemInstruction": "Content",
        "generationConfig": "GenerationConfig",
        "cachedContent": "string",
        "labels": "any",
        "serviceTier": "any",
        "store": "bool",
    },
    "Content": {"role": "string", "parts": "Part[]"},
    "Part": {
        "text": "string",
        "inlineData": "Blob",
        "fileData": "any",
        "functionCall": "any",
        "functionResponse": "any",
        "executableCode": "any",
        "codeExecutionResult": "any",
        "thought": "bool",
        "thoughtSignature": "bytes",
        "videoMetadata": "any",
        "partMetadata": "any",
        "mediaResolution": "any",
    },
    "Blob": {"mimeType": "string", "data": "bytes"},
    "Tool": {
        "functionDeclarations": "any",
        "googleSearchRetrieval": "any",
        "codeExecution": "any",
        "googleSearch": "GoogleSearch",
        "computerUse": "any",
        "urlContext": "any",
        "fileSearch": "any",
        "googleMaps": "any",
        "mcpServers": "any",
    },
    "GenerationConfig": {
        "stopSequences": "string[]",
        "responseMimeType": "string",
        "responseSchema": "any",
        "responseJsonSchema": "any",
        "responseModalities": "string[]",
        "candidateCount": "int",
        "maxOutputTokens": "int",
        "temperature": "number",
        "topP": "number",
        "topK": "int",
        "seed": "int",
        "presencePenalty": "number",
        "frequencyPenalty": "number",
        "responseLogprobs": "bool",
        "logprobs": "int",
        "enableEnhancedCivicAnswers": "bool",
        "speechConfig": "any",
        "thinkingConfig": "ThinkingConfig",
        "imageConfig": "ImageConfig",
        "mediaResolution": "any",
    },
    "ThinkingConfig": {
        "includeThoughts": "bool",
        "thinkingBudget": "int",
        "thinkingLevel": "string",
    },
    "ImageConfig": {"aspectRatio": "string", "imageSize": "string"},
    "GoogleSearch": {"searchTypes": "SearchTypes", "timeRangeFilter": "any"},
    "SearchTypes": {"webSearch": "WebSearch", "imageSearch": "ImageSearch"},
    "WebSearch": {},
    "ImageSearch": {},
    # models.batchGenerateContent (what google-genai 3.6.1 sends, and the API reference's
    # GenerateContentBatch; the output-only fields are accepted and ignored, as protobuf
    # JSON reading does).
    "BatchGenerateContentRequest": {"batch": "GenerateContentBatch"},
    "GenerateContentBatch": {
        "model": "string",
        "name": "string",
        "displayName": "string",
        "inputConfig": "InputConfig",
        "output": "any",
        "createTime": "any",
        "endTime": "any",
        "updateTime": "any",
        "batchStats": "any",
        "state": "any",
        "priority": "int",
        "webhookConfig": "any",
    },
    "InputConfig": {"fileName": "string", "requests": "InlinedRequests"},
    "InlinedRequests": {"requests": "InlinedRequest[]"},
    "InlinedRequest": {"request": "GenerateContentRequest", "metadata": "any"},
}

# Oneof 'data' of a Part: exactly one of these holds the part's content.
PART_DATA_FIELDS: tuple[str, ...] = (
    "text", "inlineData", "fileData", "functionCall", "functionResponse",
    "executableCode", "codeExecutionResult",
)  # fmt: skip

_SCALAR_TYPE_NAMES = {
    "string": "TYPE_STRING",
    "bool": "TYPE_BOOL",
    "int": "TYPE_INT32",
    "number": "TYPE_FLOAT",
    "bytes": "TYPE_BYTES",
}
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]*={0,2}")


def snake(name: str) -> str:
    """The proto field name of a camelCase JSON name: ``inlineData`` -> ``inline_data``."""
    return re.sub(r"[A-Z]", lambda m: "_" + m.group().lower(), name)


_SPELLINGS: dict[str, dict[str, str]] = {
    message: {spelling: camel for camel in fields for spelling in (camel, snake(camel))}
    for message, fields in SCHEMA.items()
}


def decode_base64(text: str) -> bytes | None:
    """Bytes of a protobuf-JSON bytes field (standard or URL-safe alphabet, padding optional)."""
    compact = "".join(text.split())
    if not _BASE64.fullmatch(compact):
        return None
    compact = compact.rstrip("=").replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
    except binascii.Error:
        return None


def normalise(
    body: Any, api_version: str, message: str = "GenerateContentRequest"
) -> dict[str, Any]:
    """``body`` (a ``message``) with every known key in camelCase and nulls dropped; a 400
    for anything else."""
    if not isinstance(body, dict):
        raise invalid(
            "Invalid JSON payload received. Expected an object at the top level, "
            f"got {_show(body)}."
        )
    return _message(body, message, "", api_version)


def _message(obj: dict[str, Any], name: str, path: str, version: str) -> dict[str, Any]:
    spellings = _SPELLINGS[name]
    out: dict[str, Any] = {}
    seen: dict[str, str] = {}
    for key, value in obj.items():
        camel = spellings.get(key)
        if camel is None:
            where = f" at '{path}'" if path else ""
            raise invalid(
                f'Invalid JSON payload received. Unknown name "{key}"{where}: Cannot find field.'
            )
        if camel in seen:
            raise invalid(
                f'Invalid JSON payload received. Field "{snake(camel)}" is set twice'
                f' (as "{seen[camel]}" and "{key}") at \'{path or name}\'.'
            )
        seen[camel] = key
        if value is not None:
            field_path = f"{path}.{snake(camel)}" if path else snake(camel)
            out[camel] = _value(value, SCHEMA[name][camel], field_path, version)
    return out


def _value(value: Any, kind: str, path: str, version: str) -> Any:
    if kind == "any":
        return value
    if kind.endswith("[]"):
        item_kind = kind[:-2]
        if not isinstance(value, list):
            raise _wrong_type(value, item_kind, path, version)
        return [_value(item, item_kind, f"{path}[{i}]", version) for i, item in enumerate(value)]
    if kind in SCHEMA:
        if not isinstance(value, dict):
            raise _wrong_type(value, kind, path, version)
        return _message(value, kind, path, version)
    if not _scalar_fits(value, kind):
        raise _wrong_type(value, kind, path, version)
    if kind == "bytes" and decode_base64(value) is None:
        raise invalid(
            f"Invalid value at '{path}' (TYPE_BYTES), Base64 decoding failed for {_show(value)}"
        )
    return value


def _scalar_fits(value: Any, kind: str) -> bool:
    if kind in ("string", "bytes"):
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        integral = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        digits = isinstance(value, str) and re.fullmatch(r"-?\d+", value) is not None
        return not isinstance(value, bool) and (integral or digits)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _wrong_type(value: Any, kind: str, path: str, version: str) -> Rejection:
    type_name = _SCALAR_TYPE_NAMES.get(
        kind, f"type.googleapis.com/google.ai.generativelanguage.{version}.{kind}"
    )
    return invalid(f"Invalid value at '{path}' ({type_name}), {_show(value)}")


def _show(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."
