"""`manage.py data_statement [--format md|json] [--connection ID]`: the data-handling statement,
generated from the permission catalog, the endpoint declarations and the settings."""

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from connections import statement
from connections.models import Connection


class Command(BaseCommand):
    help = "Print the data-handling statement (Markdown or JSON), for the portal or one connection."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=("md", "json"), default="md")
        parser.add_argument("--connection", type=int, help="Only this connection's features.")

    def handle(self, *args, **options) -> None:
        keys = None
        if options.get("connection"):
            found = Connection.objects.filter(pk=options["connection"]).first()
            if found is None:
                raise CommandError(f"No connection with id {options['connection']}.")
            keys = list(found.features)
        data = statement.build(keys)
        if options["format"] == "json":
            self.stdout.write(json.dumps(data, indent=2, ensure_ascii=False))
        else:
            self.stdout.write(statement.markdown(data))
