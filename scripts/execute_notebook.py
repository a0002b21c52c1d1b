"""Execute a notebook with nbclient and save it plus an HTML export.

Called by scripts/run_notebook.ts as

    /usr/bin/python3 scripts/execute_notebook.py IN.ipynb OUT.ipynb OUT.html \
        --cwd DIR --kernel deno [--timeout SECONDS]

with JUPYTER_PATH pointing at the project-local kernelspec. The executed
notebook is written even when a cell fails, so the partial run can be read.
On stdout the last line is a JSON summary:
{"status": "ok"} or {"status": "error", "cell": i, "ename", "evalue", "traceback"}
or {"status": "interrupted", ...}.
Exit codes: 0 ok, 1 a cell failed, 2 the kernel or executor failed,
4 stopped by SIGTERM or SIGINT (the partial notebook is saved and the kernel
shut down first).
"""

import argparse
import base64
import copy
import html
import json
import queue
import signal
import sys

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import (
    CellExecutionComplete,
    CellExecutionError,
    CellTimeoutError,
    DeadKernelError,
)
from nbclient.util import ensure_async, run_sync
from nbconvert import HTMLExporter


# How long to keep listening after a cell reports idle. The Deno kernel can
# publish a cell's execute_result (or other output) just after its "idle"
# status, where plain nbclient would drop it; we keep reading until the
# kernel has been quiet this long.
LATE_OUTPUT_QUIET_S = 0.25


class DenoNotebookClient(NotebookClient):
    """NotebookClient that also collects outputs arriving after "idle", and
    with `echo` set copies the cells' printed text to stderr as it comes."""

    echo = False

    def process_message(self, msg, cell, cell_index):
        if self.echo and msg["msg_type"] == "stream":
            sys.stderr.write(msg["content"].get("text", ""))
            sys.stderr.flush()
        return super().process_message(msg, cell, cell_index)

    async def _async_poll_output_msg(self, parent_msg_id, cell, cell_index):
        assert self.kc is not None
        while True:
            msg = await ensure_async(self.kc.iopub_channel.get_msg(timeout=None))
            if msg["parent_header"].get("msg_id") == parent_msg_id:
                try:
                    self.process_message(msg, cell, cell_index)
                except CellExecutionComplete:
                    break
        while True:
            try:
                msg = await ensure_async(
                    self.kc.iopub_channel.get_msg(timeout=LATE_OUTPUT_QUIET_S)
                )
            except queue.Empty:
                return
            if msg["parent_header"].get("msg_id") == parent_msg_id:
                try:
                    self.process_message(msg, cell, cell_index)
                except CellExecutionComplete:
                    pass


def first_error(nb):
    """Return (cell index, error output) of the first error output, or None."""
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return index, output
    return None


def svg_as_img(svg):
    """An <img> showing the SVG from a data: URI.

    nbconvert 6.5 (Debian 12's) passes inline SVG through lxml's clean_html,
    which drops every SVG element, so exported figures came out blank. As an
    image the SVG is its own document: no page stylesheet can clip it and its
    ids cannot clash with another figure's.
    """
    if isinstance(svg, list):
        svg = "".join(svg)
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return (
        '<img alt="figure" style="max-width:none" '
        f'src="data:image/svg+xml;base64,{html.escape(data)}">'
    )


def for_html_export(nb):
    """A copy of the notebook whose SVG outputs also carry that <img> as
    text/html, which the exporter prefers; the saved .ipynb is unchanged."""
    out = copy.deepcopy(nb)
    for cell in out.cells:
        for output in cell.get("outputs", []):
            data = output.get("data")
            if data and "image/svg+xml" in data and "text/html" not in data:
                data["text/html"] = svg_as_img(data["image/svg+xml"])
    return out


def save(nb, out_ipynb, out_html):
    nbformat.write(nb, out_ipynb)
    try:
        body, _ = HTMLExporter().from_notebook_node(for_html_export(nb))
        with open(out_html, "w", encoding="utf-8") as f:
            f.write(body)
    except Exception as e:  # the .ipynb is what matters; say why HTML is missing
        print(f"warning: HTML export failed: {e!r}", file=sys.stderr)


def _stop(signum, frame):
    # Raised inside nbclient's loop: its cleanup shuts the kernel down.
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main():
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    parser = argparse.ArgumentParser()
    parser.add_argument("input")
    parser.add_argument("out_ipynb")
    parser.add_argument("out_html")
    parser.add_argument("--cwd", required=True)
    parser.add_argument("--kernel", default="deno")
    # 0: no per-cell limit (papermill's default): a week's training cell
    # may run for hours at the full table's settings.
    parser.add_argument("--timeout", type=int, default=0)
    parser.add_argument("--echo", action="store_true",
                        help="copy printed cell output to stderr live")
    args = parser.parse_args()

    nb = nbformat.read(args.input, as_version=4)
    client = DenoNotebookClient(
        nb,
        timeout=args.timeout or None,
        kernel_name=args.kernel,
        resources={"metadata": {"path": args.cwd}},
        startup_timeout=120,
    )
    client.echo = args.echo
    summary = {"status": "ok"}
    code = 0
    try:
        client.execute()
    except KeyboardInterrupt as e:
        code = 4
        summary = {
            "status": "interrupted",
            "cell": None,
            "ename": "Interrupted",
            "evalue": str(e) or "interrupted",
            "traceback": [],
        }
        try:
            run_sync(client.km.shutdown_kernel)(now=True)
        except Exception:
            pass  # the runner kills what is left
    except CellExecutionError as e:
        # Used when the error output itself never arrived.
        code = 1
        summary = {
            "status": "error",
            "cell": None,
            "ename": getattr(e, "ename", "CellExecutionError"),
            "evalue": getattr(e, "evalue", str(e)),
            "traceback": str(getattr(e, "traceback", "")).splitlines(),
        }
    except (CellTimeoutError, DeadKernelError) as e:
        code = 1
        summary = {
            "status": "error",
            "cell": None,
            "ename": type(e).__name__,
            "evalue": str(e).strip().splitlines()[0] if str(e).strip() else "",
            "traceback": [],
        }
    except Exception as e:
        code = 2
        summary = {
            "status": "error",
            "cell": None,
            "ename": type(e).__name__,
            "evalue": str(e),
            "traceback": [],
        }
    found = first_error(nb) if code != 4 else None
    if found is not None:
        index, output = found
        code = code or 1
        summary = {
            "status": "error",
            "cell": index,
            "ename": output.get("ename", ""),
            "evalue": output.get("evalue", ""),
            "traceback": output.get("traceback", []),
        }
    save(nb, args.out_ipynb, args.out_html)
    print(json.dumps(summary))
    sys.exit(code)


if __name__ == "__main__":
    main()
