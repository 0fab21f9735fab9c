"""The documentation: the site builds with warnings as errors, and every example in it runs.

Examples are the fenced ``python`` and ``bash`` blocks of the Markdown pages under ``docs/``. The
blocks of one page run in order in a fresh interpreter and an empty temporary folder, as a reader
would run them: python blocks share one namespace, each bash block runs in its own shell. A block
preceded by the line ``<!-- docs-test: skip -->`` is not run (kept for the few that cannot run in
a test, e.g. installing packages or starting a cluster). A line ``<!-- docs-test: env NAME=value
-->`` in a page sets that environment variable for its examples (the CUDA guide's run on numba's
CUDA simulator where there is no GPU).
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SKIP_MARKER = "<!-- docs-test: skip -->"
_ENV_MARKER = re.compile(r"^<!-- docs-test: env (\w+)=(\S*) -->$", re.M)
RUN_LANGUAGES = ("python", "bash")
_FENCE_OPEN = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*\{?[ \t]*\.?(?P<lang>[\w+-]*)")
# Where the installed console script is missing (an editable install older than its entry
# point), the shell examples run the same command through the module.
_BASH_PRELUDE = """\
set -euo pipefail
if ! command -v fastkeras-augment >/dev/null 2>&1; then
    fastkeras-augment() { "$FASTKERAS_PYTHON" -m fastkeras.cli "$@"; }
fi
"""


@dataclass
class Block:
    """One fenced code block of a Markdown page."""

    lang: str
    code: str
    line: int  # 1-based line of the opening fence
    skip: bool


def code_blocks(text: str) -> list[Block]:
    """The fenced code blocks of a Markdown text, in order (indented fences included)."""
    lines = text.splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        opening = _FENCE_OPEN.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        previous = next((s.strip() for s in reversed(lines[:i]) if s.strip()), "")
        body = []
        j = i + 1
        while j < len(lines) and not (
            lines[j].strip().startswith(fence) and lines[j].strip().strip(fence[0]) == ""
        ):
            body.append(lines[j][len(indent):] if lines[j].startswith(indent) else lines[j])
            j += 1
        if j == len(lines):
            raise ValueError(f"unclosed code fence opened on line {i + 1}")
        blocks.append(Block(opening["lang"].lower(), textwrap.dedent("\n".join(body)) + "\n",
                            i + 1, previous == SKIP_MARKER))
        i = j + 1
    return blocks


def page_environment(text: str) -> dict[str, str]:
    """The environment variables a page's ``<!-- docs-test: env NAME=value -->`` lines set."""
    return dict(_ENV_MARKER.findall(text))


def _pages() -> list[pathlib.Path]:
    return sorted(DOCS.rglob("*.md"))


def _page_id(path: pathlib.Path) -> str:
    return path.relative_to(DOCS).as_posix()


def _runnable(path: pathlib.Path) -> list[Block]:
    return [b for b in code_blocks(path.read_text(encoding="utf-8"))
            if b.lang in RUN_LANGUAGES and not b.skip]


def test_code_block_parser():
    text = textwrap.dedent("""\
        Intro.

        ```python
        a = 1
        ```

        <!-- docs-test: skip -->

        ```bash
        echo hi
        ```

        !!! note
            ```python
            if a:
                b = 2
            ```

        ````text
        ```python
        not a block
        ```
        ````
        """)
    blocks = code_blocks(text)
    assert [(b.lang, b.line, b.skip) for b in blocks] == [
        ("python", 3, False), ("bash", 9, True), ("python", 14, False), ("text", 19, False)]
    assert blocks[2].code == "if a:\n    b = 2\n"
    assert blocks[3].code == "```python\nnot a block\n```\n"
    assert page_environment("<!-- docs-test: env A=1 -->\ntext <!-- docs-test: env B=2 -->\n"
                            "<!-- docs-test: env C=x y -->\n") == {"A": "1"}


def test_skip_markers_are_rare():
    blocks = [b for page in _pages() for b in code_blocks(page.read_text(encoding="utf-8"))
              if b.lang in RUN_LANGUAGES]
    skipped = [b for b in blocks if b.skip]
    assert blocks, "no runnable examples found under docs/"
    assert len(skipped) <= max(3, len(blocks) // 8), (
        f"{len(skipped)} of {len(blocks)} examples are marked '{SKIP_MARKER}'")


