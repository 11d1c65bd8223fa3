"""How big a notebook gets when the playground ran for N turns and was saved (budget: 1 MB of outputs).

    python3 bench/bench_playground_size.py [--turns 10]

Executes a two-cell notebook (the playground, then N text turns from code, which the panel shows)
with nbclient against the embedded server, saves it with its widget state (as JupyterLab does with
"save widget state" on, nbclient's default), and prints the sizes: the cells' outputs, the saved
widget state, and the whole file. For scale it also prints what the same N replies weigh as
base64 WAV players in HTML (how the panel's per-turn players were sent before).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
BUDGET = 1_000_000

CELLS = [
    "import realtime_kit as rk\nsession = await rk.connect('local')\npanel = rk.Playground(session)\npanel",
    "replies = []\nfor i in range({turns}):\n    replies.append(await session.send_text(f'Please repeat after me: "
    "turn number {{i}} of the size test.'))\n"
    "import base64\nold_players = sum(len(r.audio.play()._repr_html_()) for r in replies)\nprint(old_players)",
    # nbclient keeps only messages parented to the running cell; JupyterLab applies display updates from
    # any context, so the panel's own updates (sent from the session's event pump) count there anyway
    # (the last turn reaches the panel after its 50 ms redraw delay)
    "import asyncio\nawait asyncio.sleep(0.5)\npanel._update_snapshot()",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=10)
    args = parser.parse_args()
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    book = nbformat.v4.new_notebook()
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    book.cells = [nbformat.v4.new_code_cell(source.format(turns=args.turns)) for source in CELLS]
    with tempfile.TemporaryDirectory() as folder:
        NotebookClient(book, timeout=120, kernel_name="python3", store_widget_state=True,
                       resources={"metadata": {"path": folder}}).execute()
        path = Path(folder) / "playground.ipynb"
        nbformat.write(book, path)
        whole = path.stat().st_size
    outputs = sum(len(json.dumps(cell.get("outputs", []))) for cell in book.cells)
    state = len(json.dumps(book.metadata.get("widgets", {})))
    old_players = int(book.cells[1].outputs[-1]["text"].strip())
    snapshot = book.cells[0].outputs[-1]["data"]["text/html"]
    assert snapshot.count("rk-turn-title") == args.turns, "the snapshot did not get every turn"
    print(f"turns: {args.turns}")
    print(f"cell outputs:        {outputs:>10,} bytes (panel cell: {len(json.dumps(book.cells[0].outputs)):,})")
    print(f"saved widget state:  {state:>10,} bytes")
    print(f"whole .ipynb:        {whole:>10,} bytes  ({whole / BUDGET:.2f} of the 1 MB budget)")
    print(f"the same replies as base64 WAV players in HTML: {old_players:,} bytes "
          f"({old_players / max(whole, 1):.1f}x the saved notebook)")
    sys.exit(0 if whole < BUDGET else 1)


if __name__ == "__main__":
    main()
