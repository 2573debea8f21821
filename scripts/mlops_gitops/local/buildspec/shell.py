"""The build's shell: one process per command that restores the state the previous command left
(working directory, exported and plain variables), in its own process group, with its output
streamed line by line to the build log. The package docstring describes what carries over and why."""

from __future__ import annotations

import codecs
import os
import selectors
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import IO

_POLL_SECONDS = 0.1
_MASK_MIN_LENGTH = 3


# --------------------------------------------------------------------------------------------------
# Log


class _Log:
    """Collects the build log and streams every line to the caller as it is produced."""

    def __init__(self, sink: Callable[[str], None] | IO[str] | None) -> None:
        self.lines: list[str] = []
        self.masks: list[str] = []
        if sink is None or callable(sink):
            self._sink = sink
        else:
            stream = sink

            def write(line: str) -> None:
                stream.write(line + "\n")
                stream.flush()

            self._sink = write

    def line(self, text: str) -> None:
        for secret in self.masks:
            text = text.replace(secret, "***")
        self.lines.append(text)
        if self._sink is not None:
            self._sink(text)

    def container(self, message: str) -> None:
        now = time.time()
        stamp = time.strftime("%Y/%m/%d %H:%M:%S", time.localtime(now)) + f".{int(now % 1 * 1e6):06d}"
        first, *rest = message.rstrip("\n").split("\n")
        self.line(f"[Container] {stamp} {first}")
        for text in rest:  # the other lines of a multi-line command: still marked as the runner's
            self.line(f"[Container] {text}")

    def mask(self, values: Iterable[str]) -> None:
        self.masks = sorted({v for v in values if len(v) >= _MASK_MIN_LENGTH}, key=len, reverse=True)


class _Lines:
    """Splits decoded output into lines for the log."""

    def __init__(self, log: _Log) -> None:
        self.log = log
        self.buffer = ""
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, data: bytes) -> None:
        self.buffer += self.decoder.decode(data)
        *lines, self.buffer = self.buffer.split("\n")
        for text in lines:
            self.log.line(text.removesuffix("\r"))

    def close(self) -> None:
        self.buffer += self.decoder.decode(b"", final=True)
        if self.buffer:
            self.log.line(self.buffer.removesuffix("\r"))
        self.buffer = ""


# --------------------------------------------------------------------------------------------------
# The shell


# Variables the shells set for themselves (bash, dash): never carried from one command to the next.
_SHELL_OWNED = frozenset(
    "COLUMNS DIRSTACK EPOCHREALTIME EPOCHSECONDS EUID FUNCNAME GROUPS HISTCMD HISTFILE HOSTNAME HOSTTYPE "
    "IFS LINENO LINES MACHTYPE MAILCHECK OLDPWD OPTARG OPTERR OPTIND OSTYPE PIPESTATUS PPID PS1 PS2 PS3 "
    "PS4 PWD RANDOM SECONDS SHELL SHELLOPTS SHLVL SRANDOM TERM UID _".split()
)
_SHELL_OWNED_PREFIXES = ("BASH", "COMP_", "__cb_")
_ENV_NOT_CARRIED = frozenset({"_", "SHLVL", "PWD"})

# Appended to every command. Restores nothing itself: it records the state the command left.
# `set` lists every variable; `eval`+`printf` prints each value NUL-terminated, whatever it contains.
_TRAILER = r"""
{ __cb_rc=$?; set +e +u +x +v +f +C; } 2>/dev/null
unset IFS
pwd >| @PWD_FILE@
@ENV@ -0 >| @ENV_FILE@
for __cb_n in $(set | while IFS= read -r __cb_l; do
  case $__cb_l in
    [A-Za-z_]*=*)
      __cb_n=${__cb_l%%=*}
      case $__cb_n in *[!A-Za-z0-9_]*) ;; *) printf '%s\n' "$__cb_n" ;; esac ;;
  esac
done); do
  eval "[ -n \"\${$__cb_n+x}\" ]" || continue
  eval "printf '%s=%s\\0' \"\$__cb_n\" \"\${$__cb_n}\""
done >| @VARS_FILE@
exit "$__cb_rc"
"""


