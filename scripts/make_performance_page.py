"""Write ``docs/performance.md`` and its bar charts from the benchmark scripts' JSON results.

Every ``scripts/bench_<name>.py`` writes its measurements with ``--json PATH``. Put them in one
folder as ``<name>.json`` (``bench_<name>.json`` is read too), then run this script::

    mkdir -p bench_results
    python scripts/bench_augment.py --json bench_results/augment.json
    ...                                   # the other bench_*.py the same way
    python scripts/make_performance_page.py bench_results [--out docs/performance.md]
                                                          [--figures docs/figures]

For each benchmark the page gets one table per measured quantity, fastkeras against every
reference that was installed when it ran (with how many times faster fastkeras is), the machine
the JSON records, and a bar chart (matplotlib, ``perf_<name>_<k>.png`` in the figures folder). A
benchmark without a JSON file is listed as not measured, with the command that measures it.
Nothing is invented: every number on the page is read from a JSON file. A JSON file that does not
have its script's layout stops the script with an error naming the file and the missing entry.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Callable

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class ResultsError(ValueError):
    """A results file does not have the layout its benchmark script writes."""


@dataclass
class Pivot:
    """One measured quantity: a value per (case, library), compared with ``baseline``.

    Attributes
    ----------
    title : str
        What is measured, shown above the table and the chart.
    unit : str
        Unit of the values (``"images/s"``, ``"ms"`` ...).
    higher_is_better : bool
        True for throughputs, False for times and memory.
    baseline : str
        The fastkeras column the ratios are taken against.
    values : dict
        ``{case: {library: value}}``; a missing library is a cell that was not measured.
    chart : bool
        Draw a bar chart of this table.
    """

    title: str
    unit: str
    higher_is_better: bool
    baseline: str
    values: dict[str, dict[str, float]]
    chart: bool = True

    def libraries(self) -> list[str]:
        """The columns: the baseline first, then the others in order of appearance."""
        names = [self.baseline]
        for row in self.values.values():
            names += [name for name in row if name not in names]
        return names

    def speedup(self, case: str, library: str) -> float | None:
        """How many times faster (or smaller) the baseline is than ``library`` on ``case``."""
        row = self.values[case]
        ours, theirs = row.get(self.baseline), row.get(library)
        if ours is None or theirs is None or ours <= 0 or theirs <= 0:
            return None
        return ours / theirs if self.higher_is_better else theirs / ours


@dataclass
class Listing:
    """One measured quantity for a list of implementations, each compared with the first.

    Attributes
    ----------
    title, unit, higher_is_better, chart
        As for :class:`Pivot`.
    rows : list of (str, float)
        ``(implementation, value)``; the first row is the base of the ratios.
    """

    title: str
    unit: str
    higher_is_better: bool
    rows: list[tuple[str, float]]
    chart: bool = True

    def speedup(self, value: float) -> float | None:
        """How many times faster (or smaller) ``value`` is than the first row's."""
        base = self.rows[0][1]
        if base <= 0 or value <= 0:
            return None
        return value / base if self.higher_is_better else base / value

    def as_pivot(self) -> Pivot:
        """The same numbers as a one-column :class:`Pivot` (for the chart)."""
        return Pivot(self.title, self.unit, self.higher_is_better, self.unit,
                     {name: {self.unit: value} for name, value in self.rows})


@dataclass
class Section:
    """What one benchmark contributes to the page."""

    machine: str
    pivots: list[Pivot | Listing]
    notes: list[str] = field(default_factory=list)
    warning: str | None = None


@dataclass
class Benchmark:
    """A benchmark script and how to read its JSON."""

    name: str
    title: str
    description: str
    read: Callable[[dict], Section]

    @property
    def script(self) -> str:
        return f"scripts/bench_{self.name}.py"


# -- reading each script's JSON -------------------------------------------------------------------

def _get(data: Any, *keys: Any) -> Any:
    """``data[k0][k1]...``, raising :class:`ResultsError` naming the missing entry."""
    for i, key in enumerate(keys):
        try:
            data = data[key]
        except (KeyError, IndexError, TypeError):
            path = "".join(f"[{k!r}]" for k in keys[: i + 1])
            raise ResultsError(f"no entry {path}") from None
    return data


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ResultsError(f"{what} is not a finite number: {value!r}")
    return float(value)


