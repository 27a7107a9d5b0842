"""`manage.py benchmark WHAT ...`: benchmarks that print JSON (see the README's Benchmarks)."""

import json

from django.core.management.base import BaseCommand

from bench import fairness, pages, search, sync

BENCHMARKS = {
    "sync": (sync, "user matching at scale: full and incremental, against the floor and a naive script"),
    "fairness": (fairness, "many tenants on few workers, two of them throttled"),
    "search": (search, "Confluence in Microsoft Search: full crawl and incremental against the floor"),
    "pages": (pages, "each page's queries and median time on a big organization against an empty one"),
}


class Command(BaseCommand):
    help = (
        "Benchmarks: `benchmark sync --users 100000` (user matching against the floor and a naive script), "
        "`benchmark pages --connections 10000 --audit-events 1000000` (pages at scale)."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="what", required=True)
        for name, (module, text) in BENCHMARKS.items():
            module.add_arguments(sub.add_parser(name, help=text))

    def handle(self, *args, what, **options):
        module, _ = BENCHMARKS[what]
        result = module.run(self, **options)
        if result is not None:
            self.stdout.write(json.dumps(result, indent=2))
