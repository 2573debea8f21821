"""What AWS (or a stand-in for it) failing looks like, for the layers above that must not import
botocore: the exception types to catch, and their code and one-line reason."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

# Every failure of an AWS call: an error answer, a transport or credentials failure, or an
# answer that can't be parsed (moto answers HTML for APIs it lacks; ResponseParserError is not a
# BotoCoreError).
AWS_ERRORS: tuple[type[Exception], ...] = (ClientError, BotoCoreError, ResponseParserError)


def error_code(exc: BaseException) -> str:
    """The AWS error code of a failed call ("" when the failure carries none)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def is_missing(exc: BaseException, *codes: str) -> bool:
    """Whether the call failed because the thing asked for does not exist."""
    return error_code(exc) in (codes or ("404", "NoSuchKey", "NotFound", "ResourceNotFoundException"))


def reason(exc: BaseException) -> str:
    """One line: `Code: message` for an AWS answer, a plain sentence for a stand-in's HTML 500."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code") or "error"
        message = error.get("Message") or ""
        return f"{code}: {message}" if message else str(code)
    if isinstance(exc, ResponseParserError) and "500 Internal Server Error" in str(exc):
        # moto answers HTTP 500 with an HTML page for the APIs it does not implement (drift among them)
        return "the endpoint answered HTTP 500 (an AWS stand-in without this API, such as moto?)"
    return f"{type(exc).__name__}: {exc}"


def not_implemented(exc: BaseException) -> bool:
    """Whether an endpoint that stands in for AWS (moto) lacks the operation: it answers HTTP 500
    with an HTML page (no AWS error code) or a NotImplemented code. AWS's own 500s carry a code."""
    if not isinstance(exc, ClientError):
        return False
    error = exc.response.get("Error", {})
    code, message = str(error.get("Code", "")), str(error.get("Message", ""))
    if code in ("NotImplemented", "NotImplementedException"):
        return True
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status == 500 and (
        code == "500"
        or "not been implemented" in message
        or message.lstrip().lower().startswith("<!doctype html")
    )
