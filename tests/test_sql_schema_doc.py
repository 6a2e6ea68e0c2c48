"""The schema people query is documented: every table and column has a meaning, in the doc too."""

from pathlib import Path

from storage.schema_doc import describe_schema
from storage.store import Store

DOC = Path(__file__).resolve().parents[1] / "docs" / "HISTORY_SQL_ALERTS.md"


def test_every_queryable_column_is_explained_in_the_api_and_the_doc(tmp_path):
    store = Store(str(tmp_path / "doc.duckdb")).open()
    try:
        tables = store.read_sync(describe_schema)
    finally:
        store.close()
    doc = DOC.read_text()
    for table in tables:
        assert table["description"], table["table"]
        assert f"### {table['table']}\n" in doc, f"{table['table']} missing from {DOC.name}"
        section = doc.split(f"### {table['table']}\n", 1)[1].split("\n### ", 1)[0]
        for column in table["columns"]:
            assert column["meaning"], f"{table['table']}.{column['name']} has no meaning"
            assert f"| {column['name']} | {column['type']} | {column['meaning']} |" in section, column["name"]