# Runs one page's examples in a fresh interpreter, in order: python blocks share one namespace,
# each bash block runs in its own shell. Blocks are padded so that tracebacks give the page's lines.
_RUNNER = """\
import json, os, subprocess, sys
page, blocks, prelude = json.load(open(sys.argv[1], encoding="utf-8"))
namespace = {"__name__": "__main__"}
for lang, line, code in blocks:
    if lang == "python":
        exec(compile("\\n" * line + code, page, "exec"), namespace)
        continue
    done = subprocess.run(["bash", "-c", prelude + code])
    if done.returncode:
        sys.exit(f"{page}:{line}: shell example exited with status {done.returncode}")
"""


@pytest.mark.parametrize("page", [p for p in _pages() if _runnable(p)], ids=_page_id)
def test_examples_run(page, tmp_path):
    blocks = _runnable(page)
    name = f"docs/{_page_id(page)}"
    spec = tmp_path / "_examples.json"
    spec.write_text(json.dumps([name, [(b.lang, b.line, b.code) for b in blocks], _BASH_PRELUDE]),
                    encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    env = dict(os.environ, FASTKERAS_PYTHON=sys.executable)
    env.update(page_environment(page.read_text(encoding="utf-8")))
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    done = subprocess.run([sys.executable, "-c", _RUNNER, str(spec)], cwd=work, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (
        f"examples of {name} failed:\n{done.stdout[-4000:]}\n{done.stderr[-8000:]}")


def test_site_builds_strict(tmp_path):
    for module in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python"):
        pytest.importorskip(module, reason=f"{module} is not installed (pip install -e '.[docs]')")
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
         str(ROOT / "mkdocs.yml"), "--site-dir", str(site)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, NO_MKDOCS_2_WARNING="1"),
    )
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stdout}\n{done.stderr}"
    assert (site / "index.html").is_file()
    # Every API reference page rendered the objects named on it.
    for page in sorted((DOCS / "reference").glob("*.md")):
        names = re.findall(r"^::: ([\w.]+)", page.read_text(encoding="utf-8"), flags=re.M)
        built = site / "reference" / ("" if page.stem == "index" else page.stem) / "index.html"
        html = built.read_text(encoding="utf-8")
        missing = [n for n in names if f'id="{n}"' not in html]
        assert not missing, f"{page.name}: no rendered entry for {missing}"


# -- scripts/make_performance_page.py -----------------------------------------------------------

def _perf_module():
    import importlib.util

    name = "make_performance_page"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, ROOT / "scripts" / "make_performance_page.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while it runs
        spec.loader.exec_module(module)
    return sys.modules[name]


