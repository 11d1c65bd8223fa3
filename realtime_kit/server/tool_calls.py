"""Function calls of the local assistant: which session tool a user message calls, and with what arguments.

Deterministic, like the replies: the same message and tools always give the same call.

    >>> tools = [{"type": "function", "name": "set_volume", "description": "Loudness of the speaker",
    ...           "parameters": {"type": "object", "required": ["level"],
    ...                          "properties": {"level": {"type": "integer", "maximum": 10}}}}]
    >>> choose_tool("please set the volume to 12", tools)
    ToolCall(name='set_volume', arguments={'level': 10})
    >>> choose_tool("hello", tools) is None
    True
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .wording import STOPWORDS, stem, words

__all__ = ["ToolCall", "build_arguments", "choose_tool"]


@dataclass(frozen=True)
class ToolCall:
    """A function call the local assistant decided to make: tool name and JSON-ready arguments."""

    name: str
    arguments: dict[str, Any]


def choose_tool(text: str | None, tools: Sequence[Mapping[str, Any]], tool_choice: Any = "auto") -> ToolCall | None:
    """The function call the assistant makes for ``text``, or None to answer in words.

    Rule: a tool's keywords are the words of its name (split at ``_``, ``-`` and camelCase) and of
    its description, without generic words ("get", "the", "current", ...). With ``tool_choice``
    "auto" the tool whose keywords the user's text mentions most is called (plurals count; ties go
    to the first tool); "required" calls that tool, or the first one when none is mentioned;
    ``{"type": "function", "name": N}`` always calls N; "none" never calls. Arguments come from
    `build_arguments`.

    >>> tools = [{"type": "function", "name": "get_weather", "description": "Weather for a city",
    ...           "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
    ...                          "required": ["city"]}}]
    >>> choose_tool("What's the weather in Paris?", tools)
    ToolCall(name='get_weather', arguments={'city': 'Paris'})
    """
    functions = [tool for tool in tools if tool.get("type", "function") == "function" and tool.get("name")]
    chosen = _pick_function(text or "", functions, tool_choice)
    if chosen is None:
        return None
    return ToolCall(str(chosen["name"]), build_arguments(chosen.get("parameters"), text or ""))


def _pick_function(text: str, functions: Sequence[Mapping[str, Any]], tool_choice: Any) -> Mapping[str, Any] | None:
    if not functions or tool_choice == "none":
        return None
    if isinstance(tool_choice, Mapping):
        wanted = tool_choice.get("name") if tool_choice.get("type") == "function" else None
        return next((tool for tool in functions if tool["name"] == wanted), None)
    scores = [_mentions(text, tool) for tool in functions]
    best = max(range(len(functions)), key=lambda index: (scores[index], -index))
    if scores[best] > 0:
        return functions[best]
    return functions[0] if tool_choice == "required" else None


def _mentions(text: str, tool: Mapping[str, Any]) -> int:
    said = {stem(word) for word in words(text)}
    keywords = {stem(word) for word in _keywords(tool)}
    exact = 10 if str(tool["name"]).lower() in text.lower() else 0
    return exact + len(said & keywords)


def _keywords(tool: Mapping[str, Any]) -> list[str]:
    name = re.sub(r"([a-z])([A-Z])", r"\1 \2", str(tool.get("name", "")))
    found = words(name.replace("_", " ").replace("-", " ")) + words(str(tool.get("description") or ""))
    return [word for word in found if len(word) >= 3 and word not in STOPWORDS]


def build_arguments(schema: Any, text: str) -> dict[str, Any]:
    """JSON arguments for a function's ``parameters`` schema, filled from the user's words.

    Required properties are always filled; optional ones only when the text names one of their
    ``enum`` values. Per type: enum -> the value mentioned, else the first; string -> the next
    quoted string, else for place-like names (city, location, ...) the capitalised words or the
    word after "in"/"at"/"for", else the whole message; number/integer -> the next number in the
    text, else ``default``/``minimum``/0; boolean -> yes/true/on vs no/false/off, else False;
    array -> the enum values mentioned, else []; object -> its own properties by these rules.

    >>> build_arguments({"type": "object", "required": ["n", "unit"], "properties": {
    ...     "n": {"type": "integer"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}},
    ...     "set it to 21 fahrenheit")
    {'n': 21, 'unit': 'fahrenheit'}
    """
    return _build_object(schema if isinstance(schema, Mapping) else {}, _Evidence.of(text))


@dataclass
class _Evidence:
    """What the user's message offers to fill arguments with; numbers and quotes are used once each."""

    text: str
    unquoted: str
    numbers: list[str]
    quoted: list[str]

    @classmethod
    def of(cls, text: str) -> _Evidence:
        pattern = r"\"([^\"]+)\"|'([^']{2,})'(?!\w)"
        quoted = [a or b for a, b in re.findall(pattern, text)]
        unquoted = re.sub(pattern, " ", text)
        return cls(text, unquoted, re.findall(r"-?\d+(?:\.\d+)?", unquoted), quoted)


def _build_object(schema: Mapping[str, Any], evidence: _Evidence) -> dict[str, Any]:
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    built: dict[str, Any] = {}
    for name, prop in properties.items():
        prop = prop if isinstance(prop, Mapping) else {}
        if name in required:
            built[name] = _value(name, prop, evidence)
        elif prop.get("enum") and _mentioned(prop["enum"], evidence.text):
            built[name] = _mentioned(prop["enum"], evidence.text)[0]
    return built


def _value(name: str, prop: Mapping[str, Any], evidence: _Evidence) -> Any:
    if "const" in prop:
        return prop["const"]
    if prop.get("enum"):
        mentioned = _mentioned(prop["enum"], evidence.text)
        return mentioned[0] if mentioned else prop["enum"][0]
    kind = _type_of(prop)
    builder = _BUILDERS.get(kind, _string_value)
    return builder(name, prop, evidence)


def _type_of(prop: Mapping[str, Any]) -> str:
    kind = prop.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    return str(kind)


def _string_value(name: str, prop: Mapping[str, Any], evidence: _Evidence) -> Any:
    if evidence.quoted:
        return evidence.quoted.pop(0)
    if re.search(r"city|location|place|country|town|where|destination|address|region", name, re.IGNORECASE):
        place = _place(evidence.unquoted)
        if place:
            return place
    whole = evidence.text.strip().rstrip("?.!")
    return whole or prop.get("default", "")


def _number_value(name: str, prop: Mapping[str, Any], evidence: _Evidence) -> Any:
    if evidence.numbers:
        value: float = float(evidence.numbers.pop(0))
    else:
        value = float(prop.get("default", prop.get("minimum", 0)))
    if "minimum" in prop:
        value = max(value, float(prop["minimum"]))
    if "maximum" in prop:
        value = min(value, float(prop["maximum"]))
    return int(value) if _type_of(prop) == "integer" else value


def _boolean_value(name: str, prop: Mapping[str, Any], evidence: _Evidence) -> Any:
    said = set(words(evidence.text))
    if said & {"yes", "true", "on", "enable", "enabled"}:
        return True
    if said & {"no", "false", "off", "disable", "disabled"}:
        return False
    return bool(prop.get("default", False))


def _array_value(name: str, prop: Mapping[str, Any], evidence: _Evidence) -> Any:
    items = prop.get("items") if isinstance(prop.get("items"), Mapping) else {}
    if items and items.get("enum"):
        return _mentioned(items["enum"], evidence.text)
    if int(prop.get("minItems", 0)) >= 1:
        return [_value(name, items or {}, evidence)]
    return []


def _object_value(name: str, prop: Mapping[str, Any], evidence: _Evidence) -> Any:
    return _build_object(prop, evidence)


_BUILDERS: dict[str, Callable[[str, Mapping[str, Any], _Evidence], Any]] = {
    "string": _string_value, "number": _number_value, "integer": _number_value,
    "boolean": _boolean_value, "array": _array_value, "object": _object_value,
}


def _mentioned(options: Sequence[Any], text: str) -> list[Any]:
    said = {stem(word) for word in words(text)}
    lowered = text.lower()
    return [option for option in options
            if (stem(str(option).lower()) in said) or (" " in str(option) and str(option).lower() in lowered)]


def _place(text: str) -> str | None:
    """Capitalised words that are not the sentence's first word ("New York"), else the word after in/at/for."""
    tokens = re.findall(r"[A-Za-z][\w'-]*", text)
    runs: list[list[str]] = []
    for index, token in enumerate(tokens):
        if index > 0 and token[0].isupper() and token.lower() not in STOPWORDS and token != "I":
            if runs and runs[-1][-1] == tokens[index - 1]:
                runs[-1].append(token)
            else:
                runs.append([token])
    if runs:
        return " ".join(runs[0])
    match = re.search(r"\b(?:in|at|for|near|from)\s+([A-Za-z][\w'-]*)", text, re.IGNORECASE)
    return match.group(1) if match and match.group(1).lower() not in STOPWORDS else None
