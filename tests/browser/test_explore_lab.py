"""notebooks/explore.ipynb in a real JupyterLab + Chromium: run all cells, click Run, see table, plot and compare.

The whole user path of the explorer, by clicking: open the notebook (blaze-lab kernel), Run > Run All Cells, pick
an impossible setting and read the reason in the panel, vary the batch size, click Run with the tiny model, wait
for the results table and the plotly figure, select both runs, click Compare, save them as an experiment that
``blaze-lab sweep --dry-run`` accepts. Screenshots go to
test-artifacts/browser/ (git-ignored).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from browser_support import ARTIFACTS, KERNEL_NAME, BrowserPage, Lab, needs_chromium
from typer.testing import CliRunner

from blaze_lab.cli import app

pytestmark = [pytest.mark.browser, needs_chromium]


# Generous, bounded waits: the machine is a loaded 2-core box; the first cell imports torch in a fresh kernel.
PANEL_TIMEOUT_MS = 240_000
RUN_TIMEOUT_MS = 300_000
UI_TIMEOUT_MS = 30_000


def _run_all_cells(page: Any) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()


def test_lab_lists_the_blaze_lab_kernel(jupyterlab: Lab) -> None:
    specs = jupyterlab.api("/api/kernelspecs")["kernelspecs"]
    assert KERNEL_NAME in specs
    assert specs[KERNEL_NAME]["spec"]["language"] == "python"


@pytest.mark.slow  # ~40-80 s: JupyterLab, a fresh kernel importing torch, two tiny-model runs
def test_explore_notebook_end_to_end(jupyterlab: Lab, chromium_page: BrowserPage) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "explore_lab_failure.png").unlink(missing_ok=True)
    try:
        _explore(jupyterlab, chromium_page)
    except BaseException:
        chromium_page.page.screenshot(path=str(ARTIFACTS / "explore_lab_failure.png"))  # what the browser showed
        (ARTIFACTS / "explore_console.txt").write_text("\n".join(chromium_page.errors))
        raise


def _explore(jupyterlab: Lab, chromium_page: BrowserPage) -> None:
    page = chromium_page.page
    page.goto(jupyterlab.page_url("explore.ipynb"))
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=UI_TIMEOUT_MS * 3)
    # Run All only once the kernel is connected and idle: earlier, JupyterLab can drop the request.
    page.get_by_text(re.compile(rf"{KERNEL_NAME} \(\.venv\) \| Idle")).wait_for(timeout=PANEL_TIMEOUT_MS)
    _run_all_cells(page)
    page.wait_for_function(  # the first code cell started ([*]) or finished ([1])
        "[...document.querySelectorAll('.jp-InputPrompt')].some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))",
        timeout=UI_TIMEOUT_MS,
    )

    explorer = page.locator(".blaze-explorer")
    explorer.wait_for(timeout=PANEL_TIMEOUT_MS)
    run_button = explorer.locator("button.blaze-run")
    assert "CPU-only" in explorer.locator(".blaze-capability").inner_text()

    # An impossible choice: the reason is shown in the panel, Run is disabled, no traceback anywhere.
    quant = explorer.locator(".blaze-field-quantization select")
    quant.select_option(label="torchao-int4-weight-only (unavailable)")
    problem = explorer.locator(".blaze-status .blaze-problem")
    problem.wait_for(timeout=UI_TIMEOUT_MS)
    assert "no CPU kernel" in problem.inner_text()
    assert run_button.is_disabled()
    quant.select_option(label="none")
    page.wait_for_function("!document.querySelector('.blaze-explorer button.blaze-run').disabled",
                           timeout=UI_TIMEOUT_MS)  # fmt: skip

    # Two runs of the tiny model (batch 1 and 2), by clicking Run.
    explorer.locator("input[placeholder^='e.g. batch_size']").fill("batch_size=1,2")
    explorer.locator("input[placeholder^='e.g. batch_size']").press("Enter")
    run_button.click()
    page.wait_for_function(
        "document.querySelectorAll('.blaze-results table tbody tr').length >= 2", timeout=RUN_TIMEOUT_MS
    )
    page.wait_for_function(
        "!document.querySelector('.blaze-explorer button.blaze-run').disabled", timeout=RUN_TIMEOUT_MS
    )
    table = explorer.locator(".blaze-results table").inner_text()
    assert "run-1" in table and "run-2" in table
    assert table.count("ok") >= 2, table
    assert "done: 2 run(s)" in explorer.inner_text()
    assert " MB" in table and "e+0" not in table  # memory in MB, no exponent notation
    assert "runs saved in" in explorer.locator(".blaze-saved").inner_text()  # under $BLAZE_LAB_RESULTS (conftest)
    assert explorer.locator(".blaze-progress").count() == 1

    # The live figure: JupyterLab's plotly renderer drew one bar per run.
    page.wait_for_function(
        "document.querySelectorAll('.blaze-plot .plotly .main-svg').length > 0", timeout=UI_TIMEOUT_MS * 2
    )
    page.wait_for_function(
        "document.querySelectorAll('.blaze-plot .plotly .bars .point').length >= 2", timeout=UI_TIMEOUT_MS
    )

    # Compare the two runs side by side (the picker lists each run with its full label).
    picker = explorer.locator(".blaze-compare-select select")
    labels = picker.locator("option").all_inner_texts()
    assert [label.split("·")[0].strip() for label in labels] == ["run-1", "run-2"] and all("·" in x for x in labels)
    picker.select_option(index=[0, 1])
    explorer.locator("button.blaze-compare-button").click()
    compare = explorer.locator(".blaze-compare table")
    compare.wait_for(timeout=UI_TIMEOUT_MS)
    text = compare.inner_text()
    assert "run-2 / run-1" in text and "tokens/s" in text
    assert "run-2 95% CI" in text and "no verdict" in text  # never a bare ratio

    # Save as experiment: the file the sweep's dry run accepts.
    saved = jupyterlab.root / "explored.yaml"
    explorer.locator(".blaze-save-path input").fill(str(saved))
    explorer.locator("button.blaze-save").click()
    explorer.locator(".blaze-save-status", has_text="wrote").wait_for(timeout=UI_TIMEOUT_MS)
    result = CliRunner().invoke(app, ["sweep", str(saved), "--dry-run", "--results", str(jupyterlab.root / "r")])
    assert result.exit_code == 0, result.output
    assert "2 runs in 1 load-time group" in result.output  # batch size is run-time: one model load

    explorer.locator(".blaze-results").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "explore_lab.png"))
    (ARTIFACTS / "explore_console.txt").write_text("\n".join(chromium_page.errors))
    assert chromium_page.errors == []  # no uncaught exception, no console error
    assert "Traceback" not in page.locator(".jp-Notebook").inner_text()
