"""Users and API tokens (only hashes are stored)."""

from __future__ import annotations

from storage.queries import ts
from storage.store import Cursor

TOKEN_KEYS = ["token_id", "name", "role", "username", "kind", "created_at", "expires_at", "revoked_at"]
SESSION_KEYS = ["token_id", "username", "role", "created_at", "expires_at"]


def add_user(username: str, password_hash: str, role: str, now: float):
    def write(con: Cursor) -> None:
        con.execute("INSERT INTO users VALUES ($u, $h, $r, $now, false)",
                    {"u": username, "h": password_hash, "r": role, "now": ts(now)})
    return write


def sso_user(username: str, role: str, now: float):
    """Create or update a single sign-on account; its password hash is no hash, so no password opens it."""
    def write(con: Cursor) -> None:
        con.execute("INSERT INTO users VALUES ($u, '!sso', $r, $now, false) "
                    "ON CONFLICT (username) DO UPDATE SET role = excluded.role",
                    {"u": username, "r": role, "now": ts(now)})
    return write


def set_password(username: str, password_hash: str):
    def write(con: Cursor) -> int:
        return con.execute("UPDATE users SET password_hash = $h WHERE username = $u",
                           {"u": username, "h": password_hash}).fetchone()[0]
    return write


def user(cur: Cursor, username: str) -> tuple[str, str, bool] | None:
    """(password_hash, role, disabled) of one user."""
    return cur.execute("SELECT password_hash, role, disabled FROM users WHERE username = $u",
                       {"u": username}).fetchone()


def users(cur: Cursor) -> list[dict]:
    rows = cur.execute("SELECT username, role, epoch(created_at), disabled FROM users ORDER BY username").fetchall()
    return [dict(zip(["username", "role", "created_at", "disabled"], r)) for r in rows]


def admin_count(cur: Cursor) -> int:
    return cur.execute("SELECT count(*) FROM users WHERE role = 'admin' AND NOT disabled").fetchone()[0]


def add_token(token_hash: str, token_id: str, name: str, role: str, username: str | None, kind: str,
              now: float, expires: float | None):
    def write(con: Cursor) -> None:
        con.execute("INSERT INTO api_tokens VALUES ($h, $id, $name, $role, $user, $kind, $now, $exp, NULL)",
                    {"h": token_hash, "id": token_id, "name": name, "role": role, "user": username,
                     "kind": kind, "now": ts(now), "exp": ts(expires) if expires else None})
    return write


def token(cur: Cursor, token_hash: str, now: float) -> tuple[str, str, str, str] | None:
    """(token_id, role, name or user, kind) of a live token."""
    return cur.execute("""
        SELECT t.token_id, t.role, coalesce(t.username, t.name, t.token_id), t.kind FROM api_tokens t
        LEFT JOIN users u ON u.username = t.username
        WHERE t.token_hash = $h AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $now)
          AND (t.username IS NULL OR NOT coalesce(u.disabled, true))""",
                       {"h": token_hash, "now": ts(now)}).fetchone()


def tokens(cur: Cursor) -> list[dict]:
    rows = cur.execute("SELECT token_id, name, role, username, kind, epoch(created_at), epoch(expires_at), "
                       "epoch(revoked_at) FROM api_tokens WHERE kind = 'api' ORDER BY created_at").fetchall()
    return [dict(zip(TOKEN_KEYS, r)) for r in rows]


def sessions(cur: Cursor, now: float, username: str | None = None) -> list[dict]:
    """Live sign-in sessions, of one user or of everyone."""
    rows = cur.execute("""
        SELECT token_id, username, role, epoch(created_at), epoch(expires_at) FROM api_tokens
        WHERE kind = 'session' AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $now)
          AND ($u IS NULL OR username = $u) ORDER BY created_at""", {"now": ts(now), "u": username}).fetchall()
    return [dict(zip(SESSION_KEYS, r)) for r in rows]


def revoke(where: str, value: str, now: float, kind: str | None = None, keep: str | None = None):
    """Revoke by token id, token hash (logout) or username (all of a user's tokens but `keep`).

    The write returns the revoked token hashes, so the sockets opened with them can be closed."""
    column = {"id": "token_id", "hash": "token_hash", "user": "username"}[where]

    def write(con: Cursor) -> list[str]:
        rows = con.execute(f"""
            UPDATE api_tokens SET revoked_at = $now
            WHERE {column} = $v AND revoked_at IS NULL AND ($kind IS NULL OR kind = $kind)
              AND ($keep IS NULL OR token_hash <> $keep)
            RETURNING token_hash""", {"v": value, "now": ts(now), "kind": kind, "keep": keep}).fetchall()
        return [r[0] for r in rows]
    return write


def set_disabled(username: str, disabled: bool):
    def write(con: Cursor) -> int:
        return con.execute("UPDATE users SET disabled = $d WHERE username = $u",
                           {"u": username, "d": disabled}).fetchone()[0]
    return write


def delete_user(username: str):
    """Remove the account; its tokens stay as revoked rows so the audit trail keeps them."""
    def write(con: Cursor) -> int:
        return con.execute("DELETE FROM users WHERE username = $u", {"u": username}).fetchone()[0]
    return write
