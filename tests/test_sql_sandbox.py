"""The SQL sandbox accepts one read-only SELECT over the data tables and refuses everything else."""

import duckdb
import pytest

from storage import results, schema
from storage.alerts import TABLE_DESCRIPTIONS as ALERT_TABLES
from storage.sandbox import MAX_SQL_CHARS, SqlFailed, SqlRejected, SqlTimedOut, check_select, run_select
from storage.schema_doc import EXAMPLE_QUERIES
from storage.sql_allowlist import DATA_TABLES


@pytest.fixture()
def con(tmp_path):
    """A DuckDB file opened the way the server opens it: external access off."""
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    connection = duckdb.connect(str(tmp_path / "s.duckdb"), config={"enable_external_access": False})
    connection.execute("CREATE TABLE workers (id VARCHAR, cpu DOUBLE)")
    connection.execute("INSERT INTO workers VALUES ('w1', 10.5), ('w2', 20.0), ('w3', 30.0)")
    connection.execute("CREATE TABLE users (name VARCHAR, password_hash VARCHAR)")
    connection.execute("CREATE SEQUENCE seq")
    yield connection
    connection.close()


def test_select_returns_columns_rows_and_elapsed(con):
    result = run_select(con.cursor(), "SELECT id, cpu FROM workers ORDER BY id", limit=10)
    assert result.columns == ["id", "cpu"]
    assert result.rows == [["w1", 10.5], ["w2", 20.0], ["w3", 30.0]]
    assert result.truncated is False
    assert result.elapsed_ms >= 0


def test_row_limit_truncates(con):
    result = run_select(con.cursor(), "SELECT * FROM range(50)", limit=7)
    assert len(result.rows) == 7
    assert result.truncated is True


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1; SELECT 2",
        "INSERT INTO workers VALUES ('x', 1)",
        "UPDATE workers SET cpu = 0",
        "DELETE FROM workers",
        "CREATE TABLE x (a INT)",
        "DROP TABLE workers",
        "COPY workers TO 'out.csv'",
        "ATTACH 'other.duckdb'",
        "INSTALL httpfs",
        "LOAD httpfs",
        "PRAGMA version",
        "SET threads = 1",
        "SELECT * FROM users",
        "SELECT * FROM query('SELECT * FROM users')",
        "SUMMARIZE users",
        "SELECT * FROM pragma_storage_info('users')",
        "FROM checkpoint()",
        "",
    ],
)
def test_rejected_statements(con, sql):
    with pytest.raises(SqlRejected):
        run_select(con.cursor(), sql)


@pytest.mark.parametrize("function", ["read_csv", "read_parquet", "glob", "read_text"])
def test_local_files_are_refused(con, tmp_path, function):
    with pytest.raises(SqlRejected, match=function):
        run_select(con.cursor(), f"SELECT * FROM {function}('{tmp_path / 'data.csv'}')")


@pytest.mark.parametrize("sql", [
    "SELECT * FROM histogram(users, password_hash)",
    "SELECT * FROM histogram_values(users, password_hash)",
    "SELECT * FROM query_table('users')",
    "SELECT * FROM json_execute_serialized_sql(json_serialize_sql('SELECT * FROM users'))",
    "SELECT json_serialize_sql('SELECT 1')",
    "SELECT * FROM (SELECT 1) a, (WITH users AS (SELECT 1) SELECT 1) b, users",
    "SELECT * FROM main.users",
    "SELECT * FROM system.main.duckdb_settings()",
    "SELECT * FROM duckdb_tables",
    "SELECT * FROM information_schema.columns",
    "SELECT current_setting('memory_limit')",
    "SELECT * FROM enable_logging()",
    "SELECT write_log('x')",
    "SELECT setseed(0.5)",
    "SELECT nextval('seq')",
    "SELECT sleep_ms(100000)",
    "SUMMARIZE users",
    "DESCRIBE users",
])
def test_only_data_tables_and_reviewed_functions_are_reachable(con, sql):
    with pytest.raises(SqlRejected, match="not available|only the data tables"):
        run_select(con.cursor(), sql)


def test_a_cte_may_take_a_name_but_never_reaches_the_table(con):
    rows = run_select(con.cursor(), "WITH users AS (SELECT 'none' AS password_hash) SELECT * FROM users").rows
    assert rows == [["none"]]


def test_allowed_tables_are_the_documented_data_tables():
    assert DATA_TABLES == set(schema.TABLE_DESCRIPTIONS) | set(ALERT_TABLES) | set(results.TABLE_DESCRIPTIONS)


def test_example_queries_pass_the_allowlist(tmp_path):
    from storage.store import Store

    store = Store(str(tmp_path / "e.duckdb")).open()
    try:
        for example in EXAMPLE_QUERIES:
            store.read_sync(lambda cur: run_select(cur, example["sql"]))
    finally:
        store.close()


def test_result_is_capped_in_bytes(con):
    result = run_select(con.cursor(), "SELECT repeat('x', 10000) AS big FROM range(100)", max_bytes=50_000)
    assert result.truncated_by == "bytes" and 1 <= len(result.rows) < 5
    assert run_select(con.cursor(), "SELECT * FROM range(20)", limit=5).truncated_by == "rows"


def test_a_huge_query_is_refused_before_parsing(con):
    huge = "SELECT 1 WHERE 1 IN (" + ",".join(["1"] * (MAX_SQL_CHARS // 2)) + ")"
    with pytest.raises(SqlRejected, match="characters"):
        run_select(con.cursor(), huge)


def test_checking_counts_against_the_time_limit(con):
    long_list = "SELECT 1 FROM workers WHERE cpu IN (" + ",".join(map(str, range(15000))) + ")"
    with pytest.raises(SqlTimedOut):
        run_select(con.cursor(), long_list, timeout_s=0.000001)


def test_long_query_is_interrupted(con):
    with pytest.raises(SqlTimedOut):
        run_select(con.cursor(), "SELECT count(*) FROM range(1000000000000) a, range(10) b", timeout_s=0.3)


def test_bad_sql_returns_duckdb_message(con):
    with pytest.raises(SqlRejected, match="no_such_table"):
        run_select(con.cursor(), "SELECT * FROM no_such_table")
    with pytest.raises(SqlRejected, match="syntax"):
        check_select("SELEC 1")


def test_cte_describe_and_show_are_selects(con):
    assert run_select(con.cursor(), "WITH a AS (SELECT 2 AS x) SELECT x FROM a").rows == [[2]]
    assert run_select(con.cursor(), "DESCRIBE workers").rows[0][0] == "id"
