"""What the local assistant says: deterministic rules, no model, no wall clock, no randomness.

The local server stands in for gpt-realtime in class, so its answers show what the session did
(what it heard, how it is configured) rather than pretend to be clever. Same input, same answer.

How a reply is chosen (first rule that matches the latest user message wins):

    a function_call_output came back    "The get_weather tool says: temperature 21, sky clear."
    speech with no words recognised     "I heard you, but I could not make out any words. ..."
    no user message at all              a short introduction
    "settings" / "configured" / "config" voice, speed, output, turn detection, transcription, tools
                                        and the first words of the instructions
    "what did I say"                    the user message before this one
    "repeat after me: X" / "say X"      X
    "count to N" (N <= 50)              "1, 2, 3, ..., N."  (handy long audio for interruptions)
    "A plus/minus/times/divided by B"   the arithmetic result
    "story"                             a fixed five-sentence story (long audio for truncation)
    "time"                              no clock here: the number of messages and answers so far
    "how are you"                       "I'm doing well, thank you for asking! ..."
    hello / hi / hey / good morning     a greeting that names the voice
    "your name" / "who are you"         who the local assistant is
    "what can you do"                   the list of these rules, briefly
    "help" / "assist"                   "Sure, I'm here to help. What would you like to do or know about?"
    thanks / bye                        "You're welcome! ..." / "Goodbye! ..."
    anything else                       "You said: <the message>."

Instructions (the session's, or the response's override) change the style when they ask for one
of these (case-insensitive):

    "one word" / "single word"                          one word: the key word of the answer
    "brief", "concise", "succinct", "short", "one sentence"  only the first sentence
    "pirate"                                            "Arr! " in front, ", matey." at the end

Function tools: `choose_tool` calls a tool when the user's words mention it (see its docstring),
and `build_arguments` fills the tool's JSON schema from the user's words.

    >>> reply(TurnContext(user_text="hello"))
    "Hello! I'm the local realtime assistant, speaking with the alloy voice. How can I help?"
    >>> reply(TurnContext(user_text="what is 6 times 7"))
    '6 times 7 is 42.'
    >>> reply(TurnContext(user_text="the sky is green", instructions="Answer in one word."))
    'Green.'
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ToolCall", "TurnContext", "build_arguments", "choose_tool", "reply", "settings_summary"]


@dataclass(frozen=True)
class TurnContext:
    """Everything the local assistant looks at to answer one turn.

    ``session`` is the effective session for this response (per-response overrides applied),
    shaped like ``session.updated``'s ``session``.
    """

    user_text: str | None = None                  # latest user message (typed, or transcribed speech)
    from_audio: bool = False                      # the latest user message was speech
    earlier_user_texts: tuple[str, ...] = ()      # older user messages, oldest first
    instructions: str = ""
    session: Mapping[str, Any] = field(default_factory=dict)
    user_messages: int = 0                        # user messages in the conversation so far
    responses_so_far: int = 0                     # assistant responses before this one
    tool_result: tuple[str, str] | None = None    # (tool name, output) when answering a function_call_output


@dataclass(frozen=True)
class ToolCall:
    """A function call the local assistant decided to make: tool name and JSON-ready arguments."""

    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class _Answer:
    text: str
    word: str  # the one-word form, for "answer in one word"


def reply(context: TurnContext) -> str:
    """The assistant's reply to ``context``, styled by its instructions.

    >>> reply(TurnContext(user_text="Please assist the user."))
    "Sure, I'm here to help. What would you like to do or know about?"
    """
    answer = _answer(context)
    return _apply_style(answer, context.instructions)


# -- rules -----------------------------------------------------------------------------------------


def _answer(context: TurnContext) -> _Answer:
    if context.tool_result is not None:
        return _tool_answer(*context.tool_result)
    text = (context.user_text or "").strip()
    if not text:
        return _silent_answer(context.from_audio)
    lowered = text.lower()
    for rule in _RULES:
        answer = rule(lowered, text, context)
        if answer is not None:
            return answer
    return _echo(text)


def _tool_answer(name: str, output: str) -> _Answer:
    spoken = _speakable_output(output)
    return _Answer(f"The {name} tool says: {spoken}", _last_word(spoken) or name)


def _silent_answer(from_audio: bool) -> _Answer:
    if from_audio:
        return _Answer("I heard you, but I could not make out any words. Could you say that again?", "Pardon?")
    return _Answer("Hello! I'm the local realtime assistant. Ask me anything, or ask what my settings are.",
                   "Hello.")


def _settings(lowered: str, text: str, context: TurnContext) -> _Answer | None:
    if not re.search(r"\b(settings?|configured|configuration|config)\b", lowered):
        return None
    return _Answer(settings_summary(context.session, context.instructions), f"{_voice(context.session)}.")


def _what_did_i_say(lowered: str, text: str, context: TurnContext) -> _Answer | None:
    if not re.search(r"\bwhat did i (just )?(say|said|write|ask)\b", lowered):
        return None
    if not context.earlier_user_texts:
        return _Answer("This is the first thing you said in this session.", "Nothing.")
    earlier = _sentence(context.earlier_user_texts[-1])
    return _Answer(f"Before this, you said: {earlier}", _key_word(earlier))


def _repeat(lowered: str, text: str, context: TurnContext) -> _Answer | None:
    match = re.match(r"^(?:please\s+)?(?:repeat after me|say)\s*[:,]?\s+(.+)$", text, re.IGNORECASE | re.DOTALL)
    if match is None:
        return None
    words = _sentence(match.group(1).strip().strip("\"'“”"))
    return _Answer(words, _key_word(words))


def _count(lowered: str, text: str, context: TurnContext) -> _Answer | None:
    match = re.search(r"\bcount (?:to|up to) (\d+)\b", lowered)
    if match is None:
        return None
    target = min(int(match.group(1)), 50)  # long enough for an interruption demo, short enough to listen to
    if target < 1:
        return _Answer("There is nothing to count.", "Zero.")
    return _Answer(", ".join(str(n) for n in range(1, target + 1)) + ".", f"{target}.")


_OPERATORS: dict[str, Callable[[float, float], float | None]] = {
    "plus": lambda a, b: a + b, "+": lambda a, b: a + b,
    "minus": lambda a, b: a - b, "-": lambda a, b: a - b,
    "times": lambda a, b: a * b, "x": lambda a, b: a * b, "*": lambda a, b: a * b,
    "multiplied by": lambda a, b: a * b,
    "divided by": lambda a, b: a / b if b else None, "/": lambda a, b: a / b if b else None,
}
_ARITHMETIC = re.compile(
    r"(-?\d+(?:\.\d+)?)\s*(plus|minus|times|multiplied by|divided by|[+\-*/x])\s*(-?\d+(?:\.\d+)?)")


def _arithmetic(lowered: str, text: str, context: TurnContext) -> _Answer | None:
    match = _ARITHMETIC.search(lowered)
    if match is None:
        return None
    left, operator, right = match.groups()
    result = _OPERATORS[operator](float(left), float(right))
    if result is None:
        return _Answer("Dividing by zero has no answer.", "Undefined.")
    shown = _number(result)
    return _Answer(f"{left} {operator} {right} is {shown}.", f"{shown}.")


_STORY = (
    "Once upon a time, a small robot lived in a lighthouse by the sea. "
    "Every night it counted the ships that passed and sang to them in a quiet voice. "
    "One stormy evening, a fishing boat lost its way in the fog. "
    "The robot sang louder than ever, and the sailors followed its song safely home. "
    "From then on, the whole village left the lighthouse door open, so the robot was never alone."
)


def _story(lowered: str, text: str, context: TurnContext) -> _Answer | None:
    return _Answer(_STORY, "Lighthouse.") if re.search(r"\bstor(y|ies)\b", lowered) else None


def _time(lowered: str, text: str, context: TurnContext) -> _Answer | None:
    if not re.search(r"\b(what time|the time|what day|date today|today's date)\b", lowered):
        return None
    messages = _plural(context.user_messages, "message")
    answers = _plural(context.responses_so_far, "time")
    return _Answer(f"I don't read a clock, so every run sounds the same. In this session you have sent "
                   f"{messages} and I have answered {answers}.", "Unknown.")


def _how_are_you(lowered: str, text: str, context: TurnContext) -> _Answer | None:
    if not re.search(r"\bhow are (you|things)\b|\bhow's it going\b", lowered):
        return None
    return _Answer("I'm doing well, thank you for asking! I'm ready whenever you are.", "Great.")


def _greeting(lowered: str, text: str, context: TurnContext) -> _Answer | None:
    if not re.match(r"^(hello|hi|hey|hiya|greetings|good (morning|afternoon|evening))\b", lowered):
        return None
    return _Answer(f"Hello! I'm the local realtime assistant, speaking with the {_voice(context.session)} voice. "
                   "How can I help?", "Hello.")


def _identity(lowered: str, text: str, context: TurnContext) -> _Answer | None:
    if not re.search(r"\b(your name|who are you|what are you)\b", lowered):
        return None
    return _Answer("I'm the realtime-kit local assistant, an offline stand-in for gpt-realtime. "
                   "I follow simple rules, so you can predict what I'll say.", "Local.")


def _capabilities(lowered: str, text: str, context: TurnContext) -> _Answer | None:
    if not re.search(r"\bwhat can you do\b|\bwhat do you do\b", lowered):
        return None
    return _Answer("I can repeat what you said, describe my settings, count, do simple sums, tell a short "
                   "story, and call the session's tools when you mention them.", "Rules.")


def _help(lowered: str, text: str, context: TurnContext) -> _Answer | None:
    if not re.search(r"\b(help|assist|assistance)\b", lowered):
        return None
    return _Answer("Sure, I'm here to help. What would you like to do or know about?", "Sure.")


def _thanks(lowered: str, text: str, context: TurnContext) -> _Answer | None:
    if not re.search(r"\b(thanks|thank you|cheers)\b", lowered):
        return None
    return _Answer("You're welcome! Anything else?", "Welcome.")


def _goodbye(lowered: str, text: str, context: TurnContext) -> _Answer | None:
    if not re.search(r"\b(bye|goodbye|see you)\b", lowered):
        return None
    return _Answer("Goodbye! It was nice talking with you.", "Goodbye.")


def _echo(text: str) -> _Answer:
    said = _sentence(text)
    return _Answer(f"You said: {said}", _key_word(said))


_Rule = Callable[[str, str, TurnContext], _Answer | None]
_RULES: tuple[_Rule, ...] = (
    _settings, _what_did_i_say, _repeat, _count, _arithmetic, _story, _time, _how_are_you,
    _greeting, _identity, _capabilities, _help, _thanks, _goodbye,
)


# -- settings --------------------------------------------------------------------------------------


def settings_summary(session: Mapping[str, Any], instructions: str = "") -> str:
    """A spoken description of a GA session: voice, output, turn detection, transcription, tools.

    >>> settings_summary({"audio": {"output": {"voice": "ash"}}, "output_modalities": ["text"]})[:45]
    'I speak with the ash voice at normal speed, a'
    """
    audio_in = _get(session, "audio", "input") or {}
    parts = [
        _voice_sentence(session),
        _turn_detection_sentence(audio_in.get("turn_detection")),
        _transcription_sentence(audio_in.get("transcription")),
        _tools_sentence(session.get("tools") or []),
        _instructions_sentence(instructions or session.get("instructions") or ""),
    ]
    return " ".join(parts)


def _voice_sentence(session: Mapping[str, Any]) -> str:
    speed = _get(session, "audio", "output", "speed")
    pace = "normal speed" if speed in (None, 1, 1.0) else f"{_number(float(speed))} times normal speed"
    modalities = session.get("output_modalities") or ["audio"]
    answer = "text only" if "audio" not in modalities else "speech with a transcript"
    return f"I speak with the {_voice(session)} voice at {pace}, and I answer with {answer}."


def _turn_detection_sentence(turn: Mapping[str, Any] | None) -> str:
    if not turn:
        return "Turn detection is off, so I wait for you to commit your audio."
    automatic = "I reply automatically when you stop" if turn.get("create_response", True) \
        else "I do not reply on my own"
    if turn.get("type") == "semantic_vad":
        return f"Turn detection is semantic VAD with {turn.get('eagerness', 'auto')} eagerness; {automatic}."
    return (f"Turn detection is server VAD with threshold {_number(float(turn.get('threshold', 0.5)))}, "
            f"{turn.get('prefix_padding_ms', 300)} milliseconds of padding and "
            f"{turn.get('silence_duration_ms', 200)} milliseconds of silence to end a turn; {automatic}.")


def _transcription_sentence(transcription: Mapping[str, Any] | None) -> str:
    if not transcription:
        return "Input transcription is off."
    return f"Input transcription is on, with {transcription.get('model') or 'the default model'}."


def _tools_sentence(tools: Sequence[Mapping[str, Any]]) -> str:
    names = [str(tool.get("name") or tool.get("server_label") or "unnamed") for tool in tools]
    if not names:
        return "I have no tools."
    return f"I can call {_plural(len(names), 'tool')}: {', '.join(names)}."


def _instructions_sentence(instructions: str) -> str:
    words = instructions.split()
    if not words:
        return "I have no instructions."
    summary = " ".join(words[:12]) + (" ..." if len(words) > 12 else "")
    return f"My instructions begin: {summary}"


# -- style -----------------------------------------------------------------------------------------


def _apply_style(answer: _Answer, instructions: str) -> str:
    lowered = instructions.lower()
    if re.search(r"\b(one|single|1)[- ]word\b", lowered):
        text = answer.word
    elif re.search(r"\b(brief|briefly|concise|succinct|short|one sentence)\b", lowered):
        text = _first_sentence(answer.text)
    else:
        text = answer.text
    if "pirate" in lowered:
        text = f"Arr! {text.rstrip('.!?')}, matey."
    return text


def _first_sentence(text: str) -> str:
    match = re.match(r"(.+?[.!?])(\s|$)", text)
    return match.group(1) if match else text


# -- tools -----------------------------------------------------------------------------------------

# Words that say nothing about which tool is meant (generic verbs, question words, fillers).
_STOPWORD_TEXT = (
    "a an the and or but if of to in on at by for with from into about as is are was were be been am do does "
    "did get gets set sets fetch find look lookup return returns call calls use uses using tool tools function "
    "current given some any this that these those what when where which who whom how why can could would "
    "should will shall may might please tell me my you your our we it its it's give show check make let")
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


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
    said = {_stem(word) for word in _words(text)}
    keywords = {_stem(word) for word in _keywords(tool)}
    exact = 10 if str(tool["name"]).lower() in text.lower() else 0
    return exact + len(said & keywords)


def _keywords(tool: Mapping[str, Any]) -> list[str]:
    name = re.sub(r"([a-z])([A-Z])", r"\1 \2", str(tool.get("name", "")))
    words = _words(name.replace("_", " ").replace("-", " ")) + _words(str(tool.get("description") or ""))
    return [word for word in words if len(word) >= 3 and word not in _STOPWORDS]


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
    words = set(_words(evidence.text))
    if words & {"yes", "true", "on", "enable", "enabled"}:
        return True
    if words & {"no", "false", "off", "disable", "disabled"}:
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
    said = {_stem(word) for word in _words(text)}
    lowered = text.lower()
    return [option for option in options
            if (_stem(str(option).lower()) in said) or (" " in str(option) and str(option).lower() in lowered)]


def _place(text: str) -> str | None:
    """Capitalised words that are not the sentence's first word ("New York"), else the word after in/at/for."""
    tokens = re.findall(r"[A-Za-z][\w'-]*", text)
    runs: list[list[str]] = []
    for index, token in enumerate(tokens):
        if index > 0 and token[0].isupper() and token.lower() not in _STOPWORDS and token != "I":
            if runs and runs[-1][-1] == tokens[index - 1]:
                runs[-1].append(token)
            else:
                runs.append([token])
    if runs:
        return " ".join(runs[0])
    match = re.search(r"\b(?:in|at|for|near|from)\s+([A-Za-z][\w'-]*)", text, re.IGNORECASE)
    return match.group(1) if match and match.group(1).lower() not in _STOPWORDS else None


