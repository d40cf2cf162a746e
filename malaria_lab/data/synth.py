"""Synthetic blood-smear cell crops: an offline, deterministic stand-in for the NIH malaria data.

Each image is one roundish stained red cell on a black background, named like the NIH crops
(``C<n>P<m>ThinF_IMG_<date>_<time>_cell_<k>.png``) so ``patient_id`` groups it. Every patient
has its own stain, cell shapes (a few jittered templates), parasite style and slide artefacts,
so, as on the real data, a random image-level split scores higher than a patient-level one.
"""

import json
import math
import os
import secrets
import shutil
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter
from tqdm.auto import tqdm

from ..errors import MalariaLabError
from ..outputs import check_out_dir
from .layout import CLASSES

SYNTH_VERSION = 1
MANIFEST = ".synth.json"
# The synthetic sets the project makes by itself, named for who uses them (``malaria-lab synth``
# makes any other): the notebooks' data when nothing was downloaded (20 patients, so that
# validation and test get a few each), and ``malaria-lab run``'s data when it is given none.
COURSE_SYNTHETIC = dict(per_class=360, patients=20, seed=0)
RUN_SYNTHETIC = dict(per_class=1000, patients=20, seed=0)
MIN_SIZE, MAX_SIZE = 60, 150

_PINK = np.array([212.0, 148.0, 158.0])
_ORANGE = np.array([222.0, 150.0, 118.0])
_VIOLET = np.array([188.0, 138.0, 186.0])
_PURPLE = np.array([88.0, 30.0, 122.0])
_MAGENTA = np.array([125.0, 28.0, 105.0])
_BLUE_VIOLET = np.array([62.0, 38.0, 138.0])
_DUST = np.array([58.0, 50.0, 56.0])
_PIGMENT = np.array([70.0, 45.0, 30.0])


def synthesize(out, per_class=300, patients=8, seed=0, progress=False):
    """Write ``out/cell_images/{Parasitized,Uninfected}/*.png`` and return ``out/cell_images``.

    ``per_class`` images per class in total, spread over ``patients`` patients (about a quarter
    of them uninfected-only). Same arguments give byte-identical files. The folder appears
    whole or not at all; an existing non-empty one is reused only if synth made it with the
    same arguments, and never overwritten.
    """
    _check_args(per_class, patients, seed)
    args = {
        "generator": "malaria_lab.data.synth",
        "version": SYNTH_VERSION,
        "per_class": int(per_class),
        "patients": int(patients),
        "seed": int(seed),
    }
    out = Path(out)
    target = out / "cell_images"
    if _already_made(target, args):
        return target
    check_out_dir(out, "--out")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as err:
        raise MalariaLabError(f"Cannot make the folder {out}: {err}.", "Give a folder path.")
    tmp = out / f".cell_images.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    tmp.mkdir()
    try:
        _write_images(tmp, per_class, patients, seed, progress)
        (tmp / MANIFEST).write_text(json.dumps(args, indent=2) + "\n", encoding="utf-8")
        if target.is_dir() and not any(target.iterdir()):
            target.rmdir()
        try:
            os.rename(tmp, target)
        except OSError:
            if _already_made(target, args):  # a concurrent run with the same arguments won
                return target
            raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return target


