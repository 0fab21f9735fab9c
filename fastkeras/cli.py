"""``fastkeras-augment``: write augmented copies of a folder of images.

    fastkeras-augment [SRC] [DST] [--copies N] [--config FILE.json] [augmentation flags]
                      [--target-size H W] [--color-mode M] [--format F] [--quality Q]
                      [--seed S] [--workers N] [--shard I/N] [--dask-scheduler ADDRESS]
                      [--preview FILE.png] [--report FILE.json] [--dry-run] [--overwrite]
                      [--quiet]

(also ``python -m fastkeras.cli``). Every image under SRC (directly in it, or in its class
sub-folders, listed as ``flow_from_directory`` lists them) gets ``--copies`` augmented versions,
written to the same sub-folder of DST as ``<stem>_aug<k>.<format>``. Without SRC the images
bundled with fastkeras are augmented into ``./augmented`` with a preview grid beside them.

The augmentation flags are ``ImageDataGenerator``'s arguments (``--rotation-range 20``,
``--width-shift-range 0.1``, ``--horizontal-flip`` ...), with Keras's meanings and draws. Given
none, a preset is used (:data:`fastkeras.augment_job.DEFAULT_AUGMENTATION`). ``--config`` reads
the same settings from a JSON object keyed by argument name (``"rotation_range": 20``, and the
options, e.g. ``"copies": 3``); flags given on the command line take precedence over it; paths in
it are relative to the file's folder.

Output ``k`` of a source depends on (``--seed``, its path relative to SRC, ``k``) only, so the
outputs are identical byte for byte whatever ``--workers``, ``--shard`` or a Dask cluster does
with the job. Files are written under a temporary name and renamed: an interrupted run leaves
only complete outputs, and running the same command again resumes it (``--overwrite`` redoes
everything).

Progress and the summary go to stderr (``--dry-run`` lists the outputs on stdout). Exit status:
0 every output written (or already there), 1 some source could not be read or some output not
written (they are listed), 2 a usage error (nothing written), 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import os
import re
import sys
import time
from typing import Any, Sequence

from fastkeras import augment_job
from fastkeras.augment_job import AUGMENTATION_KEYS, OUTPUT_KEYS, UsageError
from fastkeras.data import samples_dir
from fastkeras.preprocessing.image import ImageDataGenerator
from fastkeras.utils.progbar import Progbar

__all__ = ["main", "build_parser"]

PROG = "fastkeras-augment"
DEFAULT_DST = "augmented"

# Options of the command besides the job settings; a config file may set them too.
_COMMAND_KEYS = ("src", "dst", "workers", "shard", "dask_scheduler", "preview", "report",
                 "dry_run", "quiet")
_PATH_KEYS = ("src", "dst", "preview", "report")
_SETTING_KEYS = AUGMENTATION_KEYS + OUTPUT_KEYS
_POSITIONAL = {"src": "SRC", "dst": "DST"}


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors raise :class:`UsageError` (``main`` returns 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _number(text: str) -> int | float:
    """An integer when the text is one (Keras treats integer shift ranges apart), else a float."""
    try:
        return int(text)
    except ValueError:
        return float(text)


def build_parser() -> argparse.ArgumentParser:
    """The command's argument parser. Flags not given are absent from the namespace."""
    p = _Parser(
        prog=PROG,
        description="Write --copies augmented versions of every image of SRC to DST, keeping "
                    "the class sub-folders. Without SRC, augment the sample images bundled "
                    "with fastkeras into ./augmented and write a preview grid.",
        epilog="Exit status: 0 all written, 1 some images failed (listed), 2 usage error.",
        argument_default=argparse.SUPPRESS,
    )
    p.add_argument("src", nargs="?", metavar="SRC",
                   help="folder of images, optionally in class sub-folders (default: the "
                        "bundled samples)")
    p.add_argument("dst", nargs="?", metavar="DST",
                   help=f"output folder, outside SRC (default: ./{DEFAULT_DST})")
    p.add_argument("--config", metavar="FILE.json",
                   help="JSON object of settings (ImageDataGenerator arguments and these "
                        "options, by argument name); flags override it")
    p.add_argument("--copies", type=int, metavar="N", help="augmented copies per image (5)")

    g = p.add_argument_group(
        "augmentation (ImageDataGenerator's arguments, with Keras's meanings)",
        "Given none of these (nor in --config), the preset "
        + ", ".join(f"{k}={v!r}" for k, v in augment_job.DEFAULT_AUGMENTATION.items())
        + " is used.")
    g.add_argument("--rotation-range", type=float, metavar="DEG")
    g.add_argument("--width-shift-range", type=_number, nargs="+", metavar="V",
                   help="fraction of the width (< 1), pixels (>= 1), or several values to "
                        "pick from")
    g.add_argument("--height-shift-range", type=_number, nargs="+", metavar="V")
    g.add_argument("--brightness-range", type=float, nargs=2, metavar=("LO", "HI"))
    g.add_argument("--shear-range", type=float, metavar="DEG")
    g.add_argument("--zoom-range", type=float, nargs="+", metavar="Z",
                   help="Z for [1-Z, 1+Z], or LO HI")
    g.add_argument("--channel-shift-range", type=float, metavar="C")
    g.add_argument("--fill-mode", metavar="MODE",
                   help="constant, nearest, reflect or wrap (Keras default nearest)")
    g.add_argument("--cval", type=float, metavar="V", help="fill value for --fill-mode constant")
    g.add_argument("--horizontal-flip", action=argparse.BooleanOptionalAction)
    g.add_argument("--vertical-flip", action=argparse.BooleanOptionalAction)
    g.add_argument("--interpolation-order", type=int, metavar="0-5")
    g.add_argument("--affine-convention", metavar="NAME",
                   help="keras_preprocessing (default), keras3 or exact")

    o = p.add_argument_group("output")
    o.add_argument("--target-size", type=int, nargs=2, metavar=("H", "W"),
                   help="resize sources to H x W before augmenting")
    o.add_argument("--interpolation", metavar="NAME",
                   help="resize filter: nearest (default), bilinear, bicubic, lanczos ...")
    o.add_argument("--color-mode", metavar="MODE", help="rgb (default), rgba or grayscale")
    o.add_argument("--format", metavar="FMT", help="png (default), jpg, webp, bmp or tiff")
    o.add_argument("--quality", type=int, metavar="Q",
                   help=f"jpg/webp quality 1-100 ({augment_job.DEFAULT_QUALITY})")
    o.add_argument("--seed", type=int, metavar="S", help="seed of the whole job (0)")
    o.add_argument("--overwrite", action=argparse.BooleanOptionalAction,
                   help="rewrite outputs that exist (by default they are kept: a rerun resumes)")

    r = p.add_argument_group("running")
    r.add_argument("--workers", type=int, metavar="N",
                   help="threads decoding and encoding images (half the CPU cores); the "
                        "augmentation kernel uses the other cores")
    r.add_argument("--shard", metavar="I/N",
                   help="do only share I of N (0 <= I < N): N runs with I = 0 .. N-1, on any "
                        "machines, write the whole job")
    r.add_argument("--dask-scheduler", metavar="ADDRESS",
                   help="run the job's shards on this Dask cluster (needs the 'dask' extra; "
                        "SRC and DST must be visible to its workers)")
    r.add_argument("--preview", metavar="FILE.png",
                   help="write a grid of originals beside their augmentations (default "
                        "DST/preview.png when SRC is not given)")
    r.add_argument("--report", metavar="FILE.json", help="write the summary as JSON")
    r.add_argument("--dry-run", action="store_true",
                   help="list the outputs that would be written; write nothing")
    r.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    return p


