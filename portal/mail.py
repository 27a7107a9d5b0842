"""The console email backend for development and the demo, readable by a person.

Django's own console backend prints the raw MIME message: a subject such as
"acme ↔ Contoso" shows as "=?utf-8?b?...?=" and a body may be base64. This one prints the
headers decoded and the text body as text, which is all a developer reading the terminal needs
(an invitation link, a verification link)."""

from email.header import decode_header, make_header

from django.core.mail.backends.console import EmailBackend as ConsoleBackend


class ReadableConsoleBackend(ConsoleBackend):
    def write_message(self, message):
        msg = message.message()
        for name in ("Subject", "From", "To", "Cc", "Date"):
            if msg[name]:
                self.stream.write(f"{name}: {make_header(decode_header(str(msg[name])))}\n")
        self.stream.write("\n")
        self.stream.write(f"{message.body}\n")
        self.stream.write("-" * 79 + "\n")
