"""The SMTP capture server (devinfra.smtp_capture) as a child process."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from devinfra.mailbox import MaildirMailbox
from devinfra.processes import port_accepts, stop_process, wait_until
from devinfra.smtp_modes import MODES, default_mode_file


class LocalSmtp:
    """Capture server on 127.0.0.1:`port`; messages land in `maildir` (run_dir/mail)."""

    def __init__(
        self, run_dir: Path, port: int, *, maildir: Path | None = None, echo: bool = False
    ) -> None:
        self.run_dir = Path(run_dir).resolve()
        self.port = port
        self.host = "127.0.0.1"
        self.maildir = maildir or self.run_dir / "mail"
        self.mode_file = default_mode_file(self.maildir)
        self.log_file = self.run_dir / "smtp.log"
        self.echo = echo
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def mailbox(self) -> MaildirMailbox:
        return MaildirMailbox(self.maildir)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def set_mode(self, mode: str) -> None:
        """Fault injection: "accept", "tempfail" (451) or "reject" (550); instant."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        self.mode_file.write_text(mode + "\n")

    def start(self, timeout: float = 20.0) -> None:
        if self.running:
            return
        self.maildir.mkdir(parents=True, exist_ok=True)
        # A fault mode left by an earlier run must not leak into this one.
        self.mode_file.unlink(missing_ok=True)
        command = [
            sys.executable,
            "-u",
            "-m",
            "devinfra.smtp_capture",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--maildir",
            str(self.maildir),
            "--mode-file",
            str(self.mode_file),
        ]
        if self.echo:
            command.append("--print")
            # The demo wants the "[mail] ..." lines on our terminal, not in a file.
            self._process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, start_new_session=True
            )
        else:
            with self.log_file.open("ab") as log:
                self._process = subprocess.Popen(
                    command,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
        wait_until(
            lambda: port_accepts(self.host, self.port),
            timeout=timeout,
            what=f"SMTP capture on port {self.port}",
            process=self._process,
            log=None if self.echo else self.log_file,
        )

    def stop(self, timeout: float = 10.0) -> None:
        if self._process is not None:
            stop_process(self._process, sig=signal.SIGTERM, timeout=timeout)
            self._process = None

    def kill(self) -> None:
        if self._process is not None:
            stop_process(self._process, sig=signal.SIGKILL, timeout=5)
            self._process = None

    def restart(self, timeout: float = 20.0) -> None:
        self.stop()
        self.start(timeout)
