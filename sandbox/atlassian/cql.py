"""A small CQL (Confluence Query Language) parser into Django Q objects, enough for what the
portal asks: type, space, lastModified / created comparisons, title ~ / =, text ~, AND / OR /
NOT, parentheses, IN lists and ORDER BY."""

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from django.db.models import Q

_TOKEN = re.compile(r'\s*(?:(\()|(\))|(,)|("(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')|(>=|<=|!=|!~|=|~|>|<)|([\w.:/-]+))')
_DATE_FORMATS = ("%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M", "%Y/%m/%d", "%Y-%m-%d")
_FIELDS = {"lastmodified": "modified_at", "created": "created_at"}


class CQLError(ValueError):
    pass


def _tokens(text):
    pos, out = 0, []
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise CQLError(f"unexpected character at {pos}")
        lparen, rparen, comma, quoted, op, word = match.groups()
        if quoted:
            out.append(("value", quoted[1:-1].replace('\\"', '"').replace("\\'", "'")))
        elif op:
            out.append(("op", op))
        elif word:
            out.append(("word", word))
        else:
            out.append(("punct", lparen or rparen or comma))
        pos = match.end()
    return out


def _date(value, zone=UTC):
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=zone)
        except ValueError:
            continue
    raise CQLError(f"not a date: {value}")


class _Parser:
    def __init__(self, tokens, zone=UTC):
        self.tokens, self.i, self.zone = tokens, 0, zone

    def peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else (None, None)

    def take(self):
        token = self.peek()
        self.i += 1
        return token

    def keyword(self, word):
        kind, value = self.peek()
        return kind == "word" and value.lower() == word

    def expression(self):
        left = self.conjunction()
        while self.keyword("or"):
            self.take()
            left = left | self.conjunction()
        return left

    def conjunction(self):
        left = self.unary()
        while self.keyword("and"):
            self.take()
            left = left & self.unary()
        return left

    def unary(self):
        if self.keyword("not"):
            self.take()
            return ~self.unary()
        if self.peek() == ("punct", "("):
            self.take()
            inner = self.expression()
            if self.take() != ("punct", ")"):
                raise CQLError("missing )")
            return inner
        return self.clause()

    def values(self):
        kind, value = self.take()
        if (kind, value) == ("punct", "("):
            items = []
            while True:
                kind, value = self.take()
                if kind not in ("value", "word"):
                    raise CQLError("bad list")
                items.append(value)
                sep = self.take()
                if sep == ("punct", ")"):
                    return items
                if sep != ("punct", ","):
                    raise CQLError("bad list")
        if kind not in ("value", "word"):
            raise CQLError("value expected")
        return [value]

    def clause(self):
        kind, field = self.take()
        if kind != "word":
            raise CQLError("field expected")
        field = field.lower()
        kind, op = self.take()
        negate = False
        if kind == "word" and op.lower() == "not" and self.keyword("in"):
            self.take()
            op, negate = "in", True
        elif kind == "word" and op.lower() == "in":
            op = "in"
        elif kind != "op":
            raise CQLError(f"operator expected after {field}")
        values = self.values()
        if op in ("!=", "!~"):
            negate, op = True, op[1]
        q = self.condition(field, op, values)
        return ~q if negate else q

    def condition(self, field, op, values):
        if field == "type":
            return Q(type__in=[v.lower() for v in values])
        if field == "space" or field == "space.key":
            return Q(space__key__in=values)
        if field == "id" or field == "content":
            return Q(page_id__in=[int(v) for v in values if v.isdigit()])
        if field in ("title", "text"):
            if op == "~":
                q = Q(title__icontains=values[0].strip("*"))
                return q | Q(body__icontains=values[0].strip("*")) if field == "text" else q
            return Q(title__in=values)
        if field in _FIELDS:
            column, when = _FIELDS[field], _date(values[0], self.zone)
            lookup = {">=": "gte", ">": "gt", "<=": "lte", "<": "lt", "=": "date"}.get(op)
            if lookup is None:
                raise CQLError(f"operator {op} not supported for {field}")
            return Q(**{f"{column}__{lookup}": when.date() if lookup == "date" else when})
        raise CQLError(f"unsupported field {field}")


def parse(text, time_zone="UTC"):
    """(Q, order_by fields) for a CQL string; date literals are in `time_zone` (the caller's)."""
    text = text or ""
    order = ["page_id"]
    match = re.search(r"\border\s+by\s+(\w+)(?:\s+(asc|desc))?\s*$", text, re.IGNORECASE)
    if match:
        column = {"lastmodified": "modified_at", "created": "created_at", "title": "title"}.get(match.group(1).lower())
        if column is None:
            raise CQLError("unsupported order by")
        order = [("-" if (match.group(2) or "").lower() == "desc" else "") + column, "page_id"]
        text = text[: match.start()]
    if not text.strip():
        raise CQLError("empty query")
    try:
        zone = ZoneInfo(time_zone or "UTC")
    except (ValueError, KeyError):
        zone = ZoneInfo("UTC")
    parser = _Parser(_tokens(text), zone)
    q = parser.expression()
    if parser.i != len(parser.tokens):
        raise CQLError("unexpected trailing text")
    return q, order