def _check_args(per_class, patients, seed):
    for name, value in (("per_class", per_class), ("patients", patients), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise MalariaLabError(
                f"synth: {name} must be a whole number, got {value!r}.",
                f"Pass an integer {name}, e.g. per_class=300, patients=8, seed=0.",
            )
    if per_class < 1:
        raise MalariaLabError(
            f"synth: per_class must be at least 1, got {per_class}.",
            "Ask for at least one image per class (300 is a good classroom size).",
        )
    if patients < 3:
        raise MalariaLabError(
            f"synth: patients must be at least 3, got {patients}.",
            "A patient-level train/validation/test split needs at least 3 patients; use 8 or more.",
        )
    if seed < 0:
        raise MalariaLabError(
            f"synth: seed must be 0 or more, got {seed}.", "Pass a non-negative seed, e.g. 0."
        )


def _already_made(target, args):
    """True if ``target`` holds synth's output for ``args``; raise if it holds anything else."""
    if not target.exists():
        return False
    if not target.is_dir():
        raise MalariaLabError(
            f"{target} exists and is not a folder.",
            "Choose another --out folder; synth never overwrites existing files.",
        )
    if not any(target.iterdir()):
        return False
    try:
        made = json.loads((target / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        made = None
    if made == args:
        return True
    what = (
        f"synthetic data made with {_describe(made)}"
        if isinstance(made, dict) and made.get("generator") == args["generator"]
        else "files synth did not make"
    )
    raise MalariaLabError(
        f"{target} already exists and holds {what}, not per_class={args['per_class']}, "
        f"patients={args['patients']}, seed={args['seed']}.",
        "Choose another --out folder, or move that folder away yourself; "
        "synth never overwrites or deletes existing files.",
    )


def _describe(made):
    keys = ("per_class", "patients", "seed", "version")
    return ", ".join(f"{k}={made.get(k)}" for k in keys)


def _write_images(root, per_class, patients, seed, progress):
    for name in CLASSES:
        (root / name).mkdir()
    plan = _plan(per_class, patients, seed)
    bar = None
    if progress:
        bar = tqdm(total=2 * per_class, desc="synth", unit="img")
    for p, (prefix, n_par, n_uni) in enumerate(plan):
        style = _patient_style(np.random.default_rng([seed, p, 0]))
        names = _cell_names(np.random.default_rng([seed, p, 1]), prefix, n_par + n_uni)
        for c in range(n_par + n_uni):
            infected = c < n_par
            rng = np.random.default_rng([seed, p, 2, c])
            img = Image.fromarray(_render_cell(rng, style, infected))
            path = root / CLASSES[0 if infected else 1] / names[c]
            img.save(path, format="PNG", compress_level=1)
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()


def _plan(per_class, patients, seed):
    """[(patient prefix, parasitized count, uninfected count)]: uneven, ~1/4 uninfected-only."""
    rng = np.random.default_rng([seed, 1 << 20])
    n_clean = max(1, round(patients / 4))
    clean = set(rng.choice(patients, n_clean, replace=False).tolist())
    infected = [p for p in range(patients) if p not in clean]
    par = _spread(rng, per_class, len(infected))
    uni = _spread(rng, per_class, patients)
    codes = rng.choice(np.arange(33, 200), patients, replace=False)
    slides = rng.choice(np.arange(1, 160), patients, replace=False)
    par_of = dict(zip(infected, par))
    return [
        (f"C{codes[p]}P{slides[p]}ThinF", par_of.get(p, 0), uni[p]) for p in range(patients)
    ]


def _spread(rng, total, parts):
    """Split ``total`` into ``parts`` uneven counts, each at least 1 when there is enough."""
    weights = rng.dirichlet(np.full(parts, 3.0))
    floor = 1 if total >= parts else 0
    counts = np.full(parts, floor) + np.floor(weights * (total - floor * parts)).astype(int)
    for i in np.argsort(-weights)[: total - counts.sum()]:
        counts[i] += 1
    return counts.tolist()


def _cell_names(rng, prefix, n):
    """NIH-style names: a patient's cells grouped into timed field images, numbered within each."""
    day = np.datetime64("2015-06-01") + int(rng.integers(0, 240))
    date = str(day).replace("-", "")
    seconds = int(rng.integers(9 * 3600, 15 * 3600))
    names = []
    while len(names) < n:
        size = min(n - len(names), int(rng.integers(8, 45)))
        stamp = f"{seconds // 3600:02d}{seconds // 60 % 60:02d}{seconds % 60:02d}"
        numbers = np.sort(rng.choice(np.arange(1, 3 * size + 30), size, replace=False))
        names += [f"{prefix}_IMG_{date}_{stamp}_cell_{k}.png" for k in numbers]
        seconds += int(rng.integers(20, 400))
    order = rng.permutation(n)
    return [names[i] for i in order]


def _tint(rng, base, toward, spread):
    """``base`` moved a random amount toward one of two colours."""
    t = rng.uniform(-1, 1) * spread
    return base + (toward[0] - base) * max(t, 0) + (toward[1] - base) * max(-t, 0)


def _patient_style(rng):
    """Everything one patient's slide shares: stain, cell shapes, parasite look, artefacts."""
    bright = rng.uniform(0.72, 1.08)
    stain = _tint(rng, _PINK, (_ORANGE, _VIOLET), 0.8) * bright
    sat = rng.uniform(0.7, 1.25)
    stain = np.clip(stain.mean() + sat * (stain - stain.mean()), 20, 250)
    par_colour = _tint(rng, _PURPLE, (_MAGENTA, _BLUE_VIOLET), 0.6) * rng.uniform(0.7, 1.15)
    templates = [_template(rng) for _ in range(int(rng.integers(3, 7)))]
    kinds = rng.dirichlet([0.7, 0.7, 0.7, 0.4])
    return {
        "stain": stain,
        "size": rng.uniform(100, 140),
        "templates": templates,
        "tex_amp": rng.uniform(0.02, 0.07),
        "grain": rng.uniform(1.0, 6.0),
        "blur": rng.uniform(0.0, 1.3),
        "par_colour": np.clip(par_colour, 10, 220),
        "par_kinds": kinds,
        "par_count": rng.uniform(0.0, 1.2),
        "par_scale": rng.uniform(0.8, 1.4),
        "par_opacity": rng.uniform(0.75, 1.0),
        "faint": rng.uniform(0.0, 0.4),
        "inf_size": rng.uniform(1.0, 1.12),
        "inf_pale": rng.uniform(0.0, 0.1),
        "platelet_rate": rng.uniform(0.0, 0.4),
        "platelet_colour": np.clip(par_colour + rng.uniform(10, 70), 10, 235),
        "blotch_rate": rng.uniform(0.0, 0.3),
        "dust_rate": rng.uniform(0.0, 0.4),
    }


def _template(rng):
    """One recurring cell look: outline harmonics, aspect, texture field, rim and pallor."""
    return {
        "harm": rng.normal(0, [0.05, 0.025, 0.015, 0.01]),
        "phase": rng.uniform(0, 2 * np.pi, 4),
        "aspect": math.exp(rng.normal(0, 0.09)),
        "texture": rng.normal(0, 1, (6, 6)),
        "rim": rng.uniform(0.0, 0.3),
        "rim_width": rng.uniform(2.0, 7.0),
        "pallor": rng.uniform(-0.08, 0.15),
    }


def _smooth(grid, h, w):
    """A small random grid stretched smoothly over an h x w image."""
    img = Image.fromarray(np.ascontiguousarray(grid, dtype=np.float32))
    return np.asarray(img.resize((w, h), Image.BICUBIC), dtype=np.float32)


def _outline(harm, phase, theta):
    """Relative radius of a slightly irregular outline at angles ``theta``."""
    return 1 + sum(c * np.cos(k * theta - f) for k, c, f in zip(range(2, 6), harm, phase))


class _Canvas:
    """A crop being painted: colour and coverage per pixel, plus the cell's outline."""

    def __init__(self, rng, h, w, harm, phase):
        self.rng, self.h, self.w = rng, h, w
        self.yy, self.xx = np.mgrid[0:h, 0:w].astype(np.float32)
        self.harm, self.phase = harm, phase
        probe = np.linspace(0, 2 * np.pi, 90, endpoint=False)
        self.r0 = rng.uniform(0.93, 0.99) / _outline(harm, phase, probe).max()

    def at(self, angle, r):
        """Pixel (y, x) at ``angle`` and relative radius ``r`` from the crop's centre."""
        y = (self.h - 1) / 2 + r * math.sin(angle) * self.h / 2
        return y, (self.w - 1) / 2 + r * math.cos(angle) * self.w / 2

    def inside(self, frac):
        """A random pixel within ``frac`` of the cell's radius."""
        angle = self.rng.uniform(0, 2 * np.pi)
        return self.at(angle, math.sqrt(self.rng.uniform()) * frac * self.r0)

    def on_edge(self):
        angle = self.rng.uniform(0, 2 * np.pi)
        edge = self.r0 * _outline(self.harm, self.phase, angle)
        return self.at(angle, edge * self.rng.uniform(0.85, 1.0))

    def spot(self, cy, cx, r):
        return np.exp(-((self.yy - cy) ** 2 + (self.xx - cx) ** 2) / (2 * r * r))

    def blend(self, layer, tint):
        layer = np.clip(layer, 0, 1)[..., None]
        self.colour = self.colour * (1 - layer) + tint * layer


def _render_cell(rng, style, infected):
    """One H x W x 3 uint8 crop: the cell, its parasites or artefacts, over black."""
    tpl = style["templates"][int(rng.integers(len(style["templates"])))]
    mean = style["size"] * (style["inf_size"] if infected else 1.0)
    size = float(np.clip(rng.normal(mean, 0.08 * mean), MIN_SIZE, MAX_SIZE))
    aspect = tpl["aspect"] * math.exp(rng.normal(0, 0.03))
    h = int(np.clip(round(size * math.sqrt(aspect)), MIN_SIZE, MAX_SIZE))
    w = int(np.clip(round(size / math.sqrt(aspect)), MIN_SIZE, MAX_SIZE))
    harm, phase = tpl["harm"] + rng.normal(0, 0.008, 4), tpl["phase"] + rng.normal(0, 0.2, 4)
    cv = _Canvas(rng, h, w, harm, phase)

    u, v = (cv.xx - (w - 1) / 2) / (w / 2), (cv.yy - (h - 1) / 2) / (h / 2)
    rho, theta = np.hypot(u, v), np.arctan2(v, u)
    radius = cv.r0 * _outline(cv.harm, cv.phase, theta)
    depth = (radius - rho) * min(h, w) / 2  # pixels inside the outline
    alpha = np.clip(depth / 1.6 + 0.5, 0, 1)
    shade = (
        1
        - tpl["rim"] * np.exp(-np.maximum(depth, 0) / tpl["rim_width"])
        + tpl["pallor"] * np.exp(-((rho / radius) / 0.45) ** 2)
        + style["tex_amp"] * _smooth(tpl["texture"] + rng.normal(0, 0.35, (6, 6)), h, w)
    )
    stain = style["stain"] * rng.uniform(0.96, 1.04, 3) * (1 + style["inf_pale"] * infected)
    cv.colour = shade[..., None] * stain

    scale = size / 130.0
    if rng.uniform() < style["blotch_rate"]:
        blob = cv.spot(*cv.inside(0.6), rng.uniform(6, 16) * scale)
        cv.blend(rng.uniform(0.1, 0.3) * blob, (style["par_colour"] + stain) / 2)
    if infected:
        faint = rng.uniform() < style["faint"]
        opacity = style["par_opacity"] * rng.uniform(*((0.3, 0.55) if faint else (0.8, 1.1)))
        for _ in range(1 + int(rng.poisson(style["par_count"]))):
            kind = int(rng.choice(4, p=style["par_kinds"]))
            cy, cx = cv.inside(0.72)
            layer = _parasite(cv, kind, cy, cx, style["par_scale"] * scale)
            cv.blend(opacity * layer, style["par_colour"] * rng.uniform(0.9, 1.1))
            if kind == 2 and rng.uniform() < 0.5:
                cv.blend(0.8 * cv.spot(cy + rng.normal(0, 2), cx + rng.normal(0, 2), 1.2), _PIGMENT)
    if rng.uniform() < style["dust_rate"]:
        for _ in range(int(rng.integers(1, 4))):
            cv.blend(rng.uniform(0.4, 0.9) * cv.spot(*cv.inside(0.9), rng.uniform(0.6, 1.4)), _DUST)
    if rng.uniform() < style["platelet_rate"]:
        lumpy = 1 + 0.3 * _smooth(rng.normal(0, 1, (4, 4)), h, w)
        blob = np.clip(1.6 * cv.spot(*cv.on_edge(), rng.uniform(2.0, 4.5) * scale) * lumpy, 0, 1)
        cv.blend(blob, style["platelet_colour"])
        alpha = np.maximum(alpha, np.clip((blob - 0.15) * 1.5, 0, 1))

    colour = np.clip(cv.colour, 0, 255).astype(np.uint8)
    if style["blur"] > 0.3:
        colour = np.asarray(Image.fromarray(colour).filter(ImageFilter.GaussianBlur(style["blur"])))
    noisy = colour + rng.normal(0, style["grain"], (h, w, 1)).astype(np.float32)
    return np.clip(noisy * alpha[..., None], 0, 255).astype(np.uint8)


def _parasite(cv, kind, cy, cx, scale):
    """Opacity map of one parasite: 0 chromatin dot, 1 ring, 2 trophozoite, 3 dot cluster."""
    rng = cv.rng
    if kind == 0:
        return 1.4 * cv.spot(cy, cx, rng.uniform(3.0, 5.5) * scale)
    if kind == 3:
        dots = [
            cv.spot(cy + rng.normal(0, 7 * scale), cx + rng.normal(0, 7 * scale), 2.6 * scale)
            for _ in range(int(rng.integers(3, 8)))
        ]
        return 1.3 * np.maximum.reduce(dots)
    d = np.hypot(cv.yy - cy, cv.xx - cx)
    angle = np.arctan2(cv.yy - cy, cv.xx - cx)
    if kind == 1:
        ring_r, width = rng.uniform(6.0, 13.0) * scale, rng.uniform(1.5, 2.8) * scale
        gap = rng.uniform(0, 2 * np.pi)
        ring = np.exp(-((d - ring_r) ** 2) / (2 * width**2)) * (0.65 + 0.35 * np.cos(angle - gap))
        dot = cv.spot(cy + ring_r * math.sin(gap), cx + ring_r * math.cos(gap), 3.0 * scale)
        return np.maximum(ring, 1.3 * dot)
    r = rng.uniform(9.0, 18.0) * scale
    lobes = 0.25 * np.cos(2 * angle - rng.uniform(0, 6.3))
    edge = r * (1 + lobes + 0.15 * np.cos(3 * angle - rng.uniform(0, 6.3)))
    body = np.clip((edge - d) / 2.0 + 0.5, 0, 1)
    mottle = 0.3 * _smooth(rng.normal(0, 1, (12, 12)), cv.h, cv.w)
    mottle += 0.08 * rng.normal(0, 1, d.shape)
    return body * rng.uniform(0.55, 0.85) * (1 + mottle)
