"""EventBridge-style schedule expressions: ``cron(m h dom mon dow year)`` and ``rate(n unit)``.

SageMaker monitoring schedules accept only a few forms of it (see ``_check_monitor``).

Digits are ASCII digits only: ``str.isdigit`` and ``\\d`` accept other scripts' digits (and
superscripts, which ``int`` then refuses), AWS does not.
"""

from __future__ import annotations

import re

_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]

# name, low, high, names (index 0 == low), special tokens allowed
_FIELDS = [
    ("minutes", 0, 59, [], ""),
    ("hours", 0, 23, [], ""),
    ("day-of-month", 1, 31, [], "?LW"),
    ("month", 1, 12, _MONTHS, ""),
    ("day-of-week", 1, 7, _DAYS, "?L#"),
    ("year", 1970, 2199, [], ""),
]
_RATE = re.compile(r"rate\(([0-9]+) (minute|minutes|hour|hours|day|days)\)")
_CRON_EXAMPLE = "e.g. cron(0 2 * * ? *) runs daily at 02:00 UTC"


def _digits(text: str) -> bool:
    """``text`` is a non-empty run of ASCII digits 0-9."""
    return text.isascii() and text.isdigit()


class ScheduleError(ValueError):
    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def check_schedule(expr: str, *, allow_rate: bool, monitor: bool = False) -> None:
    """Raise ScheduleError with a precise message when ``expr`` is not a valid expression."""
    if expr.startswith("rate("):
        if not allow_rate:
            raise ScheduleError(
                f"{expr!r}: rate(...) is not accepted here", f"write a cron expression, {_CRON_EXAMPLE}"
            )
        _check_rate(expr)
        return
    if not (expr.startswith("cron(") and expr.endswith(")")):
        what = "cron(...) or rate(...)" if allow_rate else "cron(...)"
        raise ScheduleError(f"{expr!r} is not a {what} expression", _CRON_EXAMPLE)
    inner = expr[5:-1]
    fields = [f for f in inner.split(" ") if f]
    if inner != " ".join(fields):
        raise ScheduleError(
            f"{expr!r} has extra spaces; write the six fields separated by single spaces",
            _CRON_EXAMPLE,
        )
    if any(not f.isascii() or not f.isprintable() for f in fields) or not expr[5:-1].isascii():
        raise ScheduleError(
            f"{expr!r} holds characters other than ASCII letters, digits, spaces and * ? , - / L W #",
            "retype the expression with ASCII characters only, " + _CRON_EXAMPLE,
        )
    if len(fields) != 6:
        if len(fields) == 5:
            hint = "add the year field (usually *); unix cron has 5 fields, AWS cron has 6, " + _CRON_EXAMPLE
        else:
            hint = "write minutes hours day-of-month month day-of-week year, " + _CRON_EXAMPLE
        raise ScheduleError(f"{expr!r} has {len(fields)} fields, AWS cron needs 6", hint)
    for text, spec in zip(fields, _FIELDS, strict=True):
        _check_field(expr, text, *spec)
    dom, dow = fields[2], fields[4]
    if (dom == "?") == (dow == "?"):
        raise ScheduleError(
            f"{expr!r}: exactly one of day-of-month ({dom}) and day-of-week ({dow}) must be '?'",
            "put '?' in the one you don't restrict, e.g. cron(0 2 * * ? *)",
        )
    if monitor:
        _check_monitor(expr, fields)


# SageMaker's ScheduleConfig.ScheduleExpression accepts only these cron forms
# (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ScheduleConfig.html and
# https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-schedule-expression.html):
#   hourly             cron(0 * ? * * *)
#   daily at hour H    cron(0 H ? * * *)            H in 0-23 (written 0-23 or 00-23)
#   every N hours      cron(0 H/N ? * * *)          H in 0-23, N in 1-24
_MONITOR_HOURS = re.compile(r"\*|(?P<start>[0-9]{1,2})(?:/(?P<step>[0-9]{1,2}))?")


