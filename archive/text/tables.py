"""Tables in the article: which ``<table>`` elements hold data, and their rows of cells.

Government reports carry data tables (指标完成情况表, 统计表, 任务分工表); old portals lay the
whole page out with tables. `data_tables` tells them apart:

* a *data table* has at least 2 rows and 2 columns, no table nested in it, no cell holding a
  long stretch of prose (`MAX_CELL_CHARS`), little link text (navigation) and not mostly empty
  cells (spacers);
* everything else is a *layout table* (a page's frame, nested tables holding the page, a
  single row or column of boxes): its lines stay ordinary lines.

`table_rows` reads a data table as a rectangle of cell texts: ``colspan``/``rowspan`` cells keep
their text in their first (top-left) position and leave empty cells where they span, so a
5 x 4 table is 5 rows of 4 cells. Whitespace inside a cell is folded to one space (no tab or
line break in a cell, so a row can be written as tab-separated text).

A table whose cells are the 信息公开 labels (索引号, 发布机构, 文号...) is document metadata,
not body text (`archive.text.official` reads it): `is_metadata_table`.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from archive.text.vocabulary import OFFICIAL_LABEL, WS

#: A cell with more text than this is a page region (layout), not a table cell.
MAX_CELL_CHARS = 600
#: Spans beyond this are markup errors (``colspan="1000"``): read as this many.
MAX_SPAN = 50
#: Block types of a record's ``blocks`` (see `archive.record`).
PARAGRAPH, TABLE = "p", "table"

Rows = list[list[str]]
#: One block of a record: ``{"type": "p", "text": str}`` or ``{"type": "table", "rows": Rows}``.
Block = dict[str, Any]


def cell_text(cell: etree._Element) -> str:
    """A cell's text, whitespace folded to single spaces."""
    return WS.sub(" ", "".join(cell.itertext())).strip()


def _own_rows(table: etree._Element) -> list[etree._Element]:
    return table.xpath("./tr | ./thead/tr | ./tbody/tr | ./tfoot/tr")


def _span(cell: etree._Element, name: str) -> int:
    try:
        value = int((cell.get(name) or "1").strip() or 1)
    except ValueError:
        return 1
    return min(max(value, 1), MAX_SPAN)


def table_rows(table: etree._Element) -> Rows:
    """The table as equal-length rows of cell texts (spanned positions empty); rows without
    any text are left out."""
    grid: list[dict[int, str]] = []
    pending: dict[tuple[int, int], str] = {}  # (row, column) covered by a rowspan above
    for r, tr in enumerate(_own_rows(table)):
        row: dict[int, str] = {}
        col = 0
        for cell in tr.xpath("./td | ./th"):
            while (r, col) in pending:
                row[col] = pending.pop((r, col))
                col += 1
            text, cols, down = cell_text(cell), _span(cell, "colspan"), _span(cell, "rowspan")
            for dc in range(cols):
                row[col + dc] = text if dc == 0 else ""
                for dr in range(1, down):
                    pending[(r + dr, col + dc)] = ""
            col += cols
        while (r, col) in pending:
            row[col] = pending.pop((r, col))
            col += 1
        grid.append(row)
    width = max((max(row) + 1 for row in grid if row), default=0)
    out = [[row.get(c, "") for c in range(width)] for row in grid]
    return [row for row in out if any(row)]


def is_metadata_table(table: etree._Element) -> bool:
    """A 信息公开 metadata table: cells that start with an official label in at least two of
    its rows (label beside value). A header row of labels (序号 | 文件名称 | 文号 | 发布日期 over a
    list of documents) is a data table's."""
    rows = {cell.getparent() for cell in table.iter("td", "th")
            if OFFICIAL_LABEL.match(cell_text(cell))}
    return len(rows) >= 2


def is_data_table(table: etree._Element, rows: Rows | None = None) -> bool:
    """A table of data (see the module doc), not a layout table or document metadata."""
    if table.find(".//table") is not None or is_metadata_table(table):
        return False
    rows = table_rows(table) if rows is None else rows
    if len(rows) < 2 or len(rows[0]) < 2:
        return False
    cells = [c for row in rows for c in row]
    filled = [c for c in cells if c]
    if len(filled) < 0.5 * len(cells) or any(len(c) > MAX_CELL_CHARS for c in filled):
        return False
    # Columns that are empty in every row do not count: one real column is a list of boxes.
    if sum(1 for c in range(len(rows[0])) if any(row[c] for row in rows)) < 2:
        return False
    total = sum(len(c) for c in filled)
    links = sum(len(cell_text(a)) for a in table.iter("a"))
    return links <= 0.5 * total


def data_tables(container: etree._Element | None) -> dict[etree._Element, Rows]:
    """The data tables inside `container` (itself included), with their rows."""
    if container is None:
        return {}
    out: dict[etree._Element, Rows] = {}
    for table in container.iter("table"):
        rows = table_rows(table)
        if is_data_table(table, rows):
            out[table] = rows
    return out


def outside_data_table(container: etree._Element | None) -> etree._Element | None:
    """The article container, lifted out of a data table: when the prose of a table's cells (a
    task table's 具体措施) made the table, or one of its cells, the best container, the article
    is the element holding the table with the paragraphs around it (above any wrapper that
    holds the table alone)."""
    el = container
    while el is not None and el.tag in ("td", "th", "tr", "tbody", "thead", "tfoot"):
        el = el.getparent()
    if el is None or el.tag != "table" or el.getparent() is None or not is_data_table(el):
        return container
    table_chars = len(cell_text(el))
    holder = el.getparent()
    # Wrappers around the table alone (<div class="table-wrap">) are not the article either.
    while holder.getparent() is not None and len(cell_text(holder)) <= table_chars + 20:
        holder = holder.getparent()
    return holder


def table_owner(tables: dict[etree._Element, Rows]) -> dict[etree._Element, etree._Element]:
    """Every element inside one of `tables` -> that table (to find a line's table)."""
    owner: dict[etree._Element, etree._Element] = {}
    for table in tables:
        for el in table.iter():
            owner[el] = table
    return owner


def metadata_table_elements(root: etree._Element) -> set[etree._Element]:
    """The elements of the page's 信息公开 metadata tables (their lines are not body text)."""
    out: set[etree._Element] = set()
    for table in root.iter("table"):
        if table.find(".//table") is None and is_metadata_table(table):
            out.update(table.iter())
    return out


def table_lines(rows: Rows) -> list[str]:
    """A table as text: one tab-separated row per line (what a record's ``text`` holds)."""
    return ["\t".join(row) for row in rows]


def blocks_from_lines(lines: list[str]) -> list[Block]:
    """Blocks of a document read as lines (an attachment: PDF, Word, Excel), where a table row
    is one tab-separated line: two or more such lines in a row make a table (rows padded to the
    same length), any other line is a paragraph."""
    blocks: list[Block] = []
    run: list[list[str]] = []

    def close_run() -> None:
        if len(run) >= 2:
            width = max(len(row) for row in run)
            blocks.append({"type": TABLE, "rows": [row + [""] * (width - len(row)) for row in run]})
        else:
            blocks.extend({"type": PARAGRAPH, "text": " ".join(row)} for row in run)
        run.clear()

    for line in lines:
        if "\t" in line:
            run.append(line.split("\t"))
            continue
        close_run()
        blocks.append({"type": PARAGRAPH, "text": line})
    close_run()
    return blocks
