"""The SQL sandbox accepts one read-only SELECT and refuses everything else."""

import duckdb
import pytest

from storage.sandbox import SqlFailed, SqlRejected, SqlTimedOut, check_select, run_select


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
    with pytest.raises(SqlFailed, match="disabled"):
        run_select(con.cursor(), f"SELECT * FROM {function}('{tmp_path / 'data.csv'}')")


def test_select_cannot_advance_a_sequence(con):
    with pytest.raises(SqlFailed, match="read-only"):
        run_select(con.cursor(), "SELECT nextval('seq')")


def test_long_query_is_interrupted(con):
    with pytest.raises(SqlTimedOut):
        run_select(con.cursor(), "SELECT count(*) FROM range(1000000000000) a, range(10) b", timeout_s=0.3)


def test_bad_sql_returns_duckdb_message(con):
    with pytest.raises(SqlFailed, match="no_such_table"):
        run_select(con.cursor(), "SELECT * FROM no_such_table")
    with pytest.raises(SqlRejected, match="syntax"):
        check_select("SELEC 1")


def test_cte_describe_and_show_are_selects(con):
    assert run_select(con.cursor(), "WITH a AS (SELECT 2 AS x) SELECT x FROM a").rows == [[2]]
    assert run_select(con.cursor(), "DESCRIBE workers").rows[0][0] == "id"
