"""What a session costs: a dated price table per model, and usage priced per modality, cached input apart.

Prices are USD per million tokens, as published on each model's page. They change: override one in
place, or pass your own table to `cost_of`, `rk.Experiment(prices=...)`::

    >>> usage = {"input_token_details": {"text_tokens": 1000, "audio_tokens": 500, "cached_tokens": 400,
    ...          "cached_tokens_details": {"text_tokens": 400, "audio_tokens": 0}},
    ...          "output_token_details": {"text_tokens": 100, "audio_tokens": 1000}}
    >>> cost = cost_of(usage, "gpt-realtime")
    >>> round(cost.total, 6), round(cost.text_cached, 6)
    (0.08416, 0.00016)

    PRICES["my-azure-deployment"] = PRICES["gpt-realtime"]       # a deployment named your own way

A usage's `text_tokens` and `audio_tokens` include the cached ones (`cached_tokens_details`); the
cached part is priced at the cached rate and the rest at the input rate. Cached tokens reported
without details are priced as cached text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, TypeVar

__all__ = ["PRICES", "PRICES_CHECKED", "TRANSCRIPTION_PRICES", "Cost", "Price", "TranscriptionPrice", "cost_of",
           "price_for", "total_cost", "transcription_cost", "transcription_model"]


@dataclass(frozen=True)
class Price:
    """USD per million tokens, by modality; `*_cached` is the price of cached input tokens."""

    text_in: float
    text_cached: float
    text_out: float
    audio_in: float
    audio_cached: float
    audio_out: float
    image_in: float = 0.0
    image_cached: float = 0.0


# Checked 2026-11-28 against the model pages at https://developers.openai.com/api/docs/models/<model>
# (gpt-realtime-1.5, gpt-realtime-2, gpt-realtime-2.1, gpt-realtime-2.1-mini, gpt-4o-mini-realtime-preview).
# gpt-realtime and gpt-realtime-mini are priced like their successors' pages compare them ("Quick comparison":
# gpt-realtime-1.5 and gpt-realtime-2.1-mini; same figures as notebook 06 had for gpt-realtime).
# Azure OpenAI bills the same models by deployment (https://azure.microsoft.com/pricing/details/cognitive-services/
# openai-service/); map your deployment name to a model's price as in the module docstring.
PRICES_CHECKED = "2026-11-28"
_REALTIME = Price(text_in=4.00, text_cached=0.40, text_out=16.00, audio_in=32.00, audio_cached=0.40,
                  audio_out=64.00, image_in=5.00, image_cached=0.50)
_REALTIME_2 = Price(text_in=4.00, text_cached=0.40, text_out=24.00, audio_in=32.00, audio_cached=0.40,
                    audio_out=64.00, image_in=5.00, image_cached=0.50)
_MINI = Price(text_in=0.60, text_cached=0.06, text_out=2.40, audio_in=10.00, audio_cached=0.30,
              audio_out=20.00, image_in=0.80, image_cached=0.08)
_4O_MINI_PREVIEW = Price(text_in=0.60, text_cached=0.30, text_out=2.40, audio_in=10.00, audio_cached=0.30,
                         audio_out=20.00)

# The realtime models the installed SDK names (RealtimeSessionCreateRequest.model), where a price was found.
# Not priced here: gpt-4o-realtime-preview* (retired previews) and gpt-audio-* (Chat Completions models).
PRICES: dict[str, Price] = {
    "gpt-realtime": _REALTIME,
    "gpt-realtime-2025-08-28": _REALTIME,
    "gpt-realtime-1.5": _REALTIME,
    "gpt-realtime-2": _REALTIME_2,
    "gpt-realtime-2.1": _REALTIME_2,
    "gpt-realtime-mini": _MINI,
    "gpt-realtime-mini-2025-10-06": _MINI,
    "gpt-realtime-mini-2025-12-15": _MINI,
    "gpt-realtime-2.1-mini": _MINI,
    "gpt-4o-mini-realtime-preview": _4O_MINI_PREVIEW,
    "gpt-4o-mini-realtime-preview-2024-12-17": _4O_MINI_PREVIEW,
}



@dataclass(frozen=True)
class TranscriptionPrice:
    """Input audio transcription: USD per minute of audio, or per million tokens (by what the usage reports)."""

    per_minute: float = math.nan
    audio_in: float = math.nan
    text_in: float = math.nan
    text_out: float = math.nan


# Checked 2026-11-29 on https://developers.openai.com/api/docs/models/<model> ("Pricing"). The service reports
# each transcription's usage in `conversation.item.input_audio_transcription.completed`: {"type": "duration",
# "seconds": N} for models priced by the minute, {"type": "tokens", ...} for the gpt-4o ones.
_PER_TOKEN_4O = TranscriptionPrice(audio_in=2.50, text_in=2.50, text_out=10.00)
_PER_TOKEN_4O_MINI = TranscriptionPrice(audio_in=1.25, text_in=1.25, text_out=5.00)
TRANSCRIPTION_PRICES: dict[str, TranscriptionPrice] = {
    "whisper-1": TranscriptionPrice(per_minute=0.006),
    "gpt-transcribe": TranscriptionPrice(per_minute=0.0045),
    "gpt-live-transcribe": TranscriptionPrice(per_minute=0.017),
    "gpt-realtime-whisper": TranscriptionPrice(per_minute=0.017),
    "gpt-4o-transcribe": _PER_TOKEN_4O,
    "gpt-4o-transcribe-diarize": _PER_TOKEN_4O,
    "gpt-4o-mini-transcribe": _PER_TOKEN_4O_MINI,
    "gpt-4o-mini-transcribe-2025-12-15": _PER_TOKEN_4O_MINI,
}

_SNAPSHOT = re.compile(r"-\d{4}-\d{2}-\d{2}$")


def price_for(model: str | None, prices: Mapping[str, Price] | None = None) -> Price | None:
    """The price of `model` (or of its undated name, for a dated snapshot); None when unknown.

        >>> price_for("gpt-realtime-mini-2026-01-01") == PRICES["gpt-realtime-mini"]
        True
    """
    return _dated_lookup(PRICES if prices is None else prices, model)


_T = TypeVar("_T")


def _dated_lookup(table: Mapping[str, _T], model: str | None) -> _T | None:
    """``table``'s entry for `model`, or for its undated name when it is a dated snapshot; None when unknown."""
    if not model:
        return None
    return table.get(model) or table.get(_SNAPSHOT.sub("", model))