# One small results file per benchmark, in the layout its script writes with --json.
_RESULTS = {
    "augment": {"machine": {"python": "3.11", "cpus": 2, "numba_threads": 2, "numpy": "2.4"},
                "batch_size": 32, "first_call_warm_s": 0.05,
                "rows": [{"config": "basic", "size": "224x224x3", "dtype": "uint8",
                          "images_per_s": {"fastkeras": 1000.0, "keras_preprocessing": 250.0,
                                           "cv2_warpAffine": 2000.0}},
                         {"config": "full", "size": "224x224x3", "dtype": "uint8",
                          "images_per_s": {"fastkeras": 800.0, "keras_preprocessing": 200.0}}]},
    "backend": {"machine": "Linux", "cpus": 2, "threads": {"OMP_NUM_THREADS": "1"},
                "repeats": 5, "ms_per_step": {"fastkeras": {"mlp": 2.0, "small_ops": 0.1},
                                              "torch": {"mlp": 5.0, "small_ops": 0.05}}},
    "masks": {"machine": "Linux", "cpus": 2, "threads": {"numba": 2}, "repeats": 5,
              "shapes": {"dropout": [256, 4096]},
              "ms_per_step": {"fastkeras": {"dropout": 0.5}, "numpy": {"dropout": 7.0}}},
    "cli": {"job": {"sources": 2000, "size": 256, "copies": 5, "quality": 90,
                    "augmentation": {}, "workers": 2},
            "python": "3.11", "cpus": 2,
            "results": [{"name": "fastkeras-augment --workers 2", "images": 10000,
                         "seconds": 50.0, "images_per_s": 200.0},
                        {"name": "keras_preprocessing loop", "images": 500, "seconds": 10.0,
                         "images_per_s": 50.0}]},
    "dense": {"header": {"machine": "x86_64", "cpus": 2, "numpy": "2.4", "numba": "0.68",
                         "numba_threads": 2},
              "dense": [{"batch": 128, "input_dim": 784, "units": 512,
                         "ms": {"fastkeras op": 1.0, "numpy": 3.0, "bare GEMM": 0.8}}],
              "activations": [{"activation": "relu", "fastkeras_ms": 0.2, "numpy_ms": 0.6,
                               "speedup": 3.0}]},
    "directory": {"machine": {"cpus": 2, "python": "3.11", "platform": "Linux"},
                  "settings": {"images": 2000, "batch_size": 32, "target_size": [224, 224],
                               "batches": 20, "augmentation": {}},
                  "cases": {"no_augment": {"fastkeras": {"images_per_s": 900.0},
                                           "keras3": {"images_per_s": 300.0}}}},
    "mlp": {"benchmark": "mlp_epoch", "samples": 60000, "batch_size": 128, "threads": 2,
            "repeats": 2, "python": "3.11", "machine": "x86_64",
            "results": {"fastkeras": {"epoch_s": 4.0, "predict_s": 0.5},
                        "pytorch": {"epoch_s": 8.0, "predict_s": 0.4}}},
    "optimizers": {"meta": {"machine": "x86_64", "python": "3.11", "cpus": 2},
                   "results": [{"set": "mlp", "optimizer": "adam", "params": 669706,
                                "fastkeras_ms": 0.1, "keras_ms": 1.0, "keras_ratio": 10.0}]},
    "zca": {"machine": "Linux", "cpus": 2,
            "cases": {"fit_10000x32x32x3": {
                          "fastkeras": {"fit_s": 2.0, "peak_rss_fit_gb": 0.5,
                                        "rss_before_fit_gb": 0.2},
                          "keras3": {"fit_s": 10.0, "peak_rss_fit_gb": 1.5,
                                     "rss_before_fit_gb": 0.2, "ratio_vs_fastkeras": 5.0},
                          "matrix_gap_vs_keras3": 1e-9,
                          "floor_gram_s": 0.25, "floor_eigh_s": 1.5},
                      "fit_flow_1000x224x224x3": {
                          "fastkeras": {"fit_s": 30.0, "peak_rss_fit_gb": 2.5,
                                        "rss_before_fit_gb": 0.6, "flow_images_per_s": 150.0},
                          "keras_matrix_bytes_float64": 181_267_968_000}}},
    "cuda": {"device": "CUDA device 0: NVIDIA H100", "simulator": False,
             "augmentation_images_per_s": {"fastkeras CPU kernel": 500.0,
                                           "fastkeras CUDA, batch on the device": 20000.0},
             "gemm_gflops": {"numpy BLAS (CPU), 1024x1024x1024": 100.0,
                             "tiled numba GEMM, 1024x1024x1024": 5000.0},
             "mlp_epoch_seconds": {"fastkeras fit (CPU)": 6.0,
                                   "fastkeras CUDA kernels, device-resident": 0.5}},
}


def _table_rows(page: str, section: str) -> list[list[str]]:
    """The cells of the table rows (headers included) under heading ``## section``."""
    text = page.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]