def _machine(**facts: Any) -> str:
    return ", ".join(f"{k} {v}" for k, v in facts.items() if v not in (None, "", {}))


def read_augment(data: dict) -> Section:
    values: dict[str, dict[str, float]] = {}
    for i, row in enumerate(_get(data, "rows")):
        case = f"{_get(row, 'config')} {_get(row, 'size')} {_get(row, 'dtype')}"
        values[case] = {lib: _number(v, f"rows[{i}] {lib}")
                        for lib, v in _get(row, "images_per_s").items()}
    m = _get(data, "machine")
    notes = [f"Batches of {_get(data, 'batch_size')}. `basic`: rotation, shifts, shear, zoom, "
             "flip; `full`: basic + channel shift, brightness, rescale and featurewise "
             "standardisation (albumentations and OpenCV only do the basic geometry).",
             f"First fastkeras batch with a warm Numba cache: "
             f"{_number(_get(data, 'first_call_warm_s'), 'first_call_warm_s') * 1e3:.0f} ms."]
    if "first_call_cold_s" in data:
        notes.append(f"First batch in a fresh process with an empty Numba cache (compilation): "
                     f"{_number(data['first_call_cold_s'], 'first_call_cold_s'):.1f} s; "
                     f"import {_number(_get(data, 'import_cold_s'), 'import_cold_s'):.1f} s.")
    return Section(_machine(cpus=m.get("cpus"), python=m.get("python"),
                            numba_threads=m.get("numba_threads"), numpy=m.get("numpy")),
                   [Pivot("Augmented images per second", "images/s", True, "fastkeras", values)],
                   notes)


def _ms_per_step(data: dict, title: str) -> Pivot:
    results = _get(data, "ms_per_step")
    values: dict[str, dict[str, float]] = {}
    for lib, workloads in results.items():
        for workload, ms in workloads.items():
            values.setdefault(workload, {})[lib] = _number(ms, f"{lib} {workload}")
    _get(results, "fastkeras")
    return Pivot(title, "ms", False, "fastkeras", values)


def read_backend(data: dict) -> Section:
    threads = ", ".join(f"{k}={v}" for k, v in (data.get("threads") or {}).items() if v)
    return Section(_machine(platform=data.get("machine"), cpus=data.get("cpus"),
                            threads=threads or None),
                   [_ms_per_step(data, "Forward + backward, milliseconds per step")],
                   [f"Best of {_get(data, 'repeats')} runs. `mlp`: a 784-256-10 MLP written "
                    "with backend ops, batch 256; `elementwise`: 12 elementwise ops on "
                    "1024x512; `small_ops`: the same on 8x8 (per-op overhead); "
                    "`mlp_inference`: the MLP's forward pass outside a tape."])


def read_masks(data: dict) -> Section:
    threads = ", ".join(f"{k}={v}" for k, v in (data.get("threads") or {}).items() if v)
    shapes = "; ".join(f"`{k}` {'x'.join(map(str, v))}" for k, v in
                       (data.get("shapes") or {}).items())
    return Section(_machine(platform=data.get("machine"), cpus=data.get("cpus"),
                            threads=threads or None),
                   [_ms_per_step(data, "Forward + backward, milliseconds per step")],
                   [f"Best of {_get(data, 'repeats')} runs. Shapes: {shapes}."])


def read_cli(data: dict) -> Section:
    rows = _get(data, "results")
    values = {"job": {}}
    for i, row in enumerate(rows):
        values["job"][_get(row, "name")] = _number(_get(row, "images_per_s"), f"results[{i}]")
    job = _get(data, "job")
    return Section(_machine(cpus=data.get("cpus"), python=data.get("python")),
                   [Pivot("Augmented images written per second", "images/s", True,
                          _get(rows, 0, "name"), values)],
                   [f"{_get(job, 'sources')} JPEGs of {_get(job, 'size')}x{_get(job, 'size')}, "
                    f"{_get(job, 'copies')} augmented copies each, written as JPEG quality "
                    f"{_get(job, 'quality')}; the references run the per-image Keras loop "
                    "(`load_img`, `random_transform`, `save_img`) on one thread."])


