"""Validation errors name the parameter a client sends (`range`), never its Python name (`range_`)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.exceptions import ValidationException
from litestar.exceptions.responses import create_exception_response
from litestar.params import ParameterKwarg


def name_client_parameters(request: Request, exc: ValidationException) -> Response:
    """Rename each error's key to its query or header alias, then answer as Litestar would."""
    aliases = client_aliases(request)
    for error in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(error, dict) and error.get("key") in aliases:
            error["key"] = aliases[error["key"]]
    return create_exception_response(request, exc)


def client_aliases(request: Request) -> dict[str, str]:
    """Python parameter name -> the name the client uses, for every aliased parameter of the route."""
    handler: Any = request.scope.get("route_handler")
    parameters = handler.parsed_fn_signature.parameters if handler else {}
    return {name: kwarg.query or kwarg.header
            for name, field in parameters.items()
            if isinstance(kwarg := field.kwarg_definition, ParameterKwarg) and (kwarg.query or kwarg.header)}
