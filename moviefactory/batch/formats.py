"""Theme lists: the films of a batch from a .txt, .csv or .jsonl file, or a YAML list. Each reader
gives one `Entry` per film, its option keys as a `Layer` that names the file and line, so a wrong
value is reported where the person wrote it (`themes.csv line 3: seconds: ...`).

- .txt: one theme a line; blank lines and lines starting with `#` are skipped.
- .csv: a header row with a `theme` column and any film option columns; an empty cell is not set,
  and values are text that FilmOptions converts ("3", "true").
- .jsonl: one JSON object a line, {"theme": ..., <option>: ...}.
- YAML: a list whose items are themes or mappings {theme, <option>: ...} (a batch YAML's `films:`
  is read the same way).
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from ..errors import InputError
from ..options import FIELDS, Layer, build_options
from ..yamlfile import key_lines, line_of


@dataclass(frozen=True)
class Entry:
    theme: Any  # as written: checked (and cleaned) when the batch is loaded
    layer: Layer  # the film's own option keys
    at: str  # where the entry is, e.g. 'themes.csv line 3'


def read_txt(path: Path, text: str) -> list[Entry]:
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        theme = line.strip()
        if theme and not theme.startswith("#"):
            at = f"{path} line {number}"
            entries.append(Entry(theme, Layer({}, at), at))
    return entries


def read_csv(path: Path, text: str) -> list[Entry]:
    reader = csv.reader(io.StringIO(text))
    header, entries = None, []
    while True:
        start = reader.line_num + 1  # a quoted cell may span lines: name the row's first
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise InputError(f"{path} line {start} is not CSV: {exc}") from None
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        at = f"{path} line {start}"
        if header is None:
            header = _header(cells, at)
            continue
        if len(cells) > len(header):
            raise InputError(f"{at}: {len(cells)} cells, but the header names {len(header)} columns")
        values = {key: cell for key, cell in zip(header, cells) if cell}  # an empty cell is not set
        if "" in values:
            raise InputError(f"{at}: {values['']!r} is in a column with no name in the header row")
        entries.append(Entry(values.pop("theme", ""), Layer(values, at), at))
    return entries


def _header(cells: list[str], at: str) -> list[str]:
    if "theme" not in cells:
        raise InputError(f"{at}: the header row needs a `theme` column (and any film options: format, seconds, ...)")
    for number, name in enumerate(cells):
        if not name:  # a trailing comma, as spreadsheets write: fine while its cells are empty
            continue
        if name in cells[:number]:
            raise InputError(f"{at}: column {name!r} twice")
        if name != "theme" and name not in FILM_KEYS:
            build_options([Layer({name: None}, at)])  # raises the unknown-setting error, with the nearest key
    return cells


def read_jsonl(path: Path, text: str) -> list[Entry]:
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        at = f"{path} line {number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{at} is not JSON: {exc.msg} (column {exc.colno})") from None
        if not isinstance(data, dict):
            raise InputError(f'{at}: expected an object, {{"theme": "...", <option>: ...}}')
        values = dict(data)
        entries.append(Entry(values.pop("theme", ""), Layer(values, at), at))
    return entries


def yaml_entries(items: Sequence[Any], path: Path, text: str, prefix: Sequence[Any] = ()) -> list[Entry]:
    """Films from a YAML list at `prefix` (the top level, or a batch YAML's `films`)."""
    entries = []
    for number, item in enumerate(items):
        at = f"{path} line {line_of(text, [*prefix, number])}"
        if isinstance(item, dict):
            values = dict(item)
            if "theme" not in values:
                raise InputError(f"{at}: a film needs a `theme`")
            theme = values.pop("theme")
            entries.append(Entry(theme, Layer(values, str(path), key_lines(text, [*prefix, number])), at))
        elif isinstance(item, (str, int, float)) and not isinstance(item, bool):
            entries.append(Entry(str(item), Layer({}, at), at))
        else:
            raise InputError(f"{at}: expected a theme or a mapping {{theme: ..., <option>: ...}}")
    return entries


# besides the film options, a film may name a config file of them (make_film's `config=`)
FILM_KEYS = frozenset({*FIELDS, "config"})
LISTS: dict[str, Callable[[Path, str], list[Entry]]] = {".txt": read_txt, ".csv": read_csv, ".jsonl": read_jsonl}
