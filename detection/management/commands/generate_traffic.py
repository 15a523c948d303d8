"""``python manage.py generate_traffic OUT_DIR [--seed N] [--scale X] [--preset reported]``
(a public contract).

Writes a synthetic, labelled data set in the ingest format: accounts and exchanges
(``.jsonl.gz``, or ``.csv.gz`` with ``--format csv``), ``labels.jsonl`` and ``manifest.json``.
Scale 1.0 is a few thousand accounts and over half a million exchanges; counts grow linearly.
``--preset reported`` is the published campaigns' scale instead (about 124,000 accounts and
28 million exchanges), and ``--scale`` a fraction of it. The same seed, scale and preset always
give the same files.
"""

import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from detection.synthetic import generate
from detection.synthetic.generate import PRESETS


class Command(BaseCommand):
    help = "Write a synthetic, labelled data set in the ingest format (see docs/synthetic-data.md)."

    def add_arguments(self, parser):
        parser.add_argument("out_dir", help="folder to write into (created if missing)")
        parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
        parser.add_argument(
            "--scale",
            type=float,
            default=1.0,
            help="1.0 = a few thousand accounts and 500k+ exchanges; counts grow linearly",
        )
        parser.add_argument("--format", choices=["jsonl", "csv"], default="jsonl", dest="fmt")
        parser.add_argument(
            "--preset",
            choices=sorted(PRESETS),
            help="the published campaigns' scale (docs/synthetic-data.md); --scale is then a "
            "fraction of it (1.0 = about 28 million exchanges)",
        )
        parser.add_argument(
            "--vary",
            action="store_true",
            help="fleets and companies of varied shapes drawn per seed from wide ranges "
            'instead of the fixed kinds (docs/synthetic-data.md, "Varied shapes")',
        )

    def handle(self, *args, out_dir, seed, scale, fmt, preset=None, vary=False, **options):
        if not 0 < scale <= 1000:
            raise CommandError("--scale must be greater than 0 and at most 1000")
        if preset and scale > 10:
            raise CommandError("with --preset, --scale is a fraction of it: at most 10")
        if preset and vary:
            raise CommandError("--vary and --preset cannot be combined")
        if seed < 0:
            raise CommandError("--seed must be a non-negative integer")
        out = Path(out_dir)
        if out.exists() and not out.is_dir():
            raise CommandError(f"{out} exists and is not a folder")
        started = time.perf_counter()
        show = sys.stderr.isatty() and options.get("verbosity", 1) > 0
        with tqdm(desc="exchanges", unit=" rows", unit_scale=True, disable=not show) as bar:

            def progress(done: int) -> None:
                bar.update(done - bar.n)

            manifest = generate(
                out, seed=seed, scale=scale, fmt=fmt, progress=progress, preset=preset, vary=vary
            )
        totals = manifest["totals"]
        self.stdout.write(
            f"wrote {totals['accounts']:,} accounts and {totals['exchanges']:,} exchanges "
            f"({totals['malicious_accounts']:,} accounts in "
            f"{len(manifest['campaigns'])} campaigns) "
            f"to {out} in {time.perf_counter() - started:.1f} s"
        )
        for name, info in manifest["cohorts"].items():
            self.stdout.write(
                f"  {name:<20} {info['accounts']:>7,} accounts {info['exchanges']:>10,} exchanges"
            )
