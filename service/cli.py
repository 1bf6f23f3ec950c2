"""The `sipvakt` command."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from pathlib import Path

from calendars.stockholm import parse_moment, start_of_day
from calendars.workdays import WorkingCalendar
from config.rules import RuleFileError, load_rulebook
from config.settings import Settings, SettingsError, load_settings
from scheduler.accepted import accept_event
from scheduler.clock import SystemClock
from scheduler.events import EventValidationError, FieldError
from scheduler.planning import DeadlinePlanner
from scheduler.replay import replay
from service import access, admin
from service.audit import chain, extract
from service.auth import user_admin
from service.auth.users import USER_ROLES
from service.http.json_input import JsonInputError, parse_json
from service.http.views import deadlines_view
from service.logs import configure_logging
from service.storage.database import DatabaseTimeouts, open_database
from service.storage.secrets import SecretKeyError, load_cipher
from service.storage.store import Connection

EXIT_USAGE = 2


class CommandError(Exception):
    """A problem the user can fix; printed as one or more `sipvakt: …` lines."""


def main(argv: Sequence[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(settings.log_level)
        code = args.run(args, settings)
    except (SettingsError, RuleFileError, SecretKeyError, CommandError) as exc:
        for line in str(exc).splitlines():
            print(f"sipvakt: {line}", file=sys.stderr)
        code = EXIT_USAGE
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sipvakt", description="Watches over SIP cases.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the API and every worker until stopped")
    serve.set_defaults(run=_serve)
    migrate = commands.add_parser("migrate", help="apply database migrations and exit")
    migrate.set_defaults(run=_migrate)

    deadlines = commands.add_parser("deadlines", help="compute a case's deadlines from its events, offline")
    deadlines.add_argument("--event-file", required=True, type=Path, help="a JSON array of one case's events")
    deadlines.add_argument("--now", help="read deadlines at this RFC 3339 time (default: the current time)")
    deadlines.set_defaults(run=_deadlines)

    bulk = commands.add_parser("import", help="take in a file of events, one JSON object a line with its id")
    bulk.add_argument("--integration", required=True, help="the name of the integration the events come from")
    bulk.add_argument("--file", required=True, type=Path, help="NDJSON: one event a line, each with an id")
    bulk.set_defaults(run=_import)

    integration = commands.add_parser("integration", help="systems that push events")
    integration_commands = integration.add_subparsers(dest="action", required=True)
    create = integration_commands.add_parser("create", help="register an integration; prints its secret once")
    create.add_argument("name")
    create.set_defaults(run=_integration_create)
    rotate = integration_commands.add_parser("add-secret", help="a further secret, for rotation")
    rotate.add_argument("integration_id")
    rotate.set_defaults(run=_integration_add_secret)
    revoke = integration_commands.add_parser("revoke-secret", help="stop accepting one secret")
    revoke.add_argument("integration_id")
    revoke.add_argument("secret_id", type=int)
    revoke.set_defaults(run=_integration_revoke_secret)
    listing = integration_commands.add_parser("list", help="integrations and their secrets' ids")
    listing.set_defaults(run=_integration_list)

    token = commands.add_parser("token", help="API tokens")
    token_commands = token.add_subparsers(dest="action", required=True)
    token_create = token_commands.add_parser("create", help="make a token; prints it once")
    token_create.add_argument("--role", required=True, choices=access.ROLES)
    token_create.add_argument("--regions", default="*", help="comma-separated region names, or * (default)")
    token_create.add_argument("--organisations", default="*", help="comma-separated organisations, or *")
    token_create.add_argument("--integration", help="integration id (role integration only)")
    token_create.add_argument("--label", default="", help="who or what the token is for")
    token_create.set_defaults(run=_token_create)
    token_revoke = token_commands.add_parser("revoke", help="revoke a token by its id")
    token_revoke.add_argument("token_id")
    token_revoke.set_defaults(run=_token_revoke)
    token_list = token_commands.add_parser("list", help="tokens (ids, roles, scopes; never the tokens)")
    token_list.set_defaults(run=_token_list)

    user = commands.add_parser("user", help="people who sign in to the web app")
    user_commands = user.add_subparsers(dest="action", required=True)
    user_create = user_commands.add_parser("create", help="register a user")
    user_create.add_argument("--email", required=True)
    user_create.add_argument("--role", required=True, choices=USER_ROLES)
    user_create.add_argument("--regions", default="*", help="comma-separated region names, or * (default)")
    user_create.add_argument("--organisations", default="*", help="comma-separated organisations, or *")
    user_create.set_defaults(run=_user_create)
    user_list = user_commands.add_parser("list", help="users, enabled and disabled")
    user_list.set_defaults(run=_user_list)
    user_disable = user_commands.add_parser("disable", help="disable a user and end their sessions")
    user_disable.add_argument("email")
    user_disable.set_defaults(run=_user_disable)

    audit = commands.add_parser("audit", help="the access log")
    audit_commands = audit.add_subparsers(dest="action", required=True)
    verify = audit_commands.add_parser(
        "verify", help="check the hash chain; exit 1 naming the first bad entry"
    )
    verify.set_defaults(run=_audit_verify)
    extract = audit_commands.add_parser("extract", help="one person's log extract, as JSON")
    extract.add_argument("--person-reference", required=True, help="the case's person reference")
    extract.add_argument("--since", help="from this RFC 3339 time or date YYYY-MM-DD (Stockholm)")
    extract.set_defaults(run=_audit_extract)
    return parser


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from service.server import serve

    asyncio.run(serve(settings))
    return 0


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    async def run() -> None:
        async with open_database(
            settings.database_url, settings.data_dir, DatabaseTimeouts.from_settings(settings)
        ):
            pass

    asyncio.run(run())
    print("migrations applied")
    return 0


def _deadlines(args: argparse.Namespace, settings: Settings) -> int:
    # Read as strictly as the intake reads a body: no RecursionError for deep nesting, no huge integers.
    try:
        raw = parse_json(args.event_file.read_bytes())
    except OSError as exc:
        raise CommandError(f"{args.event_file}: {exc.strerror}") from None
    except JsonInputError as exc:
        raise CommandError(f"{args.event_file}: not a JSON file ({exc})") from None
    if not isinstance(raw, list):
        raise CommandError(f"{args.event_file}: must hold a JSON array of events")
    now = _parse_now(args.now) if args.now else asyncio.run(SystemClock().now())
    rulebook = load_rulebook(settings.config_dir)
    # Validated and reduced exactly as the intake does, so the same events give the same deadlines.
    events, problems = [], list[str]()
    for index, item in enumerate(raw):
        try:
            events.append(accept_event(item, rulebook.names()))
        except EventValidationError as exc:
            problems.extend(
                f"{args.event_file}: {_location(index, error)}: {error.msg}" for error in exc.errors
            )
    if problems:
        raise CommandError("\n".join(problems))
    result = replay(events, DeadlinePlanner(rulebook, WorkingCalendar()), now)
    if result.case is None:
        raise CommandError(f"{args.event_file}: no case.opened event for the case")
    for position, reason in sorted({**result.rejected, **result.waiting}.items()):
        print(f"sipvakt: event [{position}] not applied: {reason}", file=sys.stderr)
    print(json.dumps(deadlines_view(result.case), ensure_ascii=False, indent=2))
    return 0


def _import(args: argparse.Namespace, settings: Settings) -> int:
    from service.bulk.import_command import ImportRefused, run_import

    try:
        return asyncio.run(run_import(settings, args.integration, args.file, sys.stdout))
    except OSError as exc:
        if exc.filename is None:
            raise
        raise CommandError(f"{args.file}: {exc.strerror}") from None
    except ImportRefused as exc:
        raise CommandError(str(exc)) from None


def _location(index: int, error: FieldError) -> str:
    """`[3].data.questions[2]`: the event's index in the file, then the field, as the API's `loc` says."""
    path = f"[{index}]"
    for part in error.loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def parse_day_or_moment(text: str) -> datetime:
    """A date YYYY-MM-DD (the start of that day in Stockholm) or an RFC 3339 time with offset."""
    if len(text) == 10:
        return start_of_day(date.fromisoformat(text))
    return parse_moment(text)


def _parse_now(text: str) -> datetime:
    try:
        return parse_moment(text)
    except ValueError as exc:
        raise CommandError(f"--now: {exc}") from None


def _with_database(settings: Settings, action: admin.Action, *params: object) -> int:
    """Run one administrative action in a transaction and print what it says."""

    async def run() -> int:
        clock = SystemClock()
        cipher = load_cipher(settings.secret_key, settings.data_dir)
        async with (
            open_database(
                settings.database_url, settings.data_dir, DatabaseTimeouts.from_settings(settings)
            ) as (pool, _),
            pool.acquire() as connection,
            connection.transaction(),
        ):
            lines = await action(connection, cipher, await clock.now(), *params)
        for line in lines:
            print(line)
        return 0

    try:
        return asyncio.run(run())
    except admin.AdminError as exc:
        raise CommandError(str(exc)) from None


def _integration_create(args: argparse.Namespace, settings: Settings) -> int:
    return _with_database(settings, admin.create_integration, args.name)


def _integration_add_secret(args: argparse.Namespace, settings: Settings) -> int:
    return _with_database(settings, admin.add_integration_secret, args.integration_id)


def _integration_revoke_secret(args: argparse.Namespace, settings: Settings) -> int:
    return _with_database(settings, admin.revoke_integration_secret, args.integration_id, args.secret_id)


def _integration_list(args: argparse.Namespace, settings: Settings) -> int:
    return _with_database(settings, admin.list_integrations)


def _names(text: str) -> list[str]:
    """A comma-separated option as its names."""
    return [part.strip() for part in text.split(",") if part.strip()]


def _token_create(args: argparse.Namespace, settings: Settings) -> int:
    return _with_database(
        settings,
        admin.create_token,
        args.role,
        _names(args.regions),
        _names(args.organisations),
        args.integration,
        args.label,
    )


def _token_revoke(args: argparse.Namespace, settings: Settings) -> int:
    return _with_database(settings, admin.revoke_token, args.token_id)


def _token_list(args: argparse.Namespace, settings: Settings) -> int:
    return _with_database(settings, admin.list_tokens)


def _user_create(args: argparse.Namespace, settings: Settings) -> int:
    known_regions = load_rulebook(settings.config_dir).names()
    return _with_database(
        settings,
        user_admin.create,
        args.email,
        args.role,
        _names(args.regions),
        _names(args.organisations),
        known_regions,
    )


def _user_list(args: argparse.Namespace, settings: Settings) -> int:
    return _with_database(settings, user_admin.listing)


def _user_disable(args: argparse.Namespace, settings: Settings) -> int:
    return _with_database(settings, user_admin.disable, args.email)


def _on_database(settings: Settings, work: Callable[[Connection], Awaitable[int]]) -> int:
    """Run `work` in one read-only snapshot of the database (the embedded one too, while `serve` runs)."""

    async def run() -> int:
        async with (
            open_database(
                settings.database_url, settings.data_dir, DatabaseTimeouts.from_settings(settings)
            ) as (pool, _),
            pool.acquire() as connection,
            connection.transaction(isolation="repeatable_read", readonly=True),
        ):
            return await work(connection)

    return asyncio.run(run())


def _audit_verify(args: argparse.Namespace, settings: Settings) -> int:
    async def work(connection: Connection) -> int:
        verdict = await chain.verify(connection)
        if verdict.whole:
            print(f"access log whole: {verdict.checked} entries")
            return 0
        print(f"access log broken at {verdict.broken_at}: {verdict.reason}", file=sys.stderr)
        print(f"{verdict.checked} entries before it are whole", file=sys.stderr)
        return 1

    return _on_database(settings, work)


def _audit_extract(args: argparse.Namespace, settings: Settings) -> int:
    since = None
    if args.since:
        try:
            since = parse_day_or_moment(args.since)
        except ValueError as exc:
            raise CommandError(f"--since: {exc}") from None

    async def work(connection: Connection) -> int:
        found = await extract.extract(connection, args.person_reference, since)
        print(json.dumps(found, ensure_ascii=False, indent=2))
        return 0

    return _on_database(settings, work)
