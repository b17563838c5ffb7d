"""Typed errors carrying their HTTP status and CLI exit code (after pygeoapi's provider errors)."""


class PlatformError(Exception):
    http_status = 500
    exit_code = 1
    code = "InternalError"


class InvalidInput(PlatformError):
    """The caller's input is wrong: a 400 on the web, exit status 2 on the command line."""

    http_status = 400
    exit_code = 2
    code = "InvalidInput"


class NotFound(PlatformError):
    http_status = 404
    exit_code = 2
    code = "NotFound"


class Conflict(PlatformError):
    http_status = 409
    exit_code = 2
    code = "Conflict"


class Forbidden(PlatformError):
    http_status = 403
    exit_code = 2
    code = "Forbidden"