def _flag_name(key: str) -> str:
    return _POSITIONAL.get(key) or "--" + key.replace("_", "-")


def _read_config(path: str) -> dict:
    """The settings of a ``--config`` file: JSON object, keys checked, paths made relative."""
    try:
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
    except OSError as e:
        raise UsageError(f"--config {path!r}: {e.strerror or e}") from None
    except json.JSONDecodeError as e:
        raise UsageError(f"--config {path!r} is not valid JSON: {e}") from None
    if not isinstance(config, dict):
        raise UsageError(f"--config {path!r} must hold a JSON object of settings")
    valid = sorted(_SETTING_KEYS + _COMMAND_KEYS)
    generator_keys = set(inspect.signature(ImageDataGenerator).parameters)
    generator_keys -= set(AUGMENTATION_KEYS)
    for key in config:
        if key in generator_keys:
            raise UsageError(
                f"{key!r} in --config {path!r} is an ImageDataGenerator argument that "
                f"{PROG} does not apply (it writes augmented pixels; normalisation belongs to "
                f"training); valid keys: {', '.join(valid)}"
            )
        if key not in valid:
            raise UsageError(
                f"unknown key {key!r} in --config {path!r}; valid keys: {', '.join(valid)}"
            )
    folder = os.path.dirname(os.path.abspath(path))
    for key in _PATH_KEYS:
        value = config.get(key)
        if isinstance(value, str) and not os.path.isabs(value):
            config[key] = os.path.join(folder, value)
    return config


