"""Python functions as Realtime function tools: the JSON schema from the signature, hints and docstring.

    >>> from typing import Literal
    >>> def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> str:
    ...     '''Current weather for a city.
    ...
    ...     Args:
    ...         city: The city name, e.g. "Paris".
    ...         unit: Temperature unit.
    ...     '''
    ...     return f"Sunny in {city}"
    >>> function_tool(get_weather).schema["parameters"]["properties"]["unit"]
    {'type': 'string', 'enum': ['celsius', 'fahrenheit'], 'description': 'Temperature unit.', 'default': 'celsius'}

Google ("Args:") and NumPy ("Parameters\\n----------") argument docs become descriptions; Literal and
Enum become `enum`; Optional[X] / X | None is X; parameters with defaults are not required.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import json
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_SIMPLE = {str: "string", int: "integer", float: "number", bool: "boolean"}


@dataclass(frozen=True)
class Tool:
    """A function the model may call, with its GA function-tool schema."""

    name: str
    description: str
    parameters: dict[str, Any]
    function: Callable[..., Any]

    @property
    def schema(self) -> dict[str, Any]:
        """The entry for `session.tools`."""
        return {"type": "function", "name": self.name, "description": self.description,
                "parameters": self.parameters}

    async def call(self, arguments: str | Mapping[str, Any] | None) -> Any:
        """Run the function with the model's JSON arguments (awaiting it if it is async)."""
        return await call_function(self.function, arguments)


def function_tool(fn: Callable[..., Any], *, name: str | None = None, description: str | None = None) -> Tool:
    """Describe `fn` as a function tool; its name, docstring and parameters become the schema."""
    if not callable(fn):
        raise TypeError(f"A tool must be a function, got {type(fn).__name__}: pass the function itself.")
    summary, arg_docs = parse_docstring(inspect.getdoc(fn) or "")
    return Tool(name or fn.__name__, description if description is not None else summary,
                parameters_schema(fn, arg_docs), fn)


def parameters_schema(fn: Callable[..., Any], arg_docs: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The JSON schema (type object) of `fn`'s parameters."""
    hints = typing.get_type_hints(fn, include_extras=True)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD) or param.name in ("self", "cls"):
            continue
        schema = json_schema(hints.get(param.name, Any))
        doc = (arg_docs or {}).get(param.name)
        if doc and "description" not in schema:
            schema["description"] = doc
        if param.default is param.empty:
            required.append(param.name)
        elif _jsonable(param.default) and param.default is not None:
            schema.setdefault("default", _plain(param.default))
        properties[param.name] = schema
    return {"type": "object", "properties": properties, "required": required}


