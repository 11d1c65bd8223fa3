"""Python functions as function tools: schema from signature, hints and docstring; calling them."""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
from typing import Annotated, Any, Literal

import pytest

from realtime_kit.session.tools import (
    call_function,
    error_text,
    function_tool,
    json_schema,
    output_text,
    parse_docstring,
)
from realtime_kit.spec import validate_session

pytestmark = pytest.mark.pure


class Unit(enum.Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


@dataclasses.dataclass
class Point:
    x: float
    y: float


def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius", days: int | None = None) -> str:
    """Current weather for a city.

    Args:
        city: The city name, e.g. "Paris".
        unit: Temperature unit,
            celsius unless asked otherwise.
        days (int): How many days ahead.

    Returns:
        A sentence about the weather.
    """
    return f"Sunny in {city}"


def numpy_style(total: float, parts: list[int], verbose: bool = False) -> float:
    """Split a total.

    Parameters
    ----------
    total : float
        The amount to split.
    parts : list of int
        Weights of
        the parts.
    verbose : bool, optional
        Say more.

    Returns
    -------
    float
    """
    return total


def test_google_docstring_and_hints_make_the_schema() -> None:
    """Name, summary, types, Literal enum, arg docs and required come from the function."""
    schema = function_tool(get_weather).schema
    assert schema["type"] == "function" and schema["name"] == "get_weather"
    assert schema["description"] == "Current weather for a city."
    props = schema["parameters"]["properties"]
    assert props["city"] == {"type": "string", "description": 'The city name, e.g. "Paris".'}
    assert props["unit"]["enum"] == ["celsius", "fahrenheit"] and props["unit"]["type"] == "string"
    assert props["unit"]["description"] == "Temperature unit, celsius unless asked otherwise."
    assert props["days"]["type"] == "integer" and props["days"]["description"] == "How many days ahead."
    assert schema["parameters"]["required"] == ["city"]


def test_numpy_docstring_args_become_descriptions() -> None:
    """NumPy-style 'Parameters' sections are parsed, continuation lines joined."""
    props = function_tool(numpy_style).parameters["properties"]
    assert props["total"] == {"type": "number", "description": "The amount to split."}
    assert props["parts"] == {"type": "array", "items": {"type": "integer"}, "description": "Weights of the parts."}
    assert props["verbose"]["type"] == "boolean"
    assert function_tool(numpy_style).parameters["required"] == ["total", "parts"]


def test_tool_schema_is_accepted_in_a_ga_session() -> None:
    """The generated entry validates as a GA session tool against the SDK."""
    validate_session({"type": "realtime", "tools": [function_tool(get_weather).schema]})


@pytest.mark.parametrize(("hint", "expected"), [
    (str, {"type": "string"}),
    (int | None, {"type": "integer"}),
    (list[str], {"type": "array", "items": {"type": "string"}}),
    (dict[str, int], {"type": "object"}),
    (Literal[1, 2], {"type": "integer", "enum": [1, 2]}),
    (Unit, {"type": "string", "enum": ["celsius", "fahrenheit"]}),
    (Annotated[str, "A name."], {"type": "string", "description": "A name."}),
    (int | str, {"anyOf": [{"type": "integer"}, {"type": "string"}]}),
    (Any, {}),
])
def test_type_hints_map_to_json_schema(hint: Any, expected: dict) -> None:
    """Common hints map onto JSON schema; Optional drops None; Enum and Literal become enum."""
    assert json_schema(hint) == expected


def test_dataclass_parameters_are_inlined_objects() -> None:
    """A dataclass hint becomes an inline object schema (no $ref, no titles)."""
    schema = json_schema(Point)
    assert schema["type"] == "object" and set(schema["properties"]) == {"x", "y"}
    assert "$ref" not in json.dumps(schema) and "title" not in schema


def test_undescribable_hint_says_what_works() -> None:
    """A hint that cannot become JSON raises TypeError listing the supported kinds."""
    with pytest.raises(TypeError, match="use str, int, float"):
        json_schema(asyncio.Event)


def test_defaults_are_not_required_and_shown() -> None:
    """Parameters with defaults are optional; JSON-able defaults are included."""
    params = function_tool(get_weather).parameters
    assert "unit" not in params["required"] and params["properties"]["unit"]["default"] == "celsius"
    assert "default" not in params["properties"]["days"]


def test_parse_docstring_returns_summary_and_args() -> None:
    """parse_docstring returns the first paragraph and the documented arguments."""
    summary, args = parse_docstring("Do a thing\nover two lines.\n\nArgs:\n    a: first.\n")
    assert summary == "Do a thing over two lines." and args == {"a": "first."}


async def test_call_sync_and_async_functions_with_json_arguments() -> None:
    """call_function parses JSON arguments, coerces them to the hints, and awaits coroutines."""
    async def double(x: int) -> int:
        return x * 2

    assert await call_function(double, '{"x": "4"}') == 8
    assert await call_function(get_weather, {"city": "Oslo"}) == "Sunny in Oslo"


async def test_bad_arguments_raise_a_clear_error() -> None:
    """Invalid JSON or missing arguments raise errors whose text can go back to the model."""
    with pytest.raises(ValueError, match="not valid JSON"):
        await call_function(get_weather, "{city")
    with pytest.raises(ValueError, match="city"):
        await call_function(get_weather, {})


def test_outputs_are_strings_for_the_model() -> None:
    """Results become function_call_output text: str as is, others JSON; errors as {"error": ...}."""
    assert output_text("done") == "done"
    assert json.loads(output_text({"t": 21, "u": Unit.CELSIUS})) == {"t": 21, "u": "celsius"}
    assert json.loads(error_text(KeyError("city"))) == {"error": "KeyError: 'city'"}


def test_non_callable_is_refused() -> None:
    """function_tool refuses things that are not functions, saying what to pass."""
    with pytest.raises(TypeError, match="pass the function itself"):
        function_tool("get_weather")  # type: ignore[arg-type]