# -- small helpers ---------------------------------------------------------------------------------


def _speakable_output(output: str) -> str:
    """A function output as a sentence: JSON objects become "key value, key value"."""
    try:
        data = json.loads(output)
    except ValueError:
        data = output
    if isinstance(data, Mapping):
        spoken = ", ".join(f"{key.replace('_', ' ')} {_plain(value)}" for key, value in data.items())
    else:
        spoken = _plain(data)
    spoken = spoken.strip() or "nothing"
    if len(spoken) > 300:
        spoken = spoken[:297].rstrip() + "..."
    return spoken if spoken.endswith((".", "!", "?")) else spoken + "."


def _plain(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return _number(value)
    return json.dumps(value) if isinstance(value, list | dict) else str(value)


def _sentence(text: str) -> str:
    """Text with its first letter capitalised and closing punctuation."""
    text = " ".join(text.split())
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def _key_word(text: str) -> str:
    """The longest word (first on ties), capitalised, with a full stop: the one-word answer."""
    words = [word for word in _words(text) if word not in _STOPWORDS] or _words(text) or ["okay"]
    longest = max(words, key=len)
    return longest[0].upper() + longest[1:] + "."


def _last_word(text: str) -> str:
    words = _words(text)
    return (words[-1].capitalize() + ".") if words else ""


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text.lower())


def _stem(word: str) -> str:
    """A crude plural fold so "cities" ~ "city" and "forecasts" ~ "forecast"."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.4g}"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _voice(session: Mapping[str, Any]) -> str:
    voice = _get(session, "audio", "output", "voice")
    return str(voice) if voice else "alloy"


def _get(mapping: Mapping[str, Any], *keys: str) -> Any:
    node: Any = mapping
    for key in keys:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node