@dataclass(frozen=True)
class Cost:
    """USD per modality; `total` sums them. NaN everywhere when the model has no price (see `note`)."""

    text_in: float = 0.0
    text_cached: float = 0.0
    text_out: float = 0.0
    audio_in: float = 0.0
    audio_cached: float = 0.0
    audio_out: float = 0.0
    image_in: float = 0.0
    image_cached: float = 0.0
    transcription: float = 0.0   # input audio transcription, priced apart (TRANSCRIPTION_PRICES)
    note: str = ""

    @property
    def total(self) -> float:
        """The whole cost in USD."""
        return sum(getattr(self, name) for name in _AMOUNTS)

    def __add__(self, other: Cost) -> Cost:
        amounts = {name: getattr(self, name) + getattr(other, name) for name in _AMOUNTS}
        return Cost(**amounts, note=self.note or other.note)

    def as_dict(self) -> dict[str, float]:
        """Every amount in USD, and the total."""
        return {**{name: getattr(self, name) for name in _AMOUNTS}, "total": self.total}

    def __repr__(self) -> str:
        if math.isnan(self.total):
            return f"Cost(unknown: {self.note})"
        parts = ", ".join(f"{name} ${value:.6f}" for name, value in asdict(self).items()
                          if name != "note" and value)
        return f"Cost(${self.total:.6f}{': ' + parts if parts else ''})"

    def _repr_html_(self) -> str:
        if math.isnan(self.total):
            return f"<div><b>Cost</b> unknown: {self.note}</div>"
        cells = "".join(f"<tr><td>{name.replace('_', ' ')}</td><td>${value:.6f}</td></tr>"
                        for name, value in self.as_dict().items() if value or name == "total")
        return f"<div><b>Cost</b> (prices checked {PRICES_CHECKED})<table>{cells}</table></div>"


_AMOUNTS = tuple(f.name for f in fields(Cost) if f.name != "note")
_TOKEN_AMOUNTS = tuple(f.name for f in fields(Price))   # the amounts a model's token prices make


