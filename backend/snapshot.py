"""`python -m backend snapshot OUT.duckdb`: a consistent copy of the live database, taken via the server.

DuckDB lets no other process open the file a server is writing, so the command asks the
running server (POST /api/admin/snapshot, admin token) to read every table in one read-only
transaction and stream it; the frames are rebuilt here into a fresh DuckDB file.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys

import httpx


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `snapshot` command to `python -m backend`."""
    parser = subparsers.add_parser(
        "snapshot", help="copy the live database (through the running server) into a new DuckDB file")
    parser.add_argument("out", help="file to create, e.g. fleet-copy.duckdb")
    parser.add_argument("--url", default="", help="server base URL (default: DTMON_API_URL or http://HOST:PORT)")
    parser.add_argument("--token", default="", help="admin token (better: set DTMON_TOKEN)")
    parser.add_argument("--user", default="", help="log in as this admin instead (password read from stdin or a prompt)")
    parser.add_argument("--force", action="store_true", help="replace OUT if it exists")
    parser.set_defaults(func=snapshot_command)


def server_url(args: argparse.Namespace) -> str:
    """--url, else the configured API URL, else the local server's address."""
    settings = args.settings
    return (args.url or settings.api_url or f"http://{settings.host}:{settings.port}").rstrip("/")


def admin_token(args: argparse.Namespace, http: httpx.Client, base: str) -> str:
    """--token, DTMON_TOKEN, or a login as --user."""
    token = args.token or os.environ.get("DTMON_TOKEN", "")
    if token:
        return token
    if not args.user:
        raise SystemExit("error: give an admin token (DTMON_TOKEN or --token) or --user to log in")
    password = getpass.getpass(f"password for {args.user}: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    response = http.post(f"{base}/api/auth/login", json={"username": args.user, "password": password})
    if response.status_code != 200:
        raise SystemExit(f"error: login failed ({response.status_code}): {response.text}")
    return response.json()["token"]


def take_snapshot(base: str, token: str, out: str, http: httpx.Client) -> dict[str, int]:
    """Stream the server's snapshot into `out`; returns rows per table (DuckDB imported only for this command)."""
    from storage.snapshot import write_snapshot

    headers = {"Authorization": f"Bearer {token}"}
    with http.stream("POST", f"{base}/api/admin/snapshot", headers=headers) as response:
        if response.status_code != 200:
            response.read()
            raise SystemExit(f"error: the server answered {response.status_code}: {response.text}")
        return write_snapshot(response.iter_bytes(), out)


def snapshot_command(args: argparse.Namespace) -> int:
    """Entry point of the subcommand."""
    if os.path.exists(args.out) and not args.force:
        raise SystemExit(f"error: {args.out} exists (use --force to replace it)")
    base = server_url(args)
    with httpx.Client(timeout=httpx.Timeout(30.0, read=300.0)) as http:
        try:
            counts = take_snapshot(base, admin_token(args, http, base), args.out, http)
        except httpx.HTTPError as error:
            raise SystemExit(f"error: cannot reach the server at {base}: {error}") from None
    total = sum(counts.values())
    print(f"wrote {args.out}: {len(counts)} tables, {total} rows")
    for table, rows in sorted(counts.items()):
        print(f"  {table}: {rows}")
    return 0