def read_dense(data: dict) -> Section:
    cases = {}
    for i, res in enumerate(_get(data, "dense")):
        case = (f"batch {_get(res, 'batch')}x{_get(res, 'input_dim')} -> "
                f"{_get(res, 'units')} units")
        cases[case] = {lib: _number(ms, f"dense[{i}] {lib}") for lib, ms in _get(res, "ms").items()}
    acts = {}
    for i, row in enumerate(_get(data, "activations")):
        acts[_get(row, "activation")] = {
            "fastkeras": _number(_get(row, "fastkeras_ms"), f"activations[{i}]"),
            "numpy": _number(_get(row, "numpy_ms"), f"activations[{i}]")}
    h = _get(data, "header")
    return Section(_machine(cpu=h.get("machine"), cpus=h.get("cpus"), numpy=h.get("numpy"),
                            numba=h.get("numba"), numba_threads=h.get("numba_threads"),
                            threading_layer=h.get("numba_threading_layer")),
                   [Pivot("Dense(relu) forward + backward, milliseconds per step", "ms", False,
                          "fastkeras op", cases),
                    Pivot("Activation forward + backward on 1024x512, milliseconds", "ms", False,
                          "fastkeras", acts)],
                   ["`fastkeras op` is the fused Dense op on the tape, `fastkeras Dense` the "
                    "same through the layer; `bare GEMM` is the three matrix products alone, "
                    "the ceiling for any implementation on this BLAS."])


def read_directory(data: dict) -> Section:
    values = {}
    for case, libs in _get(data, "cases").items():
        values[case.replace("_", " ")] = {
            lib: _number(_get(entry, "images_per_s"), f"cases[{case!r}][{lib!r}]")
            for lib, entry in libs.items()}
    s, m = _get(data, "settings"), _get(data, "machine")
    size = "x".join(map(str, _get(s, "target_size")))
    return Section(_machine(cpus=m.get("cpus"), python=m.get("python"),
                            platform=m.get("platform")),
                   [Pivot("flow_from_directory, images per second", "images/s", True,
                          "fastkeras", values)],
                   [f"{_get(s, 'images')} JPEGs of about 256x256 resized to {size}, batches of "
                    f"{_get(s, 'batch_size')}; `fastkeras_loader_only` is the iterator without "
                    "a generator (decoding and resizing alone)."])


def read_mlp(data: dict) -> Section:
    results = _get(data, "results")
    times = {"training epoch": {}, "predict pass": {}}
    for lib, r in results.items():
        times["training epoch"][lib] = _number(_get(r, "epoch_s"), f"results[{lib!r}]")
        times["predict pass"][lib] = _number(_get(r, "predict_s"), f"results[{lib!r}]")
    _get(results, "fastkeras")
    return Section(_machine(machine=data.get("machine"), python=data.get("python"),
                            threads=data.get("threads")),
                   [Pivot("MLP 784-512-512-10, seconds", "s", False, "fastkeras", times)],
                   [f"Adam, categorical crossentropy, batch {_get(data, 'batch_size')}, "
                    f"{_get(data, 'samples')} samples per epoch; best of "
                    f"{_get(data, 'repeats')} epochs."])


def read_optimizers(data: dict) -> Section:
    values = {}
    for i, row in enumerate(_get(data, "results")):
        case = f"{_get(row, 'set')}: {_get(row, 'optimizer')}"
        values[case] = {"fastkeras": _number(_get(row, "fastkeras_ms"), f"results[{i}]")}
        for key, v in row.items():
            if key.endswith("_ms") and key != "fastkeras_ms":
                values[case][key[:-3]] = _number(v, f"results[{i}][{key!r}]")
    m = _get(data, "meta")
    return Section(_machine(machine=m.get("machine"), python=m.get("python"), cpus=m.get("cpus")),
                   [Pivot("One optimizer step over all variables, milliseconds", "ms", False,
                          "fastkeras", values)],
                   ["`mlp`: the 6 variables of a 784-512-512-10 MLP (0.67 M parameters); "
                    "`large`: a 4096x4096 kernel and its bias (16.8 M parameters)."])


