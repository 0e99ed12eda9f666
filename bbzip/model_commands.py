"""`bbzip train` and `bbzip models`: the commands about models rather than files.

Kept apart from the file commands (bbzip/cli/); torch is imported only when `train` runs, and
rich only when a table is printed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bbzip.cli.output import CONTEXT_SETTINGS as _CONTEXT
from bbzip.cli.output import console
from bbzip.cli.output import say as _say
from bbzip.errors import BBZError


@click.command("train", context_settings=_CONTEXT)
@click.argument("data", nargs=-1, required=True, type=click.Path(exists=True), metavar="DATA...")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), metavar="NAME.npz",
              help="Model file to write (its name, without .npz, names the model).")
@click.option("--epochs", type=click.IntRange(min=1), help="Passes over the data [default: 20, or "
              "unlimited with --minutes].")
@click.option("--minutes", type=click.FloatRange(min=0, min_open=True), help="Wall-clock budget.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for the split, init and batches.")
@click.option("--validation", type=click.FloatRange(min=0, min_open=True), default=0.1, show_default=True,
              help="Held-out images: a fraction, or a count if 1 or more.")
@click.option("--latent", type=click.IntRange(1, 256), default=32, show_default=True,
              help="Latent dimensions.")
@click.option("--likelihood", type=click.Choice(["auto", "logistic", "bernoulli"]), default="auto",
              show_default=True, help="Pixel model; auto picks Bernoulli for binary images.")
@click.option("--binarize", is_flag=True, help="Train a Bernoulli model on 8-bit images binarised afresh "
              "every batch (the validation images once, with a fixed seed), as binarized MNIST.")
@click.option("-f", "--force", is_flag=True, help="Overwrite an existing output file.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary.")
def train_command(data, output, force, quiet, **options) -> int:
    """Train a VAE model on DATA: MNIST-style IDX files (.gz too), .npy uint8 arrays of shape
    (N, 28, 28), or directories of 28x28 binary PGMs. The model is frozen to integers and
    written to NAME.npz, ready for `bbzip compress --model NAME.npz`; to decompress its
    files elsewhere, put it in $BBZIP_MODEL_PATH or the user model directory (`bbzip models`).

    Images of other sizes (PGM, PPM, .npy uint8 (H, W), (H, W, 3), (N, H, W) or (N, H, W, 3),
    files or directories, gzipped too) train a natural-image model for the 0x06 coder
    (default budget: 30 minutes).
    """
    from bbzip import fileio
    from bbzip.training.images import load_images

    target = Path(output)
    if target.suffix != ".npz":
        raise click.BadParameter("the model file name must end in .npz", param_hint="'-o'")
    if target.exists() and not force:
        _say(f"{output} already exists; use -f to overwrite")
        return 1
    problem = _unwritable(target)
    if problem:  # before minutes of training, not after
        _say(f"{output}: {problem}")
        return 1
    try:
        try:
            images = load_images(list(data))
        except BBZError as digits_error:
            return _train_natural(list(data), target, force, quiet, options, digits_error)
        from bbzip.training.run import train_model  # torch: only now
    except BBZError as exc:
        _say(str(exc))
        return 1
    except ImportError as exc:
        _say(f"training needs torch ({exc.name} is missing): pip install 'bbzip[train]'")
        return 1
    bar = None if quiet else _TrainingBar()
    try:
        result = train_model(images, target.stem, on_step=bar and bar.step, on_epoch=bar and bar.epoch,
                             **options)
    except ValueError as exc:
        _say(str(exc))
        return 1
    finally:
        if bar:
            bar.close()
    with fileio.atomic_output(str(target), overwrite=force) as f:
        f.write(result.data)
    if not quiet:
        _print_summary(result, target)
    return 0


def _unwritable(target: Path) -> str | None:
    """Why a model file could not be written at `target`, or None: a trial temp file is made
    and removed where atomic_output will make its own."""
    import os
    import tempfile

    try:
        fd, trial = tempfile.mkstemp(prefix=".bbzip-", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        return exc.strerror or str(exc)
    os.close(fd)
    os.unlink(trial)
    return None


def _train_natural(data: list[str], target: Path, force: bool, quiet: bool, options: dict,
                   digits_error: BBZError) -> int:
    """Images that are not 28x28 digits: a natural-image model (bbzip/training/natural_train.py)."""
    from bbzip import fileio
    from bbzip.natural.images import load_images

    try:
        images = load_images(data)
    except BBZError:
        raise digits_error from None
    try:
        from bbzip.training.natural_train import train_natural_model  # torch: only now
    except ImportError as exc:
        _say(f"training needs torch ({exc.name} is missing): pip install 'bbzip[train]'")
        return 1
    minutes = options.get("minutes") or 30.0
    log = (lambda *args, **kwargs: None) if quiet else (lambda text, **kwargs: _say(text))
    try:
        model, config = train_natural_model(images, target.stem, minutes, seed=options.get("seed", 0),
                                            validation=options.get("validation", 0.1), log=log)
    except ValueError as exc:
        _say(str(exc))
        return 1
    with fileio.atomic_output(str(target), overwrite=force) as f:
        f.write(model)
    if not quiet:
        rate = (config.get("evaluation") or {}).get("bits_per_pixel")
        _say(f"wrote {target}: natural-image model, {len(model):,} bytes, frozen rate "
             f"{rate if rate is not None else '-'} bits/subpixel on held-out images")
    return 0


class _TrainingBar:
    """tqdm over the training budget (percent), showing the latest train/validation rate."""

    def __init__(self) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=100, desc="training", unit="%", file=sys.stderr, dynamic_ncols=True,
                        bar_format="{l_bar}{bar}| {elapsed}<{remaining} {postfix}")
        self.shown = 0
        self.valid = None

    def step(self, step: int, frac: float, bpp: float) -> None:
        done = min(100, int(frac * 100))
        if done > self.shown:
            self.bar.update(done - self.shown)
            self.shown = done
        if step % 20 == 0:
            self._postfix(train=f"{bpp:.4f}")

    def epoch(self, epoch: int, bpp: float, seconds: float) -> None:
        self.valid = bpp
        self._postfix()

    def _postfix(self, **extra) -> None:
        if self.valid is not None:
            extra["valid bits/px"] = f"{self.valid:.4f}"
        self.bar.set_postfix(extra, refresh=False)

    def close(self) -> None:
        self.bar.update(100 - self.shown)
        self.bar.close()


def _print_summary(result, target: Path) -> None:
    from rich.table import Table

    table = Table(title=f"model {result.name}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    rows = [
        ("file", f"{target} ({len(result.data):,} bytes)"),
        ("model ID", result.model_id),
        ("likelihood", result.likelihood),
        ("images", f"{result.train_images:,} training, {result.valid_images:,} validation"),
        ("best epoch", f"{result.best_epoch} ({result.steps:,} steps)"),
        ("time", f"{result.seconds:.1f} s"),
        ("float ELBO", f"{result.float_elbo:.4f} bits/pixel (validation)"),
        ("frozen model", f"{result.coded_bpp:.4f} bits/pixel, coded ({result.coded_images:,} validation images)"),
        ("use", f"bbzip compress --model {target} FILE"),
    ]
    for key, value in rows:
        table.add_row(key, value)
    console(sys.stderr).print(table)


@click.command("models", context_settings=_CONTEXT)
@click.option("--model", "extra", multiple=True, type=click.Path(exists=True, dir_okay=False),
              metavar="FILE", help="Also list this model file.")
def models_command(extra) -> int:
    """List the models bbzip can find: shipped, in $BBZIP_MODEL_PATH, in the user directory."""
    from rich.table import Table

    from bbzip.modelfile import PATH_ENV, user_dir
    from bbzip.vae.model import installed_models

    rows = installed_models(tuple(extra))
    table = Table(title="bbzip models", title_justify="left")
    for column in ("name", "id", "input", "likelihood", "bits/pixel", "measured on", "where"):
        table.add_column(column, justify="right" if column == "bits/pixel" else "left")
    for row in rows:
        shape = "x".join(map(str, row.input_shape)) if row.input_shape else "?"
        rate = "-" if row.bits_per_pixel is None else f"{row.bits_per_pixel:.4f}"
        where = row.source if not row.problem else f"{row.source}: UNUSABLE: {row.problem}"
        table.add_row(row.name, row.model_id[:16], shape, row.likelihood, rate, row.rate_on, where)
    out = console(sys.stdout)
    out.print(table)
    out.print(f"search path: shipped, ${PATH_ENV}, {user_dir()}, --model")
    return 1 if any(row.problem for row in rows) else 0