def tokens_of(usage: Mapping[str, Any] | None) -> dict[str, int]:
    """Tokens per modality of a `response.done` usage, cached input apart from the rest.

        >>> tokens_of({"input_token_details": {"audio_tokens": 30, "cached_tokens": 10,
        ...            "cached_tokens_details": {"audio_tokens": 10}}})["audio_in"]
        20
    """
    usage = usage or {}
    given = usage.get("input_token_details") or {}
    out = usage.get("output_token_details") or {}
    cached = given.get("cached_tokens_details") or {}
    counts: dict[str, int] = {}
    for modality in ("text", "audio", "image"):
        counts[f"{modality}_cached"] = int(cached.get(f"{modality}_tokens") or 0)
    unexplained = int(given.get("cached_tokens") or 0) - sum(counts.values())
    counts["text_cached"] += max(0, unexplained)  # cached tokens without details: priced as cached text
    for modality in ("text", "audio", "image"):
        counts[f"{modality}_in"] = max(0, int(given.get(f"{modality}_tokens") or 0) - counts[f"{modality}_cached"])
    counts["text_out"] = int(out.get("text_tokens") or 0)
    counts["audio_out"] = int(out.get("audio_tokens") or 0)
    return counts


def cost_of(usage: Mapping[str, Any] | None, model: str | None,
            prices: Mapping[str, Price] | None = None) -> Cost:
    """The cost of one response's usage on `model` (per modality; NaN when the model has no price)."""
    price = price_for(model, prices)
    if price is None:
        note = (f"no price for model {model!r}; add one: realtime_kit.experiment.cost.PRICES[{model!r}] = "
                f"Price(...) (or map it to a known model)")
        return Cost(**dict.fromkeys(_AMOUNTS, math.nan), note=note)
    counts = tokens_of(usage)
    return Cost(**{name: counts.get(name, 0) * getattr(price, name) / 1e6 for name in _TOKEN_AMOUNTS})


def total_cost(usages: Iterable[Mapping[str, Any] | None], model: str | None,
               prices: Mapping[str, Price] | None = None, transcriptions: Iterable[Mapping[str, Any]] = (),
               transcription_model: str | None = None,
               transcription_prices: Mapping[str, TranscriptionPrice] | None = None) -> Cost:
    """The summed cost of several responses' usages (a session, a tool-call chain), and of the input audio
    transcriptions' usages on `transcription_model`."""
    total = Cost() if price_for(model, prices) is not None else cost_of(None, model, prices)
    for usage in usages:
        if usage:
            total = total + cost_of(usage, model, prices)
    for usage in transcriptions:
        total = total + transcription_cost(usage, transcription_model, transcription_prices)
    return total


def transcription_model(config: Mapping[str, Any]) -> str | None:
    """The input audio transcription model of a session config (None when transcription is off).

        >>> transcription_model({"audio": {"input": {"transcription": {"model": "whisper-1"}}}})
        'whisper-1'
    """
    transcription = ((config.get("audio") or {}).get("input") or {}).get("transcription") or {}
    return transcription.get("model")


def transcription_cost(usage: Mapping[str, Any] | None, model: str | None,
                       prices: Mapping[str, TranscriptionPrice] | None = None) -> Cost:
    """The cost of one input audio transcription's usage (a Cost with only `transcription` set; NaN with a
    note when the model has no price for the kind of usage reported).

        >>> round(transcription_cost({"type": "duration", "seconds": 30}, "whisper-1").transcription, 6)
        0.003
        >>> transcription_cost({"type": "tokens", "input_tokens": 100, "output_tokens": 10, "input_token_details":
        ...     {"audio_tokens": 100, "text_tokens": 0}}, "gpt-4o-mini-transcribe").transcription
        0.000175
    """
    if not usage:
        return Cost()
    price = _dated_lookup(TRANSCRIPTION_PRICES if prices is None else prices, model)
    if price is None:
        return Cost(transcription=math.nan, note=f"no transcription price for {model!r}; add one: realtime_kit."
                    f"experiment.cost.TRANSCRIPTION_PRICES[{model!r}] = TranscriptionPrice(...)")
    if usage.get("type") == "duration":
        amount = float(usage.get("seconds") or 0) / 60 * price.per_minute
    else:
        details = usage.get("input_token_details") or {}
        audio = int(details.get("audio_tokens") or 0)
        text = int(details.get("text_tokens") or max(0, int(usage.get("input_tokens") or 0) - audio))
        amount = (audio * price.audio_in + text * price.text_in
                  + int(usage.get("output_tokens") or 0) * price.text_out) / 1e6
    note = "" if not math.isnan(amount) else f"{model!r} is not priced for {usage.get('type')!r} usage"
    return Cost(transcription=amount, note=note)
