"""Experiments: the same inputs through many configs, voices, VAD settings and targets, measured side by side.

    exp = rk.Experiment(configs={"eager": dict(silence_duration_ms=200), "patient": dict(silence_duration_ms=800)},
                        turns=["How are you?", ("q1.wav", "what is the weather like")], repeats=3)
    results = await exp.run(); results.table, results.summary(), results.plot()
    sweep = await rk.vad_sweep("q1.wav", threshold=[0.3, 0.5, 0.7], silence_duration_ms=[200, 500, 800])
    session.cost                      # what a session has cost so far (cost.py: a dated price table)

Modules: runner (Experiment), results (Results), metrics (the per-turn measures, pure), cost (prices),
turns (what counts as a turn), ratelimit (waiting for a target's limits), sweep (vad_sweep).
"""

from __future__ import annotations

from .cost import PRICES, PRICES_CHECKED, Cost, Price, cost_of, price_for, total_cost
from .results import Results
from .runner import Experiment
from .sweep import VadSweep, vad_sweep
from .turns import Turn, coerce_turn

__all__ = ["PRICES", "PRICES_CHECKED", "Cost", "Experiment", "Price", "Results", "Turn", "VadSweep",
           "coerce_turn", "cost_of", "price_for", "total_cost", "vad_sweep"]