def _parse_shard(value: Any, name: str) -> tuple[int, int] | None:
    if value is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", value) if isinstance(value, str) else None
    if match is None:
        raise UsageError(f"{name} must be I/N, e.g. 0/4 for the first of 4 shares; got {value!r}")
    return augment_job.check_shard((int(match[1]), int(match[2])), name)


def _check_type(value: Any, kind: type, name: str, what: str) -> Any:
    if value is not None and not isinstance(value, kind):
        raise UsageError(f"{name} must be {what}; got {value!r}")
    return value


def _resolve(argv: Sequence[str] | None) -> dict:
    """Parse the command line and the config file into one validated dict of everything."""
    given = vars(build_parser().parse_args(argv))
    config_path = given.pop("config", None)
    config = _read_config(config_path) if config_path else {}
    names = {key: f"{key!r} in --config {config_path!r}" for key in config}
    names.update({key: _flag_name(key) for key in given})
    for key in ("width_shift_range", "height_shift_range", "zoom_range"):
        if key in given and len(given[key]) == 1:  # one value: a scalar, as Keras reads it
            given[key] = given[key][0]
    merged = {**config, **given}

    options = augment_job.make_options(
        {key: merged[key] for key in _SETTING_KEYS if key in merged}, names)
    run: dict[str, Any] = {"options": options}
    for key in _PATH_KEYS + ("dask_scheduler",):
        run[key] = _check_type(merged.get(key), str, names.get(key, key), "a path or address")
    for key in ("dry_run", "quiet"):
        run[key] = bool(_check_type(merged.get(key, False), bool, names.get(key, key),
                                    "true or false"))
    workers = merged.get("workers")
    run["workers"] = None if workers is None else augment_job.check_workers(
        workers, names["workers"])
    run["shard"] = _parse_shard(merged.get("shard"), names.get("shard", "--shard"))
    if run["shard"] is not None and run["dask_scheduler"] is not None:
        raise UsageError("--shard and --dask-scheduler exclude each other: the cluster runs "
                         "every shard of the job")
    if run["dry_run"]:
        for key in ("preview", "report"):
            if run[key] is not None:
                raise UsageError(f"--dry-run writes nothing; drop {names[key]}")
    if run["src"] is None:
        run["src"] = samples_dir()
        if run["preview"] is None and not run["dry_run"]:
            run["preview"] = os.path.join(run["dst"] or DEFAULT_DST, "preview.png")
    if run["dst"] is None:
        run["dst"] = DEFAULT_DST
    if run["preview"] is not None:
        augment_job.preview_format(run["preview"])
        src_real = os.path.realpath(run["src"])
        if os.path.commonpath([os.path.realpath(run["preview"]), src_real]) == src_real:
            raise UsageError(f"{names.get('preview', '--preview')} {run['preview']!r} is inside "
                             "SRC; write it elsewhere")
    return run


def _say(quiet: bool, message: str) -> None:
    if not quiet:
        print(message, file=sys.stderr)


def _summary(report: dict, quiet: bool) -> None:
    for failure in report["failures"]:
        print(f"{PROG}: failed: {failure['source']}: {failure['error']}", file=sys.stderr)
    if quiet:
        return
    print(f"{PROG}: {report['written']} written, {report['skipped']} skipped, "
          f"{report['failed']} failed in {report['elapsed_s']:.2f}s "
          f"({report['images_per_s']:.1f} images/s) -> {report['dst']}", file=sys.stderr)
    if report["removed_partial"]:
        print(f"{PROG}: removed {report['removed_partial']} partial file(s) left by an "
              "interrupted run", file=sys.stderr)


