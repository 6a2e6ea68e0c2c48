"""`python -m backend`: serve, users, tokens, plus the commands of the feature modules."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import importlib
import sys
import time
from typing import TYPE_CHECKING

from backend.settings import Settings

if TYPE_CHECKING:
    from storage.store import Store

FEATURE_COMMANDS = ("dtmon_reporter.commands", "backend.snapshot")


def build_parser(settings: Settings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m backend", description="Test fleet monitoring backend.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    db_flag = argparse.ArgumentParser(add_help=False)
    db_flag.add_argument("--db", default=settings.db, help=f"DuckDB file (default: DTMON_DB or {settings.db})")

    serve = commands.add_parser("serve", parents=[db_flag], help="run the API server (uvicorn)")
    serve.add_argument("--host", default=settings.host, help="bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=settings.port, help="port (default 8051)")
    serve.set_defaults(func=serve_command)

    users = commands.add_parser("users", help="manage dashboard users").add_subparsers(dest="action", required=True)
    add = users.add_parser("add", parents=[db_flag], help="add a user; the password is read from stdin or a prompt")
    add.add_argument("name")
    add.add_argument("--role", choices=["admin", "user"], required=True)
    add.set_defaults(func=users_add)
    passwd = users.add_parser("passwd", parents=[db_flag], help="set a user's password (stdin or prompt)")
    passwd.add_argument("name")
    passwd.set_defaults(func=users_passwd)
    users.add_parser("list", parents=[db_flag], help="list users").set_defaults(func=users_list)

    tokens = commands.add_parser("tokens", help="manage API tokens").add_subparsers(dest="action", required=True)
    create = tokens.add_parser("create", parents=[db_flag], help="create a token and print it")
    create.add_argument("--role", choices=["admin", "user", "ingest"], required=True)
    create.add_argument("--name", default="", help="a label for the token")
    create.set_defaults(func=tokens_create)
    tokens.add_parser("list", parents=[db_flag], help="list API tokens").set_defaults(func=tokens_list)
    revoke = tokens.add_parser("revoke", parents=[db_flag], help="revoke a token by its id")
    revoke.add_argument("token_id")
    revoke.set_defaults(func=tokens_revoke)

    for module in FEATURE_COMMANDS:
        importlib.import_module(module).register(commands)
    return parser


def serve_command(args: argparse.Namespace) -> int:
    import uvicorn

    from backend.app import UVICORN_OPTIONS, create_app
    settings = args.settings.replace(db=args.db, host=args.host, port=args.port)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level.lower(),
                **UVICORN_OPTIONS)
    return 0


def open_store(db: str) -> Store:
    """Open for a one-off command, or explain who holds the file (imported here: worker commands need no DuckDB)."""
    from storage.store import DatabaseLockedError, Store

    try:
        return Store(db).open()
    except DatabaseLockedError as exc:
        raise SystemExit(
            f"error: {exc}\nA running server holds this database; stop it, or do this while it runs: sign in to "
            "the dashboard (your password: sidebar > Account; any user's: the Users page, as admin) or use the "
            "API with an admin token (POST /api/auth/tokens, POST /api/auth/users, "
            "PUT /api/auth/users/NAME/password, POST /api/auth/password for your own).") from None


def read_password(prompt: str) -> str:
    if sys.stdin.isatty():
        first, second = getpass.getpass(prompt), getpass.getpass("again: ")
        if first != second:
            raise SystemExit("error: the passwords differ")
        return first
    return sys.stdin.readline().rstrip("\n")


def _with_store(args: argparse.Namespace, action) -> int:
    store = open_store(args.db)
    try:
        return action(store)
    finally:
        store.close()


def new_password_hash(prompt: str) -> str:
    from backend.signin import hash_password
    password = read_password(prompt)
    if len(password) < 8:
        raise SystemExit("error: the password must have at least 8 characters")
    return hash_password(password)


def users_add(args: argparse.Namespace) -> int:
    from storage import accounts
    password_hash = new_password_hash(f"password for {args.name}: ")

    def add(store: Store) -> int:
        if store.read_sync(lambda cur: accounts.user(cur, args.name)):
            raise SystemExit(f"error: user {args.name!r} already exists")
        store.write_sync(accounts.add_user(args.name, password_hash, args.role, time.time()))
        print(f"added {args.role} {args.name}")
        return 0
    return _with_store(args, add)


def users_passwd(args: argparse.Namespace) -> int:
    from storage import accounts
    password_hash = new_password_hash(f"new password for {args.name}: ")

    def change(store: Store) -> int:
        if not store.write_sync(accounts.set_password(args.name, password_hash)):
            raise SystemExit(f"error: no user {args.name!r}")
        print(f"password of {args.name} changed")
        return 0
    return _with_store(args, change)


def users_list(args: argparse.Namespace) -> int:
    from storage import accounts
    return _with_store(args, lambda store: _print_rows(store.read_sync(accounts.users)))


def tokens_create(args: argparse.Namespace) -> int:
    from backend.auth import AuthService

    def create(store: Store) -> int:
        token, token_id = asyncio.run(AuthService(store, args.settings).create_token(
            args.role, args.name or f"{args.role} token"))
        print(token)
        print(f"(id {token_id}, role {args.role}; shown only once)", file=sys.stderr)
        return 0
    return _with_store(args, create)


def tokens_list(args: argparse.Namespace) -> int:
    from storage import accounts
    return _with_store(args, lambda store: _print_rows(store.read_sync(accounts.tokens)))


def tokens_revoke(args: argparse.Namespace) -> int:
    from storage import accounts

    def revoke(store: Store) -> int:
        if not store.write_sync(accounts.revoke("id", args.token_id, time.time())):
            raise SystemExit(f"error: no live token with id {args.token_id!r}")
        print(f"revoked {args.token_id}")
        return 0
    return _with_store(args, revoke)


def _print_rows(rows: list[dict]) -> int:
    for row in rows:
        print("  ".join(f"{k}={v}" for k, v in row.items()))
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    args = build_parser(settings).parse_args(argv)
    args.settings = settings
    return args.func(args)