def json_schema(annotation: Any) -> dict[str, Any]:
    """JSON schema of one type hint (str, int, float, bool, list, dict, Literal, Enum, Optional, ...)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is Any or annotation is inspect.Parameter.empty:
        return {}
    if origin is typing.Annotated:
        schema = json_schema(args[0])
        notes = [a for a in args[1:] if isinstance(a, str)]
        if notes:
            schema["description"] = notes[0]
        return schema
    if annotation in _SIMPLE:
        return {"type": _SIMPLE[annotation]}
    if origin is typing.Literal:
        return _literal(args)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return _literal(tuple(member.value for member in annotation))
    if origin in (typing.Union, types.UnionType):
        members = [a for a in args if a is not type(None)]
        return json_schema(members[0]) if len(members) == 1 else {"anyOf": [json_schema(a) for a in members]}
    if annotation in (list, tuple, set, frozenset) or origin in (list, tuple, set, frozenset):
        items = json_schema(args[0]) if args and args[0] is not Ellipsis else {}
        return {"type": "array", "items": items} if items else {"type": "array"}
    if annotation is dict or origin is dict:
        return {"type": "object"}
    if annotation is type(None):
        return {"type": "null"}
    return _pydantic_schema(annotation)


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """(summary, {argument: description}) from a Google- or NumPy-style docstring."""
    lines = doc.strip().splitlines()
    summary_lines: list[str] = []
    for line in lines:
        if not line.strip() or _section(line) is not None:
            break
        summary_lines.append(line.strip())
    return " ".join(summary_lines), _google_args(lines) or _numpy_args(lines)


async def call_function(fn: Callable[..., Any], arguments: str | Mapping[str, Any] | None) -> Any:
    """Call `fn(**arguments)` with the arguments checked against its hints; await the result if needed."""
    from pydantic import validate_call

    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments or "{}")
        except ValueError as err:
            raise ValueError(f"the arguments are not valid JSON: {err}") from None
    if not isinstance(arguments, Mapping):
        raise ValueError(f"the arguments must be a JSON object, got {type(arguments).__name__}")
    checked = validate_call(fn) if inspect.isfunction(fn) or inspect.ismethod(fn) else fn
    result = checked(**arguments)
    if inspect.isawaitable(result):
        result = await result
    return result


def output_text(result: Any) -> str:
    """What goes into function_call_output.output: strings as they are, anything else as JSON."""
    from pydantic_core import to_jsonable_python

    if isinstance(result, str):
        return result
    return json.dumps(to_jsonable_python(result, fallback=_fallback), ensure_ascii=False)


def error_text(error: BaseException) -> str:
    """The function_call_output for a tool that raised: {"error": "..."} so the model can recover."""
    return json.dumps({"error": f"{type(error).__name__}: {error}"}, ensure_ascii=False)


# -- helpers --------------------------------------------------------------------------------------


def _literal(values: tuple[Any, ...]) -> dict[str, Any]:
    kinds = {_SIMPLE.get(type(v)) for v in values}
    schema: dict[str, Any] = {"type": kinds.pop()} if len(kinds) == 1 and None not in kinds else {}
    schema["enum"] = list(values)
    return schema


def _pydantic_schema(annotation: Any) -> dict[str, Any]:
    """Dataclasses, TypedDicts and pydantic models through pydantic, with $refs inlined."""
    from pydantic import TypeAdapter

    try:
        schema = TypeAdapter(annotation).json_schema()
    except Exception as err:
        raise TypeError(f"Cannot describe the type {annotation!r} as JSON for a tool; use str, int, float, "
                        f"bool, list, dict, Literal, an Enum, a dataclass or a pydantic model.") from err
    definitions = schema.pop("$defs", {})
    return _strip_titles(_inline(schema, definitions))


def _inline(node: Any, definitions: Mapping[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline(definitions[node["$ref"].rsplit("/", 1)[-1]], definitions)
        return {k: _inline(v, definitions) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, definitions) for v in node]
    return node


def _strip_titles(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_titles(v) for k, v in node.items() if k != "title" or not isinstance(v, str)}
    if isinstance(node, list):
        return [_strip_titles(v) for v in node]
    return node


def _fallback(value: Any) -> Any:
    """numpy scalars and arrays as numbers and lists; anything else as its str()."""
    return value.tolist() if hasattr(value, "tolist") else str(value)


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(_plain(value))
    except (TypeError, ValueError):
        return False
    return True


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    return value


_SECTIONS = {"args", "arguments", "parameters", "params", "returns", "return", "raises", "yields",
             "examples", "example", "notes", "note", "see also", "attributes", "other parameters"}


def _section(line: str) -> str | None:
    name = line.strip().rstrip(":").lower()
    return name if name in _SECTIONS else None


def _google_args(lines: list[str]) -> dict[str, str]:
    docs: dict[str, str] = {}
    inside, indent, current, docs_indent = False, 0, None, 0
    for line in lines:
        stripped = line.strip()
        if stripped.rstrip(":").lower() in ("args", "arguments", "parameters", "params") and stripped.endswith(":"):
            inside, indent, current = True, len(line) - len(line.lstrip()), None
            continue
        if not inside:
            continue
        depth = len(line) - len(line.lstrip())
        if stripped and depth <= indent:
            break  # the next section
        match = re.match(r"^\*{0,2}(\w+)\s*(\([^)]*\))?\s*:\s*(.*)$", stripped)
        if match and (current is None or depth <= docs_indent):
            current, docs_indent = match.group(1), depth
            docs[current] = match.group(3).strip()
        elif current and stripped:
            docs[current] = f"{docs[current]} {stripped}".strip()
    return docs


def _numpy_args(lines: list[str]) -> dict[str, str]:
    docs: dict[str, str] = {}
    current = None
    for index, line in enumerate(lines):
        stripped = line.strip()
        nxt = lines[index + 1].strip() if index + 1 < len(lines) else ""
        if stripped.lower() in ("parameters", "other parameters") and set(nxt) == {"-"}:
            current = ""
            continue
        if current is None or set(stripped) == {"-"}:
            continue
        if stripped and set(nxt) == {"-"} and not line.startswith(" "):
            break  # the next section header
        match = re.match(r"^(\w+)\s*(:.*)?$", stripped)
        if match and not line.startswith((" ", "\t")):
            current = match.group(1)
            docs[current] = ""
        elif current and stripped:
            docs[current] = f"{docs[current]} {stripped}".strip()
    return docs
