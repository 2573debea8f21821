"""What AWS (or a stand-in for it) failing looks like, for the layers above that must not import
botocore: the exception types to catch, and their code and one-line reason."""

from __future__ import annotations

import json
import re
from typing import Any

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
        return _one_line(f"{code}: {message}" if message else str(code))
    if _html_500(exc):
        return "the endpoint answered HTTP 500 (an AWS stand-in without this API, such as moto?)"
    if isinstance(exc, ResponseParserError):  # its message quotes the whole body
        return _one_line(str(exc).split("\n", 1)[0])
    if isinstance(exc, (NotAnAwsResponse, NoAnswer)):
        return str(exc)
    return _one_line(f"{type(exc).__name__}: {exc}")


def _html_500(exc: BaseException) -> bool:
    """moto answers HTTP 500 with an HTML page for the APIs it does not implement (drift among
    them), which botocore can't parse."""
    return isinstance(exc, ResponseParserError) and "500 Internal Server Error" in str(exc)


def _one_line(text: str) -> str:
    return " ".join(text.split())


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


# ------------------------------------------------------------------ endpoints that fail us


class NotAnAwsResponse(BotoCoreError):
    """An endpoint answered with something no AWS API answers (a proxy's page, garbage bytes):
    one line naming the endpoint and the operation, instead of a parser's exception."""

    fmt = "the endpoint {endpoint} answered {operation} with something that is not an AWS response"


class NoAnswer(BotoCoreError):
    """An endpoint did not answer (no connection, or no response within the timeout) in the
    attempts allowed: one line naming the endpoint, the operation and the limit."""

    fmt = "the endpoint {endpoint} did not answer {operation}: {why}"


# JSON protocols: botocore takes a 200 whose body is not JSON for an empty answer (its message
# the body), so a proxy's page would read as "no stacks"; the body is checked before it parses.
_JSON_PROTOCOLS = ("json", "rest-json")
# Connection failures and timeouts are retried this many attempts in all, whatever the retry
# mode allows for throttling: a dead endpoint costs at most this many timeouts per call.
NO_ANSWER_ATTEMPTS = 3


def _operation(event_name: str) -> str:
    return event_name.rsplit(".", 1)[-1]


def _from_parser(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if str(tb.tb_frame.f_globals.get("__name__", "")).startswith("botocore.parsers"):
            return True
        tb = tb.tb_next
    return False


def _no_answer_why(exc: BaseException, timeouts: tuple[float, float], attempts: int) -> str | None:
    from botocore.exceptions import (
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
    )

    connect, read = timeouts
    tries = f"{attempts} attempt{'s' * (attempts != 1)}"
    if isinstance(exc, ReadTimeoutError):
        return f"no response within {read:g} s ({tries}; MLOPS_AWS_READ_TIMEOUT sets the limit)"
    if isinstance(exc, ConnectTimeoutError):
        return f"no connection within {connect:g} s ({tries}; MLOPS_AWS_CONNECT_TIMEOUT sets the limit)"
    if isinstance(exc, EndpointConnectionError):
        return f"could not connect ({tries})"
    if isinstance(exc, ConnectionClosedError):
        return f"the connection was closed before a response ({tries})"
    return None


def guard_client(client: Any, timeouts: tuple[float, float], max_attempts: int = NO_ANSWER_ATTEMPTS) -> None:
    """Make a client's failures one-line AWS errors: an answer that is not an AWS response becomes
    NotAnAwsResponse (never a UnicodeDecodeError from deep in a parser), and an endpoint that
    does not answer ends after NO_ANSWER_ATTEMPTS attempts in NoAnswer."""
    endpoint = client.meta.endpoint_url
    events = client.meta.events

    def check_body(operation_model: Any, response_dict: dict, **_: Any) -> None:
        protocol = operation_model.service_model.resolved_protocol
        if protocol not in _JSON_PROTOCOLS or operation_model.has_streaming_output:
            return
        if int(response_dict.get("status_code") or 0) >= 300:
            return  # an error answer: botocore reads it (and says so when it can't)
        body = response_dict.get("body") or b""
        if not body:
            return
        try:
            doc = json.loads(body.decode("utf-8") if isinstance(body, bytes) else body)
        except (UnicodeDecodeError, ValueError):
            doc = None
        if not isinstance(doc, dict):
            raise NotAnAwsResponse(endpoint=endpoint, operation=operation_model.name)

    def stop_retrying(
        attempts: int, caught_exception: BaseException | None = None, operation: Any = None, **_: Any
    ):
        if caught_exception is None or attempts < NO_ANSWER_ATTEMPTS:
            return None
        why = _no_answer_why(caught_exception, timeouts, attempts)
        if why is not None:
            name = getattr(operation, "name", "a call")
            raise NoAnswer(endpoint=endpoint, operation=name, why=why) from caught_exception
        return None

    def translate(exception: BaseException, event_name: str, **_: Any) -> None:
        if isinstance(exception, (NotAnAwsResponse, NoAnswer, ClientError)):
            return
        operation = _operation(event_name)
        if isinstance(exception, ResponseParserError):
            if "500 Internal Server Error" in str(exception):
                return  # moto's page for an API it lacks: reason() says so
            raise NotAnAwsResponse(endpoint=endpoint, operation=operation) from exception
        if not isinstance(exception, BotoCoreError) and _from_parser(exception):
            raise NotAnAwsResponse(endpoint=endpoint, operation=operation) from exception
        why = _no_answer_why(exception, timeouts, min(max_attempts, NO_ANSWER_ATTEMPTS))
        if why is not None:  # retries ended by the retry mode's own limit first
            raise NoAnswer(endpoint=endpoint, operation=operation, why=why) from exception

    events.register("before-parse", check_body)
    events.register_first("needs-retry", stop_retrying)
    events.register("after-call-error", translate)


def stand_in_lacks(exc: BaseException) -> bool:
    """Whether a stand-in for AWS (moto) lacks the operation: a NotImplemented answer, or the HTML
    page of an HTTP 500 that botocore could not parse."""
    return not_implemented(exc) or _html_500(exc)


_BOOTSTRAP_PARAMETER = re.compile(r"/mlops/[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*")


def bootstrap_hint(detail: str) -> str:
    """A failure naming one of the SSM parameters bootstrap publishes (target-account.yaml: the
    boundary, the notify key) that CloudFormation could not read means the stage's account has
    not run this version's `mlopsctl bootstrap` (pipeline templates read them as
    AWS::SSM::Parameter::Value<String>; CreateChangeSet fails when one is missing)."""
    found = _BOOTSTRAP_PARAMETER.search(detail)
    if not found or "parameter" not in detail.lower():
        return detail
    return (
        f"{detail}; the stage's account lacks the SSM parameter {found.group(0)} that mlopsctl bootstrap "
        "makes: run `mlopsctl bootstrap` with this version (it adds /mlops/notify-key-arn), then deploy again"
    )
