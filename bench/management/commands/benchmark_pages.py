"""`manage.py benchmark_pages --connections 10000 --audit-events 1000000`: the pages benchmark
(bench/pages.py) on its own; prints JSON (see the README's Benchmarks)."""

import json

from django.core.management.base import BaseCommand

from bench import pages


class Command(BaseCommand):
    help = "Pages at scale: each page's queries and median time on a big and an empty organization."

    def add_arguments(self, parser):
        pages.add_arguments(parser)

    def handle(self, *args, **options):
        self.stdout.write(json.dumps(pages.run(self, **options), indent=2))
