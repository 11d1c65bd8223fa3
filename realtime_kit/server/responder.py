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
    "A plus/minus/times/divided by B"   the arithmetic result (digits or spoken words: "six times seven")
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

Function tools (in `tool_calls`, importable from here too): `choose_tool` calls a tool when the
user's words mention it (see its docstring), and `build_arguments` fills the tool's JSON schema
from the user's words.

    >>> reply(TurnContext(user_text="hello"))
    "Hello! I'm the local realtime assistant, speaking with the alloy voice. How can I help?"
    >>> reply(TurnContext(user_text="what is 6 times 7"))
    '6 times 7 is 42.'
    >>> reply(TurnContext(user_text="the sky is green", instructions="Answer in one word."))
    'Green.'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .tool_calls import ToolCall, build_arguments, choose_tool
from .wire import dig
from .wording import as_sentence, key_word, last_word, plural, speakable_output, spoken_number

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
    images: tuple[str, ...] = ()                  # descriptions of the images in the latest user message


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
    if context.images:
        return _image_answer(context.images)
    text = (context.user_text or "").strip()
    if not text:
        return _silent_answer(context.from_audio)
    lowered = text.lower()
    for rule in _RULES:
        answer = rule(lowered, text, context)
        if answer is not None:
            return answer
    return _echo(text)


def _image_answer(images: tuple[str, ...]) -> _Answer:
    """What the local assistant can truly say about pictures: their size and main colours (server/images.py)."""
    if len(images) == 1:
        return _Answer(f"I can't see pictures, but I measured yours: it is {images[0]}.", "picture")
    listed = "; ".join(f"picture {n} is {text}" for n, text in enumerate(images, 1))
    return _Answer(f"I can't see pictures, but I measured yours: {listed}.", "pictures")


def _tool_answer(name: str, output: str) -> _Answer:
    spoken = speakable_output(output)
    return _Answer(f"The {name} tool says: {spoken}", last_word(spoken) or name)


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
    earlier = as_sentence(context.earlier_user_texts[-1])
    return _Answer(f"Before this, you said: {earlier}", key_word(earlier))


def _repeat(lowered: str, text: str, context: TurnContext) -> _Answer | None:
    match = re.match(r"^(?:please\s+)?(?:repeat after me|say)\s*[:,]?\s+(.+)$", text, re.IGNORECASE | re.DOTALL)
    if match is None:
        return None
    words = as_sentence(match.group(1).strip().strip("\"'“”"))
    return _Answer(words, key_word(words))


_UNITS = {word: value for value, word in enumerate(
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
     "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"])}
_TENS = {word: 10 * value for value, word in enumerate(
    ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"], start=2)}
_NUMBER_WORD = re.compile(r"\b(?:" + "|".join([*_UNITS, *_TENS, "hundred"]) + r")\b")
_NUMBER_RUN = re.compile(_NUMBER_WORD.pattern + r"(?:(?:[\s-]+|\s+and\s+)" + _NUMBER_WORD.pattern + r")*")


def with_digits(lowered: str) -> str:
    """Spoken numbers as digits, as speech recognition writes them: "six times forty-two" -> "6 times 42".

    >>> with_digits("what is six times seven")
    'what is 6 times 7'
    >>> with_digits("count to twenty one, then one hundred and five")
    'count to 21, then 105'
    """
    return _NUMBER_RUN.sub(lambda run: " ".join(str(n) for n in _numbers(run.group(0))), lowered)


def _numbers(words: str) -> list[int]:
    """The numbers a run of number words says ("twenty one" is 21; "two three" is 2 and 3)."""
    numbers: list[int] = []
    current: int | None = None
    for word in _NUMBER_WORD.findall(words):
        if word == "hundred":
            current = (current or 1) * 100
        elif word in _TENS and (current is None or current % 100 == 0):
            current = (current or 0) + _TENS[word]
        elif word in _UNITS and (current is None or (current % 100 == 0 and _UNITS[word] > 0)
                                 or (current % 100 >= 20 and current % 10 == 0 and _UNITS[word] < 10)):
            current = (current or 0) + _UNITS[word]
        else:
            numbers.append(current if current is not None else 0)
            current = _TENS.get(word, _UNITS.get(word, 0))
    return [*numbers, current] if current is not None else numbers


def _count(lowered: str, text: str, context: TurnContext) -> _Answer | None:
    match = re.search(r"\bcount (?:to|up to) (\d+)\b", with_digits(lowered))
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
    match = _ARITHMETIC.search(with_digits(lowered))
    if match is None:
        return None
    left, operator, right = match.groups()
    result = _OPERATORS[operator](float(left), float(right))
    if result is None:
        return _Answer("Dividing by zero has no answer.", "Undefined.")
    shown = spoken_number(result)
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
    messages = plural(context.user_messages, "message")
    answers = plural(context.responses_so_far, "time")
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
    said = as_sentence(text)
    return _Answer(f"You said: {said}", key_word(said))


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
    audio_in = dig(session, "audio", "input") or {}
    parts = [
        _voice_sentence(session),
        _turn_detection_sentence(audio_in.get("turn_detection")),
        _transcription_sentence(audio_in.get("transcription")),
        _tools_sentence(session.get("tools") or []),
        _instructions_sentence(instructions or session.get("instructions") or ""),
    ]
    return " ".join(parts)


def _voice_sentence(session: Mapping[str, Any]) -> str:
    speed = dig(session, "audio", "output", "speed")
    pace = "normal speed" if speed in (None, 1, 1.0) else f"{spoken_number(float(speed))} times normal speed"
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
    return (f"Turn detection is server VAD with threshold {spoken_number(float(turn.get('threshold', 0.5)))}, "
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
    return f"I can call {plural(len(names), 'tool')}: {', '.join(names)}."


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


def _voice(session: Mapping[str, Any]) -> str:
    voice = dig(session, "audio", "output", "voice")
    return str(voice) if voice else "alloy"