def read_zca(data: dict) -> Section:
    cases = _get(data, "cases")
    small = _get(cases, "fit_10000x32x32x3")
    fit, memory = {"fit 10000x32x32x3": {}}, {"fit 10000x32x32x3": {}}
    for lib, r in small.items():
        if not isinstance(r, dict):
            continue  # the summary numbers stored beside the libraries
        fit["fit 10000x32x32x3"][lib] = _number(_get(r, "fit_s"), f"{lib} fit_s")
        memory["fit 10000x32x32x3"][lib] = _number(_get(r, "peak_rss_fit_gb"), f"{lib} peak")
    large = _get(cases, "fit_flow_1000x224x224x3")
    notes = []
    if "matrix_gap_vs_keras3" in small:
        notes.append(f"Largest difference from Keras 3's whitening matrix, relative to its "
                     f"largest entry: {_number(small['matrix_gap_vs_keras3'], 'gap'):.1e}.")
    if "floor_gram_s" in small:
        gram = _number(small["floor_gram_s"], "floor_gram_s")
        eigh = _number(_get(small, "floor_eigh_s"), "floor_eigh_s")
        notes.append(f"The floor of that fit, the two calls any exact float32 ZCA needs timed "
                     f"alone in the same run: the Gram product X.T @ X {gram:.2f} s and its "
                     f"eigendecomposition (LAPACK syevd) {eigh:.2f} s, {gram + eigh:.2f} s in all.")
    keras_gb = _number(_get(large, "keras_matrix_bytes_float64"), "matrix bytes") / 1e9
    r = large.get("fastkeras")
    if r is None:
        notes.append("fit 1000x224x224x3: the fastkeras run failed; no figures.")
    else:
        notes.append(
            f"fit 1000x224x224x3 (Keras cannot: its D x D matrix alone needs {keras_gb:.0f} GB): "
            f"fastkeras fit {_number(_get(r, 'fit_s'), 'fit_s'):.1f} s, peak memory "
            f"{_number(_get(r, 'peak_rss_fit_gb'), 'peak'):.2f} GB (the images alone "
            f"{_number(_get(r, 'rss_before_fit_gb'), 'rss'):.2f} GB); `flow` with ZCA "
            f"{_number(_get(r, 'flow_images_per_s'), 'flow'):.0f} images/s.")
    return Section(_machine(platform=data.get("machine"), cpus=data.get("cpus")),
                   [Pivot("fit with featurewise_center + zca_whitening, seconds", "s", False,
                          "fastkeras", fit),
                    Pivot("Peak memory of that fit (data included), GB", "GB", False,
                          "fastkeras", memory)],
                   notes)


def _listing(data: dict, key: str, title: str, unit: str, higher_is_better: bool) -> Listing:
    rows = [(name, _number(v, f"[{key!r}][{name!r}]")) for name, v in _get(data, key).items()]
    if not rows:
        raise ResultsError(f"[{key!r}] is empty")
    return Listing(title, unit, higher_is_better, rows)


def read_cuda(data: dict) -> Section:
    warning = None
    if _get(data, "simulator"):
        warning = ("Measured under numba's CUDA simulator, at toy sizes: these timings say "
                   "nothing about a GPU.")
    return Section(f"GPU {_get(data, 'device')}",
                   [_listing(data, "augmentation_images_per_s",
                             "Augmentation (one affine_batch call per batch), images per second",
                             "images/s", True),
                    _listing(data, "gemm_gflops", "Matrix products, GFLOP/s", "GFLOP/s", True),
                    _listing(data, "mlp_epoch_seconds", "MLP training, seconds per epoch",
                             "s", False)],
                   ["Ratios are to each table's first row: how many times faster than it each "
                    "row is. Sizes are the script's settings (by default batches of 32 images "
                    "of 224x224x3, and the 784-512-512-10 MLP of the MLP benchmark)."],
                   warning)