def _split_nul(data: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in data.split(b"\0"):
        name, sep, value = item.partition(b"=")
        if sep and name:
            out[os.fsdecode(name)] = os.fsdecode(value)
    return out


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class _Shell:
    """The build's shell state (exported environment, unexported variables, working directory),
    carried from command to command; see the package docstring for why one process per command."""

    def __init__(self, program: str, env: dict[str, str], cwd: str, workdir: Path, log: _Log) -> None:
        self.program = program
        self.env = env
        self.shell_vars: dict[str, str] = {}
        self.cwd = cwd
        self.workdir = workdir
        self.log = log
        self.process_groups: list[int] = []
        self._count = 0
        self._env_program = shutil.which("env") or "/usr/bin/env"

    def variable(self, name: str) -> str | None:
        return self.env.get(name, self.shell_vars.get(name))

    def run(self, command: str, overrides: Mapping[str, str], deadline: float) -> int | None:
        """Run one buildspec command; its exit status, or None when the build's deadline passed."""
        self._count += 1
        n = self._count
        state = self.workdir / f"state-{n}"
        state.mkdir()
        command_file = self.workdir / f"command-{n}.sh"
        command_file.write_bytes((command + "\n").encode("utf-8", "surrogateescape"))
        lines = [f"{name}={shlex.quote(value)}" for name, value in self.shell_vars.items()]
        lines.append(f". {shlex.quote(str(command_file))}")
        trailer = (
            _TRAILER.replace("@PWD_FILE@", shlex.quote(str(state / "pwd")))
            .replace("@ENV@", shlex.quote(self._env_program))
            .replace("@ENV_FILE@", shlex.quote(str(state / "env")))
            .replace("@VARS_FILE@", shlex.quote(str(state / "vars")))
        )
        script = self.workdir / f"script-{n}.sh"
        script.write_bytes(("\n".join(lines) + trailer).encode("utf-8", "surrogateescape"))
        env = {**self.env, **overrides, "PWD": self.cwd}
        cwd = self.cwd
        if not os.path.isdir(cwd):  # a command removed it; a shell would sit in a deleted directory
            parent = Path(cwd)
            while not parent.is_dir():
                parent = parent.parent
            self.log.container(f"Working directory {cwd} no longer exists; running in {parent}")
            cwd = self.cwd = env["PWD"] = str(parent)
        status = self._spawn([self.program, str(script)], env, cwd, deadline)
        if status is not None:
            self._load(state)
        return status

    def _spawn(self, argv: list[str], env: dict[str, str], cwd: str, deadline: float) -> int | None:
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )
        except OSError as exc:
            self.log.container(f"Cannot start the shell {argv[0]}: {exc}")
            return 127
        self._forget_empty_groups()
        self.process_groups.append(proc.pid)
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        os.set_blocking(fd, False)
        lines = _Lines(self.log)
        with selectors.DefaultSelector() as selector, proc.stdout:
            selector.register(fd, selectors.EVENT_READ)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    _kill_group(proc.pid)
                    proc.wait()
                    lines.close()
                    return None
                if proc.poll() is not None:
                    # The shell is gone. A background process may still hold the pipe: take what is
                    # there now instead of waiting for an end of file that may never come.
                    self._drain(fd, lines)
                    break
                if not selector.select(timeout=min(remaining, _POLL_SECONDS)):
                    continue
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    continue
                if data:
                    lines.feed(data)
                    continue
                try:  # end of file: every writer has gone, the shell is exiting
                    proc.wait(timeout=max(deadline - time.monotonic(), 0.0))
                except subprocess.TimeoutExpired:
                    _kill_group(proc.pid)
                    proc.wait()
                    lines.close()
                    return None
                break
        lines.close()
        code = proc.returncode
        return 128 - code if code < 0 else code

    @staticmethod
    def _drain(fd: int, lines: _Lines) -> None:
        for _ in range(256):  # bounded: a background writer could keep the pipe busy forever
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                return
            if not data:
                return
            lines.feed(data)

    def _load(self, state: Path) -> None:
        files = [state / "pwd", state / "env", state / "vars"]
        if not all(f.is_file() for f in files):
            return  # the command ended the shell (exit, set -e): the state stays as it was before it
        cwd = os.fsdecode(files[0].read_bytes().removesuffix(b"\n"))
        env = {k: v for k, v in _split_nul(files[1].read_bytes()).items() if k not in _ENV_NOT_CARRIED}
        if "SHLVL" in self.env:  # each command's shell adds one; keep the starting value
            env["SHLVL"] = self.env["SHLVL"]
        shell_vars = {
            k: v
            for k, v in _split_nul(files[2].read_bytes()).items()
            if k not in env
            and k not in _SHELL_OWNED
            and k not in _ENV_NOT_CARRIED
            and not k.startswith(_SHELL_OWNED_PREFIXES)
        }
        self.env, self.shell_vars = env, shell_vars
        if cwd:
            self.cwd = cwd

    def _forget_empty_groups(self) -> None:
        """Drop the groups with no process left: their ids may be reused by anyone from then on."""
        alive = []
        for pgid in self.process_groups:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                continue
            except PermissionError:  # reused by another user's process: not ours any more
                continue
            alive.append(pgid)
        self.process_groups = alive

    def kill_leftovers(self) -> None:
        """Kill what the commands left running, as removing CodeBuild's container does. A group id
        is not reused while any member of the group lives, and empty groups are forgotten before
        each command, so this reaches only our processes."""
        self._forget_empty_groups()
        for pgid in self.process_groups:
            _kill_group(pgid)