def _progress_bar(total: int, unit: str, quiet: bool, start: float | None = None):
    """A ``Progbar`` on stderr, as a callback taking the number done; None when quiet.

    Rates count from ``start`` (a ``time.perf_counter()`` reading; default: now).
    """
    if quiet or total == 0:
        return None
    with contextlib.redirect_stdout(sys.stderr):
        bar = Progbar(total, unit_name=unit, stateful_metrics=["images/s"])
    start = time.perf_counter() if start is None else start

    def update(done: int, images: int | None = None) -> None:
        rate = (done if images is None else images) / max(time.perf_counter() - start, 1e-9)
        with contextlib.redirect_stdout(sys.stderr):
            bar.update(done, [("images/s", rate)])

    return update


def _dry_run(run: dict) -> int:
    plan = augment_job.plan_job(run["src"], run["dst"], run["options"], run["shard"])
    for source in plan.sources:
        for _, path in source.outputs:
            print(path)
    for failure in plan.failures:
        print(f"{PROG}: would fail: {failure['source']}: {failure['error']}", file=sys.stderr)
    _say(run["quiet"], f"{PROG}: dry run: {plan.pending} image(s) would be written from "
                       f"{len(plan.sources)} source(s), {plan.skipped} exist already "
                       "(nothing was written)")
    return 1 if plan.failures else 0


def _run_local(run: dict) -> tuple[dict, list[str]]:
    """Run the job (or its shard) here; return the report and the sources of the run."""
    plan = augment_job.plan_job(run["src"], run["dst"], run["options"], run["shard"])
    progress = _progress_bar(plan.pending, "image", run["quiet"])
    return augment_job.run_job(plan, run["workers"], progress), plan.listed


def _run_dask(run: dict) -> tuple[dict, list[str]]:
    """Run the job's shards on the Dask cluster; return the report and the job's sources."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise UsageError("--dask-scheduler needs Dask: pip install 'fastkeras[dask]'") from None
    from fastkeras.distributed import augment_directory

    try:
        client = Client(run["dask_scheduler"], timeout="20s")
    except (OSError, TimeoutError) as e:
        raise UsageError(
            f"cannot connect to the Dask scheduler at {run['dask_scheduler']!r}: {e}"
        ) from None
    with client:
        # The bar appears with the first shard's report, but its rate counts from the start.
        state: dict[str, Any] = {"bar": None, "written": 0, "start": time.perf_counter()}

        def on_shard(report: dict, done: int, total: int) -> None:
            if state["bar"] is None:
                state["bar"] = _progress_bar(total, "shard", run["quiet"], state["start"])
            state["written"] += report["written"]
            if state["bar"] is not None:
                state["bar"](done, state["written"])

        report = augment_directory(run["src"], run["dst"], client, workers=run["workers"],
                                   callback=on_shard, **run["options"].settings())
    return report, augment_job.list_sources(run["src"])


def _write_extras(run: dict, report: dict, listed: list[str]) -> bool:
    """Write the preview and the JSON report when asked; False if one could not be written."""
    ok = True
    if run["preview"] is not None:
        try:
            rows = augment_job.write_preview(run["preview"], run["src"], run["dst"],
                                             run["options"], listed)
            _say(run["quiet"], f"{PROG}: preview of {rows} image(s): {run['preview']}")
        except OSError as e:
            print(f"{PROG}: cannot write the preview {run['preview']!r}: {e}", file=sys.stderr)
            ok = False
    if run["report"] is not None:
        try:
            folder = os.path.dirname(os.path.abspath(run["report"]))
            os.makedirs(folder, exist_ok=True)
            with open(run["report"], "w", encoding="utf-8") as f:
                json.dump(report, f, indent=2)
                f.write("\n")
        except OSError as e:
            print(f"{PROG}: cannot write the report {run['report']!r}: {e}", file=sys.stderr)
            ok = False
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    try:
        run = _resolve(argv)
        if run["dry_run"]:
            return _dry_run(run)
        report, listed = _run_dask(run) if run["dask_scheduler"] else _run_local(run)
        _summary(report, run["quiet"])
        status = 1 if report["failed"] else 0
        if not _write_extras(run, report, listed):
            status = 1
    except UsageError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        print(f"Run '{PROG} --help' for the options.", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader stopped early (``--dry-run | head``): stop quietly, as line tools do, and
        # keep Python from reporting the closed pipe again when it flushes at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as e:  # the destination cannot be created, the disk is full ...
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted; the outputs written are complete: run the same command "
              "again to finish", file=sys.stderr)
        return 130
    return status


if __name__ == "__main__":
    sys.exit(main())