def test_performance_page_from_results(tmp_path):
    pytest.importorskip("matplotlib", reason="matplotlib is not installed (the bench extra)")
    perf = _perf_module()
    results, figures = tmp_path / "results", tmp_path / "figures"
    results.mkdir()
    for name, data in _RESULTS.items():
        if name != "zca":  # one benchmark left unmeasured
            # The script reads both spellings of the file name.
            filename = f"bench_{name}.json" if name == "cli" else f"{name}.json"
            (results / filename).write_text(json.dumps(data), encoding="utf-8")
    out = tmp_path / "performance.md"
    assert perf.main([str(results), "--out", str(out), "--figures", str(figures)]) == 0
    page = out.read_text(encoding="utf-8")

    # Throughputs: fastkeras / reference; times and memory: reference / fastkeras.
    assert _table_rows(page, "ImageDataGenerator.flow")[1:] == [
        ["basic 224x224x3 uint8", "1,000", "250 (4.00x)", "2,000 (0.50x)"],
        ["full 224x224x3 uint8", "800", "200 (4.00x)", "–"]]
    assert _table_rows(page, "The backend (K)")[1:] == [
        ["mlp", "2.00", "5.00 (2.50x)"], ["small_ops", "0.1", "0.05 (0.50x)"]]
    assert _table_rows(page, "Training an MLP")[1:] == [
        ["training epoch", "4.00", "8.00 (2.00x)"], ["predict pass", "0.5", "0.4 (0.80x)"]]
    assert _table_rows(page, "The fastkeras-augment command")[1:] == [
        ["job", "200", "50.00 (4.00x)"]]
    assert _table_rows(page, "The Dense layer")[1] == [
        "batch 128x784 -> 512 units", "1.00", "3.00 (3.00x)", "0.8 (0.80x)"]
    assert _table_rows(page, "Optimizer steps")[1:] == [["mlp: adam", "0.1", "1.00 (10.00x)"]]
    assert _table_rows(page, "flow_from_directory")[1:] == [["no augment", "900", "300 (3.00x)"]]
    assert _table_rows(page, "Dropout and masking")[1:] == [["dropout", "0.5", "7.00 (14.00x)"]]
    # Implementation lists: each row against the first.
    assert _table_rows(page, "CUDA kernels") == [
        ["implementation", "images/s", "x fastkeras CPU kernel"],
        ["fastkeras CPU kernel", "500", "1.00x"],
        ["fastkeras CUDA, batch on the device", "20,000", "40.00x"],
        ["implementation", "GFLOP/s", "x numpy BLAS (CPU), 1024x1024x1024"],
        ["numpy BLAS (CPU), 1024x1024x1024", "100", "1.00x"],
        ["tiled numba GEMM, 1024x1024x1024", "5,000", "50.00x"],
        ["implementation", "s", "x fastkeras fit (CPU)"],
        ["fastkeras fit (CPU)", "6.00", "1.00x"],
        ["fastkeras CUDA kernels, device-resident", "0.5", "12.00x"]]
    assert "simulator" not in page.split("## CUDA kernels", 1)[1]
    assert "Not measured: no `zca.json`" in page
    assert "python scripts/bench_zca.py --json bench_results/zca.json" in page

    charts = sorted(p.name for p in figures.iterdir())
    assert charts == sorted(["perf_augment_1.png", "perf_backend_1.png", "perf_masks_1.png",
                             "perf_cli_1.png", "perf_dense_1.png", "perf_dense_2.png",
                             "perf_directory_1.png", "perf_mlp_1.png", "perf_optimizers_1.png",
                             "perf_cuda_1.png", "perf_cuda_2.png", "perf_cuda_3.png"])
    for chart in charts:
        assert (figures / chart).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"](figures/{chart})" in page

    # The last benchmark too, and its notes.
    (results / "zca.json").write_text(json.dumps(_RESULTS["zca"]), encoding="utf-8")
    perf.main([str(results), "--out", str(out), "--figures", str(figures)])
    page = out.read_text(encoding="utf-8")
    fit, memory = _table_rows(page, "ZCA whitening")[1::2]     # two tables: seconds, GB
    assert fit == ["fit 10000x32x32x3", "2.00", "10.00 (5.00x)"]
    assert memory == ["fit 10000x32x32x3", "0.5", "1.50 (3.00x)"]
    assert "needs 181 GB" in page and "Not measured" not in page
    assert "X.T @ X 0.25 s and its eigendecomposition (LAPACK syevd) 1.50 s, 1.75 s in all" in page

    # Timings from numba's CUDA simulator are published only with a warning.
    simulated = dict(_RESULTS["cuda"], simulator=True)
    (results / "cuda.json").write_text(json.dumps(simulated), encoding="utf-8")
    perf.main([str(results), "--out", str(out), "--figures", str(figures)])
    cuda_section = out.read_text(encoding="utf-8").split("## CUDA kernels", 1)[1]
    assert cuda_section.split("**")[1].startswith("Measured under numba's CUDA simulator")


def test_performance_page_without_results(tmp_path):
    perf = _perf_module()
    (tmp_path / "results").mkdir()
    out, figures = tmp_path / "performance.md", tmp_path / "figures"
    perf.main([str(tmp_path / "results"), "--out", str(out), "--figures", str(figures)])
    page = out.read_text(encoding="utf-8")
    assert page.count("Not measured: no ") == len(perf.BENCHMARKS)
    assert "| case |" not in page and "![" not in page and "Machine:" not in page
    assert list(figures.iterdir()) == []


def test_performance_page_rejects_a_foreign_layout(tmp_path, capsys):
    perf = _perf_module()
    results = tmp_path / "results"
    results.mkdir()
    broken = dict(_RESULTS["optimizers"], results=[{"set": "mlp", "optimizer": "adam"}])
    (results / "optimizers.json").write_text(json.dumps(broken), encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        perf.main([str(results), "--out", str(tmp_path / "p.md"), "--figures", str(tmp_path)])
    assert exit_info.value.code == 1
    message = capsys.readouterr().err
    assert "optimizers.json" in message and "['fastkeras_ms']" in message
    assert not (tmp_path / "p.md").exists()


def test_sphinx_roles_hook():
    import importlib.util

    spec = importlib.util.spec_from_file_location("sphinx_roles",
                                                  DOCS / "hooks" / "sphinx_roles.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    html = ("by :meth:<code>fit</code>, see :class:<code>~fastkeras.backend.tensor.Tensor</code>"
            " and :py:func:<code>fastkeras.backend.dot</code>; <code>:class:</code> stays")
    assert hook.on_page_content(html, page=None) == (
        "by <code>fit</code>, see <code>Tensor</code> and <code>fastkeras.backend.dot</code>; "
        "<code>:class:</code> stays")
