"""What the local assistant says and which tool it calls: deterministic, documented rules."""

from __future__ import annotations

import pytest

from realtime_kit.server.protocol import default_session, merge_session
from realtime_kit.server.responder import ToolCall, TurnContext, build_arguments, choose_tool, reply

pytestmark = pytest.mark.pure

SESSION = default_session("gpt-realtime", "sess_1", 0)


def answer(text: str | None, **context) -> str:
    return reply(TurnContext(user_text=text, session=context.pop("session", SESSION), **context))


@pytest.mark.parametrize(("said", "expected"), [
    ("Please assist the user.", "Sure, I'm here to help. What would you like to do or know about?"),
    ("hello", "Hello! I'm the local realtime assistant, speaking with the alloy voice. How can I help?"),
    ("How are you?", "I'm doing well, thank you for asking! I'm ready whenever you are."),
    ("the cat sat on the mat", "You said: The cat sat on the mat."),
    ("repeat after me: the rain in Spain", "The rain in Spain."),
    ("count to 5", "1, 2, 3, 4, 5."),
    ("what is 12 divided by 4", "12 divided by 4 is 3."),
    ("what is 1 divided by 0", "Dividing by zero has no answer."),
    ("thanks a lot", "You're welcome! Anything else?"),
])
def test_rules_answer_in_the_documented_way(said, expected):
    """Each documented rule gives its documented sentence."""
    assert answer(said) == expected


def test_different_inputs_give_different_answers_and_same_input_the_same():
    """Echoes differ by input; the same input always gives the same answer."""
    assert answer("blue whales sing") != answer("red pandas climb")
    assert answer("blue whales sing") == answer("blue whales sing")


def test_settings_question_describes_the_session():
    """Asked about settings, it names voice, turn detection, transcription, tools and instructions."""
    session = merge_session(SESSION, {"type": "realtime", "instructions": "Talk like a tour guide in Rome.",
                                      "tools": [{"type": "function", "name": "get_weather"}],
                                      "audio": {"output": {"voice": "sage", "speed": 1.25},
                                                "input": {"transcription": {"model": "whisper-1"}}}})
    text = answer("What are your settings?", session=session, instructions=session["instructions"])
    for fact in ("sage voice", "1.25 times", "server VAD with threshold 0.5", "200 milliseconds of silence",
                 "whisper-1", "get_weather", "Talk like a tour guide"):
        assert fact in text


def test_settings_without_turn_detection_say_commits_are_manual():
    """With turn_detection null, it says it waits for a commit."""
    session = merge_session(SESSION, {"type": "realtime", "audio": {"input": {"turn_detection": None}}})
    assert "wait for you to commit" in answer("tell me your config", session=session)


def test_style_instructions_change_the_answer():
    """One word, brevity and pirate instructions are honoured."""
    assert answer("How are you?", instructions="Answer in one word.") == "Great."
    assert answer("How are you?", instructions="Be brief.") == "I'm doing well, thank you for asking!"
    assert answer("hello", instructions="Speak like a pirate.").startswith("Arr! Hello!")


def test_memory_and_counts_without_a_clock():
    """It recalls the previous message and reports counts instead of the wall-clock time."""
    assert answer("what did I say?", earlier_user_texts=("cats are great",)) == "Before this, you said: Cats are great."
    text = answer("what time is it?", user_messages=3, responses_so_far=2)
    assert "3 messages" in text and "2 times" in text


def test_empty_input_introduces_or_asks_again():
    """No message: an introduction; speech without words: a request to repeat."""
    assert answer(None).startswith("Hello! I'm the local realtime assistant.")
    assert "could not make out" in answer("", from_audio=True)


def test_tool_result_is_spoken():
    """A function output (JSON) is read back as "key value" pairs."""
    assert answer(None, tool_result=("get_time", '{"hour": 9, "minute": 30}')) == \
        "The get_time tool says: hour 9, minute 30."
    assert answer(None, tool_result=("lookup", "plain text")) == "The lookup tool says: plain text."


TOOLS = [
    {"type": "function", "name": "get_weather", "description": "Weather forecast for a city",
     "parameters": {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}}},
    {"type": "function", "name": "set_alarm", "description": "Set an alarm clock",
     "parameters": {"type": "object", "required": ["hour", "enabled"], "properties": {
         "hour": {"type": "integer", "minimum": 0, "maximum": 23}, "enabled": {"type": "boolean"}}}},
]


def test_choose_tool_follows_mentions_and_tool_choice():
    """Mentioned tools are called; required/forced/none behave as documented."""
    assert choose_tool("any forecasts for New York?", TOOLS) == ToolCall("get_weather", {"city": "New York"})
    assert choose_tool("wake me with an alarm at 7, yes", TOOLS) == ToolCall("set_alarm", {"hour": 7, "enabled": True})
    assert choose_tool("tell me a joke", TOOLS) is None
    assert choose_tool("tell me a joke", TOOLS, "required") == ToolCall("get_weather", {"city": "tell me a joke"})
    forced = choose_tool("tell me a joke", TOOLS, {"type": "function", "name": "set_alarm"})
    assert forced == ToolCall("set_alarm", {"hour": 0, "enabled": False})
    assert choose_tool("weather in Rome", TOOLS, "none") is None


def test_build_arguments_satisfies_the_schema():
    """Quoted strings, numbers clamped to bounds, enums, arrays and nested objects are filled."""
    schema = {"type": "object", "required": ["name", "count", "mode", "tags", "where"], "properties": {
        "name": {"type": "string"}, "count": {"type": "integer", "maximum": 10},
        "mode": {"type": "string", "enum": ["fast", "slow"]},
        "tags": {"type": "array", "items": {"type": "string", "enum": ["red", "green", "blue"]}},
        "where": {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}},
        "optional_enum": {"type": "string", "enum": ["alpha", "beta"]}, "ignored": {"type": "string"}}}
    args = build_arguments(schema, 'call it "Project X", 50 items, slow, red and blue, in Lisbon, beta')
    assert args == {"name": "Project X", "count": 10, "mode": "slow", "tags": ["red", "blue"],
                    "where": {"city": "Lisbon"}, "optional_enum": "beta"}
    with_default = {"type": "object", "required": ["n"], "properties": {"n": {"type": "number", "default": 2.5}}}
    assert build_arguments(with_default, "") == {"n": 2.5}
    assert build_arguments(None, "anything") == {}


@pytest.mark.parametrize(("spoken", "answer"), [("What is six times seven?", "6 times 7 is 42."),
                                                ("what is twenty one plus nineteen", "21 plus 19 is 40."),
                                                ("one hundred divided by four", "100 divided by 4 is 25.")])
def test_arithmetic_understands_number_words(spoken, answer):
    """Speech recognition writes numbers as words; the arithmetic rule answers them like digits."""
    assert reply(TurnContext(user_text=spoken)) == answer


def test_count_understands_number_words():
    """"count to ten" counts to 10, as "count to 10" does."""
    assert reply(TurnContext(user_text="count to ten")) == reply(TurnContext(user_text="count to 10"))