BENCHMARKS = [
    Benchmark("mlp", "Training an MLP",
              "One epoch and one predict pass of a 784-512-512-10 MLP against PyTorch and "
              "Keras 3 (torch backend).", read_mlp),
    Benchmark("dense", "The Dense layer",
              "The fused Dense op and activations, forward and backward, against numpy, bare "
              "matrix products, PyTorch and Keras 3.", read_dense),
    Benchmark("backend", "The backend (K)",
              "Custom-layer style code on the differentiable backend against torch autograd "
              "and Keras 3 ops.", read_backend),
    Benchmark("masks", "Dropout and masking",
              "Dropout, SpatialDropout2D and Masking, forward and backward, against numpy, "
              "PyTorch and Keras 3.", read_masks),
    Benchmark("optimizers", "Optimizer steps",
              "One update of every variable against Keras 3 and torch.optim.", read_optimizers),
    Benchmark("augment", "ImageDataGenerator.flow",
              "Augmentation throughput against keras_preprocessing, Keras 3's legacy generator, "
              "albumentations and OpenCV.", read_augment),
    Benchmark("directory", "flow_from_directory",
              "Loading (and augmenting) JPEG folders against keras_preprocessing and Keras 3.",
              read_directory),
    Benchmark("zca", "ZCA whitening",
              "ImageDataGenerator.fit with ZCA whitening, and flow with it.", read_zca),
    Benchmark("cli", "The fastkeras-augment command",
              "Writing augmented copies of a JPEG folder against the per-image Keras loop.",
              read_cli),
    Benchmark("cuda", "CUDA kernels",
              "The CUDA twins on a GPU against the CPU kernels (and cuBLAS and PyTorch where "
              "installed): augmentation, matrix products, and an MLP training epoch with "
              "everything resident on the GPU.", read_cuda),
]


# -- writing the page ---------------------------------------------------------------------------

