"""Per-rule logs: every script writes its messages and progress bars to `snakemake.log[0]`."""
from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path

from tqdm import tqdm

TOOL_LOGS = "SYNPRETRAIN_TOOL_LOGS"  # the folder of the running job's log (set by rule_log)


@contextlib.contextmanager
def rule_log(path: str | os.PathLike | None, threads: int = 1):
    """Send stdout, stderr and `logging` to `path`; limit math libraries to `threads`; have tools
    that write logs into the working directory (the KIM API's kim.log) write beside `path`."""
    for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[key] = str(threads)
    if path is None:
        yield sys.stderr
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    # tools that log into the working directory (kim.log) write beside this log (labellers.in_tool_logs)
    os.environ[TOOL_LOGS] = str(Path(path).parent.resolve())
    with open(path, "w", buffering=1) as handle, \
            contextlib.redirect_stdout(handle), contextlib.redirect_stderr(handle):
        logging.basicConfig(stream=handle, level=logging.INFO, force=True,
                            format="%(asctime)s %(levelname)s %(message)s")
        if "torch" in sys.modules:  # else torch takes OMP_NUM_THREADS when imported (importing it costs 1-2 s)
            sys.modules["torch"].set_num_threads(threads)
        try:
            yield handle
        except Exception as error:
            logging.exception("rule failed")
            # the console gets the message in one line (the traceback is in the log, which the
            # default profile's show-failed-logs prints too), not a second copy of the traceback
            print(f"{type(error).__name__}: {error}\n  (traceback in {path})", file=sys.__stderr__, flush=True)
            raise SystemExit(1) from None
        except BaseException:
            logging.exception("rule failed")
            raise


class _Lines:
    """A file-like wrapper that turns tqdm's carriage-return redraws into separate log lines."""

    def __init__(self, handle):
        self.handle = handle

    def write(self, text: str) -> None:
        text = text.replace("\r", "\n").strip("\n")
        if text:
            self.handle.write(text + "\n")

    def flush(self) -> None:
        self.handle.flush()


def progress(total: int, desc: str, log) -> tqdm:
    """A progress bar written into the rule's log, one line at most every 10 s."""
    return tqdm(total=total, desc=desc, file=_Lines(log), mininterval=10.0, ascii=True,
                dynamic_ncols=False, ncols=100)