def _check_monitor(expr: str, fields: list[str]) -> None:
    minutes, hours, dom, month, dow, year = fields
    if minutes != "0":
        raise ScheduleError(
            f"{expr!r} runs more than once an hour or not on the hour; SageMaker monitoring schedules "
            "start on the hour, at most hourly",
            "set the minutes field to 0, e.g. cron(0 * ? * * *) for hourly",
        )
    m = _MONITOR_HOURS.fullmatch(hours)
    ok = (
        m is not None
        and (m["start"] is None or int(m["start"]) <= 23)
        and (m["step"] is None or 1 <= int(m["step"]) <= 24)
    )
    if not ok or (dom, month, dow, year) != ("?", "*", "*", "*"):
        raise ScheduleError(
            f"{expr!r} is not a form SageMaker monitoring schedules accept",
            "use cron(0 * ? * * *) (hourly), cron(0 H ? * * *) (daily at hour H) or "
            "cron(0 H/N ? * * *) (every N hours from hour H); see the SageMaker ScheduleConfig documentation",
        )


def _check_rate(expr: str) -> None:
    m = _RATE.fullmatch(expr)
    if not m:
        raise ScheduleError(
            f"{expr!r} is not a valid rate expression",
            "write rate(<n> <minute(s)|hour(s)|day(s)>), e.g. rate(1 day)",
        )
    n, unit = int(m.group(1)), m.group(2)
    if n == 0:
        raise ScheduleError(f"{expr!r}: the rate must be at least 1", "e.g. rate(1 day)")
    if n == 1 and unit.endswith("s"):
        raise ScheduleError(f"{expr!r}: a rate of 1 takes the singular unit", f"write rate(1 {unit[:-1]})")
    if n > 1 and not unit.endswith("s"):
        raise ScheduleError(f"{expr!r}: a rate above 1 takes the plural unit", f"write rate({n} {unit}s)")


def _value(expr: str, token: str, name: str, low: int, high: int, names: list[str]) -> int:
    if token.upper() in names:
        return low + names.index(token.upper())
    if not _digits(token):
        allowed = f"{low}-{high}" + (f" or {names[0]}-{names[-1]}" if names else "")
        raise ScheduleError(f"{expr!r}: {token!r} is not a valid {name} value", f"use {allowed}")
    value = int(token)
    if not low <= value <= high:
        raise ScheduleError(f"{expr!r}: {name} {value} is outside {low}-{high}", f"use {low}-{high}")
    return value


def _check_field(
    expr: str, text: str, name: str, low: int, high: int, names: list[str], special: str
) -> None:
    if text == "?":
        if "?" not in special:
            raise ScheduleError(f"{expr!r}: '?' is only allowed in day-of-month or day-of-week", "use * here")
        return
    for part in text.split(","):
        if not part:
            raise ScheduleError(f"{expr!r}: empty list item in the {name} field", "remove the extra comma")
        base, _, step = part.partition("/")
        if step:
            if not _digits(step) or int(step) == 0:
                raise ScheduleError(
                    f"{expr!r}: step {step!r} in the {name} field is not a positive number", "e.g. 0/15"
                )
        if base == "*":
            continue
        if base == "L" and "L" in special:
            continue
        if base == "LW" and name == "day-of-month":
            continue
        if name == "day-of-week" and re.fullmatch(r"[1-7]L", base):
            continue
        if "W" in special and re.fullmatch(r"[0-9]{1,2}W", base):
            _value(expr, base[:-1], name, low, high, names)
            continue
        if "#" in special and "#" in base:
            day, _, nth = base.partition("#")
            _value(expr, day, name, low, high, names)
            if nth not in ("1", "2", "3", "4", "5"):
                raise ScheduleError(
                    f"{expr!r}: {base!r} - the week after '#' must be 1-5", "e.g. 2#1 is the first Monday"
                )
            continue
        start, dash, end = base.partition("-")
        _value(expr, start, name, low, high, names)
        if dash:
            _value(expr, end, name, low, high, names)