def _format(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def _format_ratio(ratio: float) -> str:
    return f"{ratio:.2f}x" if ratio >= 0.1 else f"{ratio:.2g}x"


def pivot_table(pivot: Pivot) -> list[str]:
    """The Markdown table of a pivot: one row per case, fastkeras's speed-up in brackets."""
    libraries = pivot.libraries()
    lines = ["| case | " + " | ".join(f"{lib} ({pivot.unit})" for lib in libraries) + " |",
             "|---|" + "---:|" * len(libraries)]
    for case, row in pivot.values.items():
        cells = []
        for lib in libraries:
            value = row.get(lib)
            if value is None:
                cells.append("–")
                continue
            ratio = pivot.speedup(case, lib) if lib != pivot.baseline else None
            cells.append(_format(value) + (f" ({_format_ratio(ratio)})" if ratio else ""))
        lines.append(f"| {case} | " + " | ".join(cells) + " |")
    return lines


def listing_table(listing: Listing) -> list[str]:
    """The Markdown table of a listing: one row per implementation, ratio to the first row."""
    base = listing.rows[0][0]
    lines = [f"| implementation | {listing.unit} | x {base} |", "|---|---:|---:|"]
    for name, value in listing.rows:
        ratio = listing.speedup(value)
        lines.append(f"| {name} | {_format(value)} | "
                     f"{'–' if ratio is None else _format_ratio(ratio)} |")
    return lines


def draw_chart(pivot: Pivot, path: str) -> None:
    """A horizontal grouped bar chart of ``pivot`` (log scale when values span > 30x)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    libraries = pivot.libraries()
    cases = list(pivot.values)
    height = 0.8 / len(libraries)
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.22 * len(cases) * len(libraries)))
    measured = [v for row in pivot.values.values() for v in row.values() if v > 0]
    for k, lib in enumerate(libraries):
        offset = (k - (len(libraries) - 1) / 2) * height
        ys = [i + offset for i, c in enumerate(cases) if lib in pivot.values[c]]
        xs = [pivot.values[c][lib] for c in cases if lib in pivot.values[c]]
        bars = ax.barh(ys, xs, height=height * 0.95, label=lib)
        for bar, x in zip(bars, xs):
            ax.annotate(_format(x), (x, bar.get_y() + bar.get_height() / 2),
                        xytext=(3, 0), textcoords="offset points", va="center", fontsize=7)
    ax.set_yticks(range(len(cases)), cases)
    ax.invert_yaxis()
    if measured and max(measured) / min(measured) > 30:
        ax.set_xscale("log")
    better = "higher is better" if pivot.higher_is_better else "lower is better"
    ax.set_xlabel(f"{pivot.unit} ({better})")
    ax.set_title(pivot.title, fontsize=10)
    if len(libraries) > 1:
        ax.legend(fontsize=8, loc="best")
    ax.margins(x=0.15)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def find_result(folder: str, name: str) -> str | None:
    """The JSON file of benchmark ``name`` in ``folder``, if there is one."""
    for candidate in (f"{name}.json", f"bench_{name}.json"):
        path = os.path.join(folder, candidate)
        if os.path.isfile(path):
            return path
    return None


def load_section(bench: Benchmark, path: str) -> Section:
    """Read one results file, with the file named in any error."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise ResultsError(f"{path}: not valid JSON ({e})") from None
    try:
        return bench.read(data)
    except ResultsError as e:
        raise ResultsError(f"{path}: not the layout {bench.script} writes: {e}") from None


def build_page(results: str, figures: str, page_dir: str) -> str:
    """The Markdown of the performance page; charts are written to ``figures``."""
    rel_figures = os.path.relpath(figures, page_dir).replace(os.sep, "/")
    rel_results = "bench_results"  # where the commands shown on the page put the results
    lines = [
        "# Performance",
        "",
        "<!-- Generated by scripts/make_performance_page.py from the JSON files the benchmark "
        "scripts wrote; do not edit by hand. -->",
        "",
        "Every figure on this page was measured by one of the `scripts/bench_*.py` scripts, "
        "which run fastkeras and every installed reference library side by side in one process "
        "and write their results as JSON. In the tables, the "
        "number in brackets after a reference's figure is how many times faster fastkeras is "
        "(for memory: how many times less it uses); below 1, the reference is faster.",
        "",
        "To measure on your machine:",
        "",
        "```text",
        f"mkdir -p {rel_results}",
    ]
    lines += [f"python {b.script} --json {rel_results}/{b.name}.json" for b in BENCHMARKS]
    lines += [f"python scripts/make_performance_page.py {rel_results}", "```", ""]
    missing = []
    for bench in BENCHMARKS:
        path = find_result(results, bench.name)
        lines += [f"## {bench.title}", "", bench.description, ""]
        if path is None:
            missing.append(bench)
            lines += [f"Not measured: no `{bench.name}.json` among the results. Run "
                      f"`python {bench.script} --json {rel_results}/{bench.name}.json`.", ""]
            continue
        section = load_section(bench, path)
        if section.warning:
            lines += [f"**{section.warning}**", ""]
        lines += [f"Machine: {section.machine}." if section.machine else "", ""]
        for k, table in enumerate(section.pivots, start=1):
            listing = isinstance(table, Listing)
            lines += [f"**{table.title}**", ""]
            lines += (listing_table(table) if listing else pivot_table(table)) + [""]
            if table.chart:
                name = f"perf_{bench.name}_{k}.png"
                draw_chart(table.as_pivot() if listing else table, os.path.join(figures, name))
                lines += [f"![{table.title}]({rel_figures}/{name})", ""]
        for note in section.notes:
            lines += [note, ""]
    if missing:
        lines += ["## Not measured", "",
                  "No results were found for: " + ", ".join(f"`{b.script}`" for b in missing)
                  + ".", ""]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="?", default=os.path.join(REPO, "bench_results"),
                        help="folder of <name>.json results (default: bench_results)")
    parser.add_argument("--out", default=os.path.join(REPO, "docs", "performance.md"),
                        help="the page to write (default: docs/performance.md)")
    parser.add_argument("--figures", default=os.path.join(REPO, "docs", "figures"),
                        help="folder for the charts (default: docs/figures)")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.results):
        parser.error(f"results folder {args.results!r} does not exist")
    os.makedirs(args.figures, exist_ok=True)
    try:
        page = build_page(args.results, args.figures, os.path.dirname(os.path.abspath(args.out)))
    except ResultsError as e:
        parser.exit(1, f"make_performance_page.py: {e}\n")
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(page)
    found = sum(find_result(args.results, b.name) is not None for b in BENCHMARKS)
    print(f"wrote {args.out}: {found} of {len(BENCHMARKS)} benchmarks measured")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
